/**
 * What every command of the CLI shares: the world it runs in (`Environment`,
 * with `nodeEnvironment` the real one; tests pass another), its exit codes and
 * its two error types. Nothing here runs on import.
 */
import { dirname, extname, join } from "node:path"
import { fileURLToPath } from "node:url"
import packageJson from "../../../package.json" with { type: "json" }
import * as Schema from "effect/Schema"
import type * as Terminal from "./Terminal.ts"

/** The version `--version` prints: the package's. */
export const version: string = packageJson.version

/** Exit codes of the command (the program's own code for `run`). */
export const ExitCode = {
  ok: 0,
  badInput: 1,
  usage: 2,
  interrupted: 130
} as const

/** The command line was wrong in a way effect/cli cannot see (exit 2). */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

/** lineprof could not do what was asked with good arguments: a missing script, an unwritable output (exit 1). */
export class CommandError extends Schema.TaggedError<CommandError>()("CommandError", { message: Schema.String }) {}

/** The world the command runs in; `nodeEnvironment` gives the real one, tests may give another. */
export interface Environment {
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdout: Terminal.Stream
  readonly stderr: Terminal.Stream
  /** The Node binary that runs scripts (`process.execPath`). */
  readonly execPath: string
  /** Absolute path of the module `--import`ed into every profiled process and thread. */
  readonly registerPath: string
}

/**
 * The preload in ../record (it checks the Node version, then imports the
 * register module): `preload.ts` while running from src/, `preload.js` from
 * a built dist/ (same extension as this file).
 */
export const registerPath = (): string => {
  const here = fileURLToPath(import.meta.url)
  return join(dirname(here), "..", "record", `preload${extname(here)}`)
}

/** The real environment of this process. */
export const nodeEnvironment = (): Environment => ({
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  execPath: process.execPath,
  registerPath: registerPath()
})
