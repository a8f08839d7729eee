/**
 * What `lineprof run` adds to its "nothing recorded" warning when the command
 * was a test runner that loads modules itself (vitest, jest): the config line
 * that profiles them. Pure: looks at the command's words only.
 */

/** The hint for `commandLine` (the program and its arguments, as typed), or undefined when it runs no known test runner. */
export const runnerHint = (commandLine: string): string | undefined => {
  const names = commandLine.split(/\s+/).map((word) => word.split(/[\\/]/).at(-1) ?? word)
  if (names.some((name) => /^vitest(\.m?js)?$/.test(name))) {
    return `vitest runs test and source files itself: add lineprof's Vite plugin to vitest.config.ts (import lineprof from "lineprof/vite"; plugins: [lineprof()])`
  }
  if (names.some((name) => /^jest(\.c?js)?$/.test(name))) {
    return `jest loads test and source files itself: add lineprof's transform to jest.config.js (transform: { "\\\\.[cm]?[jt]sx?$": ["lineprof/jest", { transformer: "babel-jest" }] })`
  }
  return undefined
}
