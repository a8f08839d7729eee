/**
 * lineprof's settings for one process: which files to instrument, where stats
 * files go, how often they are flushed, and whether probe cost is compensated.
 * Read once from the environment (`fromEnv`), so that every thread and child
 * process started with lineprof's `--import` agrees; or built from options
 * (`make`) by the programmatic API. A bad value is a `ConfigError` whose
 * one-line message names the variable and the problem.
 *
 * | variable             | meaning                                   | default                    |
 * |----------------------|-------------------------------------------|----------------------------|
 * | LINEPROF_INCLUDE     | comma-separated globs of files to profile | files under the current dir|
 * | LINEPROF_EXCLUDE     | comma-separated globs never profiled      | `**\/node_modules/**` (1)  |
 * | LINEPROF_FUNCTIONS   | comma-separated globs of function names   | every function             |
 * | LINEPROF_SOURCE_MAPS | report in the sources a source map names  | on                         |
 * | LINEPROF_DIR         | folder that receives the stats files      | `.lineprof`                |
 * | LINEPROF_INTERVAL_MS | periodic flush interval                   | 1000                       |
 * | LINEPROF_COMPENSATE  | subtract the calibrated probe cost        | on                         |
 * | LINEPROF_TIMING      | `exact` or `sampled` line times           | exact                      |
 * | LINEPROF_SAMPLE_INTERVAL_US | sampled: mean µs between samples   | 1000                       |
 *
 * (1) The default exclude holds only while no include is given: an explicit
 * include (`node_modules/marked/**`) is profiled as named. An explicit exclude
 * still wins over the include; `LINEPROF_EXCLUDE=` (set, empty) excludes
 * nothing. Function globs match qualified names (`Parser.parse*`, `*Token*`):
 * only the functions named get probes, the rest of a file runs as written.
 *
 * Globs (effect/Glob's dialect, the one merge's folder search uses): `*` matches within a path segment, `**` across segments, `?` one
 * character, `{a,b}` alternatives, `[abc]` a class. A pattern that starts with
 * `**\/` matches anywhere; another relative pattern is anchored at the current
 * directory; an absolute pattern is matched as is. A pattern that matches a
 * folder matches every file below it (`src` is `src/**`).
 */
import * as Data from "effect/Data"
import type * as GlobModule from "effect/Glob"
import * as Result from "effect/Result"
import { createRequire } from "node:module"
import * as path from "node:path"

/**
 * effect/Glob, loaded on the first glob that needs it: it pulls in much of
 * effect (about 50 modules, 30 to 60 ms here), and every process the preload
 * reaches compiles its globs, most of them only a folder (`lineprof run`'s
 * default include) and `**\/node_modules/**`, which `compileGlob` matches
 * without it.
 */
let globModule: typeof GlobModule | undefined
const Glob = (): typeof GlobModule => (globModule ??= createRequire(import.meta.url)("effect/Glob") as typeof GlobModule)

/** The text of a glob without escapes when it has no wildcard, braces or class; else undefined. */
const literalOf = (glob: string): string | undefined => {
  let out = ""
  for (let k = 0; k < glob.length; k++) {
    const char = glob[k]!
    if (char === "\\") out += glob[++k] ?? ""
    else if ("*?[]{},".includes(char)) return undefined
    else out += char
  }
  return out
}

/** The resolved settings. Paths are absolute. */
export interface Config {
  /** The directory relative globs and `dir` were resolved against. */
  readonly cwd: string
  /** Globs of files to instrument; empty means every file under `cwd`. */
  readonly include: ReadonlyArray<string>
  /** Globs of files never instrumented (wins over include). */
  readonly exclude: ReadonlyArray<string>
  /** Globs of qualified function names to instrument; empty means every function. */
  readonly functions: ReadonlyArray<string>
  /** Report a file that has a source map in its original sources. */
  readonly sourceMaps: boolean
  /** Absolute folder that receives the stats files. */
  readonly dir: string
  /** Interval of the periodic flush that bounds what a SIGKILL loses. */
  readonly intervalMs: number
  /** Subtract the calibrated cost of the probes from the measured times. */
  readonly compensate: boolean
  /** How line times are measured: a clock read at each line event, or a sampler thread. */
  readonly timing: Timing
  /** Sampled timing: the mean interval between samples. */
  readonly sampleIntervalNs: number
}

/** How line times are measured (see Recorder.TimingMode). */
export type Timing = "exact" | "sampled"

/** Settings given by code; anything left out takes its default. */
export interface Options {
  readonly cwd?: string | undefined
  readonly include?: ReadonlyArray<string> | undefined
  /** Default: `defaultExclude` when no include is given, else nothing. */
  readonly exclude?: ReadonlyArray<string> | undefined
  readonly functions?: ReadonlyArray<string> | undefined
  readonly sourceMaps?: boolean | undefined
  readonly dir?: string | undefined
  readonly intervalMs?: number | undefined
  readonly compensate?: boolean | undefined
  readonly timing?: Timing | undefined
  readonly sampleIntervalNs?: number | undefined
}

/** A bad setting: `message` is one line naming the variable (or option) and the problem. */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly variable: string
  readonly value: string
  readonly problem: string
}> {
  constructor(args: { readonly variable: string; readonly value: string; readonly problem: string }) {
    super(args)
    this.message = `${args.variable}=${JSON.stringify(args.value)}: ${args.problem}`
  }
}

/** The names of the environment variables. */
export const Variables = {
  include: "LINEPROF_INCLUDE",
  exclude: "LINEPROF_EXCLUDE",
  functions: "LINEPROF_FUNCTIONS",
  sourceMaps: "LINEPROF_SOURCE_MAPS",
  dir: "LINEPROF_DIR",
  intervalMs: "LINEPROF_INTERVAL_MS",
  compensate: "LINEPROF_COMPENSATE",
  timing: "LINEPROF_TIMING",
  sampleIntervalUs: "LINEPROF_SAMPLE_INTERVAL_US"
} as const

export const defaultExclude: ReadonlyArray<string> = ["**/node_modules/**"]
export const defaultDir = ".lineprof"
export const defaultIntervalMs = 1000
/** The sampler's default mean interval (see Sampler.DEFAULT_INTERVAL_NS, where it was measured). */
export const defaultSampleIntervalNs = 1_000_000

/** Builds a config from options; fails on a glob that does not compile or a non-positive interval. */
export const make = (options: Options = {}): Result.Result<Config, ConfigError> => {
  const cwd = path.resolve(options.cwd ?? process.cwd())
  const include = options.include ?? []
  const exclude = options.exclude ?? (include.length === 0 ? defaultExclude : [])
  const functions = options.functions ?? []
  for (const [variable, globs] of [["include", include], ["exclude", exclude], ["functions", functions]] as const) {
    for (const glob of globs) {
      const problem = globProblem(glob)
      if (problem !== undefined) return Result.fail(new ConfigError({ variable, value: glob, problem }))
    }
  }
  const intervalMs = options.intervalMs ?? defaultIntervalMs
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    return Result.fail(
      new ConfigError({ variable: "intervalMs", value: String(intervalMs), problem: "expected a positive number of milliseconds" })
    )
  }
  return Result.succeed({
    cwd,
    include,
    exclude,
    functions,
    sourceMaps: options.sourceMaps ?? true,
    dir: path.resolve(cwd, options.dir ?? defaultDir),
    intervalMs,
    compensate: options.compensate ?? true,
    timing: options.timing ?? "exact",
    sampleIntervalNs: options.sampleIntervalNs ?? defaultSampleIntervalNs
  })
}

/** LINEPROF_TIMING and LINEPROF_SAMPLE_INTERVAL_US of `env`; unset or empty variables take their defaults. */
export const timingFromEnv = (
  env: NodeJS.ProcessEnv
): Result.Result<{ readonly timing: Timing; readonly sampleIntervalNs: number }, ConfigError> => {
  const timingText = present(env, Variables.timing)
  const timing = timingText?.trim().toLowerCase() ?? "exact"
  if (timing !== "exact" && timing !== "sampled") {
    return Result.fail(new ConfigError({ variable: Variables.timing, value: timingText!, problem: "expected exact or sampled" }))
  }
  const intervalText = present(env, Variables.sampleIntervalUs)
  let sampleIntervalNs = defaultSampleIntervalNs
  if (intervalText !== undefined) {
    sampleIntervalNs = Number(intervalText) * 1000
    if (!/^\s*\d+(\.\d+)?\s*$/.test(intervalText) || !(sampleIntervalNs > 0)) {
      return Result.fail(
        new ConfigError({ variable: Variables.sampleIntervalUs, value: intervalText, problem: "expected a positive number of microseconds" })
      )
    }
  }
  return Result.succeed({ timing, sampleIntervalNs })
}

/** Splits a comma-separated list of globs on the commas that are neither escaped nor inside `{...}`. */
export const splitGlobs = (value: string): Array<string> => {
  const globs: Array<string> = []
  let braces = 0
  let start = 0
  for (let k = 0; k < value.length; k++) {
    const char = value[k]
    if (char === "\\") k++
    else if (char === "{") braces++
    else if (char === "}") braces--
    else if (char === "," && braces <= 0) {
      globs.push(value.slice(start, k))
      start = k + 1
    }
  }
  globs.push(value.slice(start))
  return globs.map((glob) => glob.trim()).filter((glob) => glob !== "")
}

const parseSwitch = (value: string): boolean | undefined => {
  const lower = value.trim().toLowerCase()
  if (["1", "true", "on", "yes"].includes(lower)) return true
  if (["0", "false", "off", "no"].includes(lower)) return false
  return undefined
}

const present = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const value = env[name]
  return value === undefined || value.trim() === "" ? undefined : value
}

/** Reads the LINEPROF_* variables of `env`; unset or empty variables take their defaults. */
export const fromEnv = (env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Result.Result<Config, ConfigError> => {
  const include = present(env, Variables.include)
  // Set and empty is "exclude nothing", unset is the default.
  const exclude = env[Variables.exclude]
  const functions = present(env, Variables.functions)
  for (const [variable, value] of [[Variables.include, include], [Variables.exclude, exclude], [Variables.functions, functions]] as const) {
    if (value === undefined) continue
    for (const glob of splitGlobs(value)) {
      const problem = globProblem(glob)
      if (problem !== undefined) return Result.fail(new ConfigError({ variable, value, problem: `glob ${JSON.stringify(glob)}: ${problem}` }))
    }
  }
  const intervalText = present(env, Variables.intervalMs)
  let intervalMs = defaultIntervalMs
  if (intervalText !== undefined) {
    intervalMs = Number(intervalText)
    if (!/^\s*\d+(\.\d+)?\s*$/.test(intervalText) || !(intervalMs > 0)) {
      return Result.fail(
        new ConfigError({ variable: Variables.intervalMs, value: intervalText, problem: "expected a positive number of milliseconds" })
      )
    }
  }
  const compensateText = present(env, Variables.compensate)
  let compensate = true
  if (compensateText !== undefined) {
    const parsed = parseSwitch(compensateText)
    if (parsed === undefined) {
      return Result.fail(
        new ConfigError({ variable: Variables.compensate, value: compensateText, problem: "expected on/off, true/false, yes/no or 1/0" })
      )
    }
    compensate = parsed
  }
  const sourceMapsText = present(env, Variables.sourceMaps)
  const sourceMaps = sourceMapsText === undefined ? true : parseSwitch(sourceMapsText)
  if (sourceMaps === undefined) {
    return Result.fail(
      new ConfigError({ variable: Variables.sourceMaps, value: sourceMapsText!, problem: "expected on/off, true/false, yes/no or 1/0" })
    )
  }
  const timing = timingFromEnv(env)
  if (Result.isFailure(timing)) return Result.fail(timing.failure)
  return make({
    ...timing.success,
    cwd,
    include: include === undefined ? [] : splitGlobs(include),
    exclude: exclude === undefined ? undefined : splitGlobs(exclude),
    functions: functions === undefined ? [] : splitGlobs(functions),
    sourceMaps,
    dir: present(env, Variables.dir) ?? defaultDir,
    intervalMs,
    compensate
  })
}

/**
 * The environment that makes child processes started from here use the same
 * settings whatever their working directory: globs and folder made absolute.
 */
export const toEnv = (config: Config): Record<string, string> => ({
  [Variables.include]: (config.include.length === 0 ? [escapeGlob(toPosix(config.cwd))] : config.include.map((glob) => anchor(config.cwd, glob))).join(","),
  [Variables.exclude]: config.exclude.map((glob) => anchor(config.cwd, glob)).join(","),
  [Variables.functions]: config.functions.join(","),
  [Variables.sourceMaps]: config.sourceMaps ? "1" : "0",
  [Variables.dir]: config.dir,
  [Variables.intervalMs]: String(config.intervalMs),
  [Variables.compensate]: config.compensate ? "1" : "0",
  [Variables.timing]: config.timing,
  [Variables.sampleIntervalUs]: String(config.sampleIntervalNs / 1000)
})

// ---------------------------------------------------------------------------
// Globs

/** Escapes the characters that globs give a meaning to, so that a literal path (a cwd, a file) is a glob matching itself (a folder: every file below it). */
export const escapeGlob = (text: string): string => text.replace(/[*?{}[\],\\]/g, "\\$&")

const anchor = (cwd: string, glob: string): string =>
  path.isAbsolute(glob) || glob.startsWith("**/") || glob === "**"
    ? glob
    : `${escapeGlob(toPosix(cwd)).replace(/\/$/, "")}/${glob.replace(/^\.\//, "")}`

/** Why a glob does not compile, or undefined. */
const globProblem = (glob: string): string | undefined => {
  let braces = 0
  for (let k = 0; k < glob.length; k++) {
    const char = glob[k]
    if (char === "\\") k++
    else if (char === "{") braces++
    else if (char === "}") {
      if (--braces < 0) return "unbalanced }"
    } else if (char === "[") {
      const close = glob.indexOf("]", k + 2)
      if (close < 0) return "unclosed ["
      k = close
    }
  }
  if (braces !== 0) return "unclosed {"
  return undefined
}

const toPosix = (file: string): string => (path.sep === "/" ? file : file.split(path.sep).join("/"))

/**
 * One glob (anchored) as a test of `/`-separated absolute paths: the glob
 * itself or, as a folder, anything below it. Paths are matched without
 * their leading `/`, so that `**\/x` (relative) matches anywhere.
 */
const compileGlob = (cwd: string, glob: string): ((posixPath: string) => boolean) => {
  // A trailing slash names a folder, which matches what is below it anyway.
  const anchored = toPosix(anchor(cwd, glob)).replace(/(.)\/+$/, "$1").replace(/^\/+/, "")
  // Two shapes that need no glob engine (what the engine answers too): a path, and `**/name/**`.
  const literal = literalOf(anchored)
  if (literal !== undefined) return (posixPath) => posixPath === literal || posixPath.startsWith(`${literal}/`)
  const segment = /^\*\*\/([^/]+)\/\*\*$/.exec(anchored)
  const name = segment === null ? undefined : literalOf(segment[1]!)
  if (name !== undefined && name !== "" && name !== "." && name !== "..") {
    return (posixPath) => posixPath === name || posixPath.startsWith(`${name}/`) || posixPath.includes(`/${name}/`) || posixPath.endsWith(`/${name}`)
  }
  const engine = Glob()
  const itself = engine.make(anchored, { dot: true })
  const below = engine.make(`${anchored}/**`, { dot: true })
  return (posixPath) => engine.match(itself, posixPath) || engine.match(below, posixPath)
}

/** Whether an absolute file path is selected: under an include (or under `cwd` when there is none) and under no exclude. */
export const makeMatcher = (config: Config): ((file: string) => boolean) => {
  const include = config.include.map((glob) => compileGlob(config.cwd, glob))
  const exclude = config.exclude.map((glob) => compileGlob(config.cwd, glob))
  const cwdPrefix = toPosix(config.cwd).replace(/\/$/, "") + "/"
  return (file) => {
    const posix = toPosix(file)
    const relative = posix.replace(/^\/+/, "")
    const included = include.length === 0 ? posix.startsWith(cwdPrefix) : include.some((matches) => matches(relative))
    return included && !exclude.some((matches) => matches(relative))
  }
}

/** Whether a qualified function name is selected by `functions`; undefined when every function is. */
export const makeFunctionMatcher = (config: Pick<Config, "functions">): ((name: string) => boolean) | undefined => {
  if (config.functions.length === 0) return undefined
  const { make, match } = Glob()
  const globs = config.functions.map((glob) => make(glob, { dot: true }))
  return (name) => globs.some((glob) => match(glob, name))
}
