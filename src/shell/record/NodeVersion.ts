/**
 * The Node version lineprof needs (`module.registerHooks`, type stripping,
 * `@effect/platform-node`): checked first by the register module and by
 * profileAll. This module imports nothing, so it loads and runs on any Node,
 * even one on which the rest of lineprof cannot load.
 */

/** The oldest Node that runs lineprof. */
export const minimum = { major: 22, minor: 19 } as const

/** Whether `version` (`v22.19.0`, `22.19.0`) is at least `minimum`. */
export const isSupported = (version: string): boolean => {
  const match = /^v?(\d+)\.(\d+)/.exec(version)
  if (match === null) return false
  const major = Number(match[1])
  const minor = Number(match[2])
  return major > minimum.major || (major === minimum.major && minor >= minimum.minor)
}

/** One line saying the Node at `execPath` is too old, or undefined when it is recent enough. */
export const problem = (version: string = process.version, execPath: string = process.execPath): string | undefined =>
  isSupported(version) ? undefined : `lineprof needs Node >= ${minimum.major}.${minimum.minor} (found ${version}: ${execPath})`
