/**
 * The `lineprof` command: `run` a program with lineprof's hooks in every
 * process and thread, `show` stats files as a report, `merge` stats files into
 * one. A thin layer on `effect/cli` over the library: it parses arguments,
 * spawns, merges (shell/Merge), renders (core/render) and maps every outcome
 * to an exit code. Nothing here runs on import; src/bin.ts runs `main`.
 *
 * Contract:
 * - Exit codes: 0 ok, 1 bad input (a bad or missing stats file, a missing
 *   script, an output that cannot be written), 2 usage (unknown flag, bad
 *   value, missing argument), and for `run` the program's own exit code
 *   (128 + signal number when it was killed by a signal).
 * - Errors are ONE line on stderr, `lineprof: <message>`, with no stack trace
 *   unless `--verbose` is given.
 * - Output files (`-o`) are written atomically: on any failure the previous
 *   file is untouched and no partial file is left behind.
 * - `run` never writes to stdout, which belongs to the program: the report
 *   goes to stderr once the program has exited (an HTML report to a file
 *   next to the stats file). `show` writes the report to stdout or `-o`;
 *   `merge` writes only OUT and a one-line summary on stderr.
 *
 * `run` in steps:
 * 1. make a fresh temporary folder for the stats files (LINEPROF_DIR)
 * 2. spawn the program with NODE_OPTIONS carrying `--import <register module>`,
 *    stdio inherited, SIGTERM and SIGHUP forwarded to it
 * 3. when it exits, merge the folder (bad files are warned about and skipped:
 *    one lost thread must not lose the whole run), write `-o`, print the report
 * 4. remove the folder; exit with the program's code.
 * The whole run is uninterruptible: a signal that reaches lineprof is for the
 * program, and lineprof must outlive it to collect its stats.
 */
import { spawn } from "node:child_process"
import { stat } from "node:fs/promises"
import { constants as osConstants, tmpdir } from "node:os"
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import packageJson from "../../../package.json" with { type: "json" }
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { Argument, CliConfig, CliError, CliOutput, Command, Flag, GlobalFlag, Param, Primitive } from "effect/cli"
import type * as Profile from "../../core/Profile.ts"
import * as StatsFile from "../../core/StatsFile.ts"
import * as Html from "../../core/render/Html.ts"
import * as Text from "../../core/render/Text.ts"
import * as Config from "../record/Config.ts"
import * as Lprof from "../files/Lprof.ts"
import * as Merge from "../files/Merge.ts"
import * as StatsFiles from "../files/StatsFiles.ts"
import * as Terminal from "./Terminal.ts"

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
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** lineprof could not do what was asked with good arguments: a missing script, an unwritable output (exit 1). */
export class CommandError extends Data.TaggedError("CommandError")<{ readonly message: string }> {}

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
 * The register module in ../record: `register.ts` while running from
 * src/, `register.js` from a built dist/ (same extension as this file).
 */
export const registerPath = (): string => {
  const here = fileURLToPath(import.meta.url)
  return join(dirname(here), "..", "record", `register${extname(here)}`)
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

// -- flags ----------------------------------------------------------------------------

/**
 * A string typed as a path for effect/cli, so that its shell completions offer
 * file names (`lineprof show <TAB>`), but kept exactly as typed: effect/cli's
 * own Path primitive makes it absolute against process.cwd(), and lineprof's
 * messages name files the way the user wrote them (and expand globs itself).
 */
const pathAsTyped: Primitive.Primitive<string> = Object.assign(
  Object.create(Object.getPrototypeOf(Primitive.String)) as object,
  Primitive.Path("either"),
  { parse: Primitive.String.parse }
)

/** A positional path argument (see `pathAsTyped`). */
const pathArgument = (name: string): Argument.Argument<string> =>
  Param.makeSingle({ kind: Param.argumentKind, name, primitiveType: pathAsTyped })

/** A path flag taking a value (see `pathAsTyped`). */
const pathFlag = (name: string): Flag.Flag<string> => Param.makeSingle({ kind: Param.flagKind, name, primitiveType: pathAsTyped })

/** Unit names, and the seconds line_profiler's `-u` takes (`--unit 1e-6` reads as `--unit us`). */
const units = { s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9, "1": 1, "1e-3": 1e-3, "1e-6": 1e-6, "1e-9": 1e-9 } as const
type UnitName = keyof typeof units
/** line_profiler's default output unit (`python -m line_profiler -u`). */
const defaultUnit: UnitName = "us"

const renderFlags = {
  format: Flag.Literals("format", ["text", "json", "html"]).pipe(
    Flag.withDefault("text" as const),
    Flag.withDescription("report format: text (line_profiler layout), json (a stats file) or html (a self-contained page)")
  ),
  unit: Flag.Literals("unit", ["s", "ms", "us", "ns", "1", "1e-3", "1e-6", "1e-9"]).pipe(
    Flag.optional,
    Flag.withDescription("time unit of the text report: s, ms, us, ns, or line_profiler's 1, 1e-3, 1e-6, 1e-9 (default: us)")
  ),
  skipZero: Flag.Boolean("skip-zero").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("leave out functions that never ran")
  ),
  sort: Flag.Boolean("sort").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("order functions by total time, ascending as line_profiler does (the slowest last, nearest the prompt)")
  ),
  summary: Flag.Boolean("summary").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("end with one summary line per function")
  )
}

type RenderFlags = {
  readonly format: "text" | "json" | "html"
  readonly unit: Option.Option<UnitName>
  readonly skipZero: boolean
  readonly sort: boolean
  readonly summary: boolean
}

const skipBadFlag = Flag.Boolean("skip-bad").pipe(
  Flag.withDefault(false),
  Flag.withoutNegation,
  Flag.withDescription("warn about each bad stats file and merge the others, instead of stopping at the first")
)

/** `--verbose`: accepted anywhere; `main` reads it from the argument list to decide how much to print on errors. */
const Verbose = GlobalFlag.Setting("verbose")({
  flag: Flag.Boolean("verbose").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("print stack traces and details on errors")
  )
})

// -- output helpers ---------------------------------------------------------------------

const writeLine = (stream: Terminal.Stream, line: string) => Effect.sync(() => void stream.write(`${line}\n`))

const warn = (environment: Environment, message: string) => writeLine(environment.stderr, `lineprof: warning: ${message}`)

/** Renders a profile in the chosen format; colour only for text on a terminal. */
export const renderReport = (
  profile: Profile.Profile,
  flags: RenderFlags,
  options: { readonly cwd: string; readonly colour: boolean; readonly title?: string }
): string => {
  switch (flags.format) {
    case "json":
      return StatsFile.encode(profile)
    case "html":
      return Html.render(profile, { title: options.title, cwd: options.cwd, skipZero: flags.skipZero })
    case "text": {
      const text = Text.render(profile, renderOptions(flags, options.cwd))
      return options.colour ? Terminal.highlightReport(text) : text
    }
  }
}

const renderOptions = (flags: RenderFlags, cwd: string) => ({
  unit: units[Option.getOrElse(flags.unit, () => defaultUnit)],
  skipZero: flags.skipZero,
  sort: flags.sort,
  summary: flags.summary,
  cwd
})

/** Writes `text` to `path` atomically: a temporary sibling, then a rename. Messages name the file as `shown`. */
export const writeTextAtomic = (
  path: string,
  text: string,
  shown: string = path
): Effect.Effect<void, CommandError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const temporaryPath = StatsFiles.temporaryPathFor(path)
    yield* fs.writeFileString(temporaryPath, text, { flag: "wx" }).pipe(
      Effect.andThen(fs.rename(temporaryPath, path)),
      Effect.onError(() => Effect.ignore(fs.remove(temporaryPath))),
      Effect.mapError((error) => new CommandError({ message: `${shown}: cannot write: ${describePlatformError(error, shown)}` }))
    )
  })

const describePlatformError = (
  error: { readonly message: string; readonly reason?: { readonly _tag: string } },
  shown: string
): string => {
  switch (error.reason?._tag) {
    case "NotFound":
      return `folder ${dirname(shown)} does not exist`
    case "PermissionDenied":
      return "permission denied"
    default:
      return error.message.split("\n")[0]!
  }
}

/**
 * Fails before any work when `path` (shown as `shown`) cannot be an output
 * file: it is a folder, or its folder does not exist. `run` checks this
 * before it starts the program, so a long run is not lost at the end.
 */
const checkOutputPath = (path: string, shown: string) =>
  Effect.promise(async () => {
    const isFolder = (candidate: string) => stat(candidate).then((info) => info.isDirectory(), () => false)
    if (await isFolder(path)) return `${shown}: is a folder; -o needs a file path`
    if (!(await isFolder(dirname(path)))) return `${shown}: cannot write: folder ${dirname(shown)} does not exist`
    return undefined
  }).pipe(
    Effect.flatMap((problem) => (problem === undefined ? Effect.void : Effect.fail(new CommandError({ message: problem }))))
  )

/**
 * The progress bar of a merge (on stderr, see Terminal.makeProgress) and the
 * warning for each bad file skipped, which erases the bar first so that it
 * does not land on the bar's line.
 */
const mergeFeedback = (environment: Environment) => {
  let progress: Terminal.Progress = Terminal.silentProgress
  return {
    makeProgress: (total: number): Terminal.Progress =>
      (progress = Terminal.makeProgress({ stream: environment.stderr, total, label: "stats files" })),
    onBad: (bad: Merge.SkippedFile) => Effect.andThen(Effect.sync(() => progress.clear?.()), warn(environment, `skipped ${bad.message}`))
  }
}

/**
 * One line on stderr when a folder search passed over `*.json` files that
 * are not lineprof stats (a project's package.json), naming a few of them.
 */
const notePassedOver = (environment: Environment, merged: Merge.MergeResult) =>
  merged.passedOver.length === 0
    ? Effect.void
    : writeLine(
      environment.stderr,
      `lineprof: passed over ${merged.passedOver.length} .json ${plural(merged.passedOver.length, "file")} ` +
        `that ${merged.passedOver.length === 1 ? "is" : "are"} not lineprof stats: ${describeInputs(merged.passedOver)}`
    )

// -- show ---------------------------------------------------------------------------------

/**
 * A script given where a stats file belongs (`lineprof show app.js`) fails to
 * decode like any bad file; its message then says how to profile it instead.
 */
const withRunHint = <E extends { readonly message: string }>(error: E): E | StatsFiles.StatsFileError =>
  error instanceof StatsFiles.StatsFileError && isScript(error.path)
    ? new StatsFiles.StatsFileError({
      path: error.path,
      message: `${error.message} (a script? profile it with: lineprof run -- ${error.path})`
    })
    : error

/** The inputs for a report's title: all of a few, the first three of many (a shell-expanded glob can name thousands). */
export const describeInputs = (inputs: ReadonlyArray<string>): string =>
  inputs.length <= 4 ? inputs.join(", ") : `${inputs.slice(0, 3).join(", ")} and ${inputs.length - 3} more`

const makeShow = (environment: Environment) =>
  Command.make(
    "show",
    {
      files: pathArgument("file").pipe(
        Argument.withDescription("stats files (or folders, or globs) to render; several are merged first"),
        Argument.variadic({ min: 1 })
      ),
      output: pathFlag("output").pipe(
        Flag.withAlias("o"),
        Flag.optional,
        Flag.withDescription("write the report to this file instead of stdout")
      ),
      skipBad: skipBadFlag,
      ...renderFlags
    },
    (input) =>
      Effect.gen(function* () {
        const outputPath = Option.map(input.output, (path) => resolve(environment.cwd, path))
        if (Option.isSome(outputPath)) yield* checkOutputPath(outputPath.value, Option.getOrThrow(input.output))
        const merged = yield* Merge.mergeInputs(input.files, {
          cwd: environment.cwd,
          skipBad: input.skipBad,
          ...mergeFeedback(environment)
        }).pipe(Effect.mapError(withRunHint))
        yield* notePassedOver(environment, merged)
        if (merged.mergedFiles === 0) return yield* new CommandError({ message: "no good stats files to show" })
        // A stats file merged from .lprof dumps away from their .py files has no source for them: look again from here.
        const profile = yield* Lprof.withPythonSources(merged.profile, { sourceRoot: environment.cwd })
        const title = `lineprof: ${describeInputs(input.files)}`
        const colour = Option.isNone(outputPath) && Terminal.shouldColour(environment.stdout, environment.env)
        const report = renderReport(profile, input, { cwd: environment.cwd, colour, title })
        if (Option.isSome(outputPath)) yield* writeTextAtomic(outputPath.value, report, Option.getOrThrow(input.output))
        else yield* Effect.sync(() => void environment.stdout.write(report))
      })
  ).pipe(
    Command.withDescription("Render stats files as a report (several files are merged first)."),
    Command.withShortDescription("render stats files as a report"),
    Command.withExamples([
      { command: "lineprof show app.js.lineprof.json", description: "the text report, line_profiler's layout" },
      { command: "lineprof show --unit ms --sort --skip-zero a.json b.json", description: "merge two files; milliseconds; slowest function last" },
      { command: "lineprof show --format html -o report.html app.js.lineprof.json", description: "a self-contained HTML page" },
      { command: "lineprof show run.lprof", description: "a Python line_profiler dump" }
    ])
  )

// -- merge --------------------------------------------------------------------------------

const makeMerge = (environment: Environment) =>
  Command.make(
    "merge",
    {
      inputs: pathArgument("input").pipe(
        Argument.withDescription(
          "stats files, folders (searched recursively for lineprof *.json and *.lprof, not in node_modules or .git) and globs"
        ),
        Argument.variadic({ min: 1 })
      ),
      output: pathFlag("output").pipe(Flag.withAlias("o"), Flag.withDescription("the merged stats file to write")),
      skipBad: skipBadFlag
    },
    (input) =>
      Effect.gen(function* () {
        const outputPath = resolve(environment.cwd, input.output)
        yield* checkOutputPath(outputPath, input.output)
        // Named outright (a shell-expanded `*.json` names it too), the output is
        // merged in: right for "add b.json to a.json", double counts on a rerun.
        const outputIsInput = input.inputs.some((path) => resolve(environment.cwd, path) === outputPath)
        if (outputIsInput) {
          yield* warn(environment, `${input.output} is also an input: its current contents are merged in (a rerun counts them twice)`)
        }
        const merged = yield* Merge.mergeInputs(input.inputs, {
          cwd: environment.cwd,
          ignore: [outputPath],
          skipBad: input.skipBad,
          ...mergeFeedback(environment)
        }).pipe(Effect.mapError(withRunHint))
        yield* notePassedOver(environment, merged)
        if (merged.mergedFiles === 0) return yield* new CommandError({ message: "no good stats files to merge; nothing written" })
        yield* StatsFiles.write(outputPath, merged.profile, { shownPath: input.output })
        const skipped = merged.skipped.length === 0 ? "" : ` (${merged.skipped.length} bad ${plural(merged.skipped.length, "file")} skipped)`
        yield* writeLine(
          environment.stderr,
          `lineprof: merged ${merged.mergedFiles} ${plural(merged.mergedFiles, "stats file")} into ${input.output}${skipped}`
        )
      })
  ).pipe(
    Command.withDescription(
      "Merge stats files into one, exactly (hits and nanoseconds add). A bad input stops the merge and leaves the -o file untouched (neither created nor overwritten), unless --skip-bad."
    ),
    Command.withShortDescription("merge stats files into one"),
    Command.withExamples([
      { command: "lineprof merge -o all.json shard-1.json shard-2.json", description: "two files into one" },
      { command: "lineprof merge -o all.json .lineprof/", description: "every stats file under a folder" },
      { command: "lineprof merge -o all.json 'runs/**/*.json' --skip-bad", description: "a glob; bad files are warned about and skipped" }
    ])
  )

const plural = (count: number, word: string): string => (count === 1 ? word : `${word}s`)

// -- run ----------------------------------------------------------------------------------

/** A script run with lineprof's own Node; anything else is a command run as given. */
export const isScript = (program: string): boolean => /\.(?:[cm]?js|[cm]?ts)$/.test(program)

/** Node's flags whose value is the next argument and may itself name a script (`-r ./setup.js`). */
const nodeValueFlags = new Set(["-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--env-file"])

/**
 * The script a run is about: the program when it is a script, else the first
 * script among a command's arguments (`node --inspect app.js` → `app.js`,
 * `tsx src/main.ts` → `src/main.ts`), skipping the values of Node's preload
 * flags; undefined for a command without one (`npm test`). It names the
 * default output and decides the default `--include`.
 */
export const scriptOf = (program: string, args: ReadonlyArray<string>): string | undefined => {
  if (isScript(program)) return program
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!
    if (arg === "--") continue
    if (arg.startsWith("-")) {
      if (nodeValueFlags.has(arg)) index++
      continue
    }
    if (isScript(arg)) return arg
  }
  return undefined
}

/** Parses `--interval`: `250ms`, `1s`, `1.5s`, or a bare number of milliseconds. */
export const parseIntervalMs = (text: string): Result.Result<number, string> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(text)
  if (match === null) return Result.fail(`--interval: expected a duration such as 250ms or 1s, got ${JSON.stringify(text)}`)
  const ms = Number(match[1]) * (match[2] === "s" ? 1000 : 1)
  if (!(ms > 0)) return Result.fail(`--interval: must be more than 0, got ${JSON.stringify(text)}`)
  return Result.succeed(ms)
}

/**
 * What `run` profiles without `--include`: the files under the current
 * folder, and those beside the script when it lies outside it (so
 * `lineprof run -- ../tool/main.js` profiles the tool). Undefined keeps
 * Config's own default (the current folder).
 */
export const defaultInclude = (cwd: string, scriptPath: string | undefined): ReadonlyArray<string> | undefined => {
  if (scriptPath === undefined) return undefined
  const fromCwd = relative(cwd, dirname(scriptPath))
  const inside = fromCwd === "" || (!fromCwd.startsWith("..") && !isAbsolute(fromCwd))
  return inside ? undefined : [cwd, dirname(scriptPath)]
}

/** NODE_OPTIONS with lineprof's `--import` appended (quoted: paths may hold spaces). */
export const withImport = (nodeOptions: string | undefined, modulePath: string): string => {
  const flag = `--import=${JSON.stringify(modulePath)}`
  return nodeOptions === undefined || nodeOptions.trim() === "" ? flag : `${nodeOptions} ${flag}`
}

/** How the program ended. */
interface ProgramExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** The exit code lineprof passes on: the program's, or 128 + the signal's number as shells do. */
export const exitCodeOf = (exit: ProgramExit): number => {
  if (exit.code !== null) return exit.code
  const signalNumber = exit.signal === null ? undefined : osConstants.signals[exit.signal]
  return signalNumber === undefined ? ExitCode.badInput : 128 + signalNumber
}

/** Signals lineprof passes on to the program. SIGINT is not: a terminal's Ctrl-C already reaches the whole process group. */
const forwardedSignals: ReadonlyArray<NodeJS.Signals> = ["SIGTERM", "SIGHUP"]

const spawnProgram = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env: Record<string, string | undefined>; readonly shownName: string }
): Effect.Effect<ProgramExit, CommandError> =>
  Effect.callback<ProgramExit, CommandError>((resume) => {
    let settled = false
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: "inherit" })
    const forward = (signal: NodeJS.Signals) => {
      child.kill(signal)
    }
    for (const signal of forwardedSignals) process.on(signal, forward)
    const settle = (result: Effect.Effect<ProgramExit, CommandError>) => {
      if (settled) return
      settled = true
      for (const signal of forwardedSignals) process.off(signal, forward)
      resume(result)
    }
    child.once("error", (error: NodeJS.ErrnoException) => {
      const problem = error.code === "ENOENT" ? "command not found" : error.code === "EACCES" ? "permission denied" : error.message
      settle(Effect.fail(new CommandError({ message: `${options.shownName}: cannot run: ${problem}` })))
    })
    child.once("exit", (code, signal) => settle(Effect.succeed({ code, signal })))
  })

const makeRun = (environment: Environment, setExitCode: (code: number) => void) =>
  Command.make(
    "run",
    {
      output: pathFlag("output").pipe(
        Flag.withAlias("o"),
        Flag.optional,
        Flag.withDescription("the merged stats file (default: <script>.lineprof.json in the current folder; the command's name when it runs no script)")
      ),
      report: Flag.Boolean("report").pipe(
        Flag.withDefault(true),
        Flag.withDescription("print the report when the program ends (--no-report: only write the stats file)")
      ),
      include: Flag.String("include").pipe(
        Flag.atLeast(0),
        Flag.withDescription("globs of files to profile, repeatable or comma-separated (default: files under the current folder and the script's)")
      ),
      exclude: Flag.String("exclude").pipe(
        Flag.atLeast(0),
        Flag.withDescription("globs of files never profiled, repeatable or comma-separated (default: **/node_modules/**)")
      ),
      interval: Flag.String("interval").pipe(
        Flag.optional,
        Flag.withDescription("how often each process flushes its stats (250ms, 1s; default 1s): what a SIGKILL can lose")
      ),
      compensate: Flag.Boolean("compensate").pipe(
        Flag.optional,
        Flag.withDescription("subtract the calibrated probe cost from line times (default on; --no-compensate: raw times, or LINEPROF_COMPENSATE=0)")
      ),
      command: pathArgument("command").pipe(
        Argument.withDescription("the script (.js .mjs .cjs .ts …) or command to run, then its arguments"),
        Argument.variadic()
      ),
      ...renderFlags,
      format: Flag.Literals("format", ["text", "json", "html"]).pipe(
        Flag.withDefault("text" as const),
        Flag.withDescription(
          "report format: text (on stderr, line_profiler layout), html (a self-contained page written beside -o as <output>.html) or json (no report: the stats file -o is the JSON)"
        )
      )
    },
    (input) =>
      Effect.gen(function* () {
        // 0. check everything that can be checked before the program starts
        const [program, ...programArgs] = input.command
        if (program === undefined) {
          return yield* new UsageError({ message: "run: name the program to run: lineprof run [options] -- <script | command> [args…]" })
        }
        let intervalMs: number | undefined
        if (Option.isSome(input.interval)) {
          const parsed = parseIntervalMs(input.interval.value)
          if (Result.isFailure(parsed)) return yield* new UsageError({ message: parsed.failure })
          intervalMs = parsed.success
        }
        // The same splitting as LINEPROF_INCLUDE: commas inside {a,b} belong to the glob.
        const include = input.include.flatMap(Config.splitGlobs)
        const exclude = input.exclude.flatMap(Config.splitGlobs)
        const script = isScript(program)
        if (script) {
          const found = yield* Effect.promise(() => stat(resolve(environment.cwd, program)).then((s) => s.isFile(), () => false))
          if (!found) return yield* new CommandError({ message: `${program}: no such script` })
        }
        const namedScript = scriptOf(program, programArgs)
        const outputShown = Option.getOrElse(input.output, () => `${basename(namedScript ?? program)}.lineprof.json`)
        const outputPath = resolve(environment.cwd, outputShown)
        yield* checkOutputPath(outputPath, outputShown)

        // 1. a fresh folder for the stats files
        const fs = yield* FileSystem.FileSystem
        const statsDir = yield* fs.makeTempDirectory({ directory: tmpdir(), prefix: "lineprof-" }).pipe(
          Effect.mapError((error) => new CommandError({ message: `cannot make a temporary folder: ${describePlatformError(error, tmpdir())}` }))
        )
        // --compensate wins; else LINEPROF_COMPENSATE from the environment; else on.
        const envCompensate = Config.fromEnv(environment.env, environment.cwd)
        const compensate = Option.isSome(input.compensate)
          ? input.compensate.value
          : Result.isSuccess(envCompensate) ? envCompensate.success.compensate : true
        const config = Config.make({
          compensate,
          cwd: environment.cwd,
          include: include.length > 0
            ? include
            : defaultInclude(environment.cwd, namedScript === undefined ? undefined : resolve(environment.cwd, namedScript)),
          exclude: exclude.length === 0 ? undefined : exclude,
          dir: statsDir,
          intervalMs
        })
        if (Result.isFailure(config)) {
          yield* Effect.ignore(fs.remove(statsDir, { recursive: true }))
          return yield* new UsageError({ message: `--${config.failure.variable}: ${config.failure.problem} (${config.failure.value})` })
        }

        return yield* Effect.gen(function* () {
          // 2. the program, with the hooks in every Node process and thread it starts
          const childEnv: Record<string, string | undefined> = {
            ...environment.env,
            ...Config.toEnv(config.success),
            NODE_OPTIONS: withImport(environment.env["NODE_OPTIONS"], environment.registerPath)
          }
          if (yield* Verbose) {
            for (const name of [...Object.values(Config.Variables), "NODE_OPTIONS"]) {
              yield* writeLine(environment.stderr, `lineprof: ${name}=${childEnv[name] ?? ""}`)
            }
          }
          const exit = yield* spawnProgram(
            script ? environment.execPath : program,
            script ? [program, ...programArgs] : programArgs,
            { cwd: environment.cwd, env: childEnv, shownName: program }
          )
          const programCode = exitCodeOf(exit)
          setExitCode(programCode)

          // 3. merge, write, report; a failure here is lineprof's, not the program's
          const commandLine = [program, ...programArgs].join(" ")
          const shownCommand = commandLine.length > 100 ? `${commandLine.slice(0, 99)}…` : commandLine
          yield* collect(environment, input, { program: shownCommand, statsDir, outputPath, outputShown }).pipe(
            Effect.catch((error: Merge.MergeInputError | StatsFiles.StatsFileError | CommandError) =>
              Effect.andThen(
                writeLine(environment.stderr, `lineprof: ${error.message}`),
                Effect.sync(() => setExitCode(programCode === 0 ? ExitCode.badInput : programCode))
              )
            )
          )
        }).pipe(Effect.ensuring(Effect.ignore(fs.remove(statsDir, { recursive: true }))))
      }).pipe(Effect.uninterruptible)
  ).pipe(
    Command.withDescription(
      "Run a Node script or any command with lineprof's hooks in every process and worker thread it starts, " +
        "then merge their stats into one file and print the report on stderr (stdout stays the program's). " +
        "stdin, stdout, stderr and the exit code are the program's."
    ),
    Command.withShortDescription("profile a program, its worker threads and child processes"),
    Command.withExamples([
      { command: "lineprof run -- app.js --port 8080", description: "a script, with its own arguments after --" },
      { command: "lineprof run --unit ms --sort --skip-zero -- src/main.ts", description: "TypeScript, milliseconds, slowest function last" },
      { command: "lineprof run --include 'src/**' -- npm test", description: "a command: every Node process it starts is profiled" },
      { command: "lineprof run --no-report -o prof.json -- app.mjs && lineprof show prof.json", description: "profile now, look later" },
      { command: "lineprof run --format html -- app.js", description: "also write app.js.lineprof.html" }
    ])
  )

/** After the program: merge the stats folder, write the output, print the report. */
const collect = (
  environment: Environment,
  flags: RenderFlags & { readonly report: boolean },
  paths: { readonly program: string; readonly statsDir: string; readonly outputPath: string; readonly outputShown: string }
) =>
  Effect.gen(function* () {
    const files = yield* Merge.findStatsFiles([paths.statsDir], { cwd: environment.cwd }).pipe(
      Effect.catchTag("MergeInputError", () => Effect.succeed([] as Array<string>))
    )
    if (yield* Verbose) yield* writeLine(environment.stderr, `lineprof: ${files.length} stats files in ${paths.statsDir}`)
    if (files.length === 0) {
      return yield* warn(
        environment,
        "no stats were recorded: no function of a profiled file ran (top-level code is not profiled; see --include / --exclude), or no Node process started; nothing written"
      )
    }
    const feedback = mergeFeedback(environment)
    const merged = yield* Merge.mergeFiles(files, {
      skipBad: true,
      onBad: feedback.onBad,
      progress: feedback.makeProgress(files.length)
    })
    if (merged.mergedFiles === 0) return yield* warn(environment, "every stats file was bad; nothing written")
    yield* StatsFiles.write(paths.outputPath, merged.profile, { shownPath: paths.outputShown })
    if (merged.profile.functions.length === 0) {
      yield* warn(environment, "no profiled function ran: check --include / --exclude")
    }
    if (flags.report) {
      if (flags.format === "html") {
        const htmlShown = paths.outputShown.replace(/\.json$/, "") + ".html"
        const html = renderReport(merged.profile, flags, { cwd: environment.cwd, colour: false, title: `lineprof: ${paths.program}` })
        yield* writeTextAtomic(resolve(environment.cwd, htmlShown), html, htmlShown)
        yield* writeLine(environment.stderr, `lineprof: wrote the HTML report to ${htmlShown}`)
      } else if (flags.format === "text") {
        const colour = Terminal.shouldColour(environment.stderr, environment.env)
        const report = renderReport(merged.profile, flags, { cwd: environment.cwd, colour })
        yield* Effect.sync(() => void environment.stderr.write(`\n${report}`))
      }
    }
    yield* writeLine(
      environment.stderr,
      `lineprof: wrote ${paths.outputShown} (${merged.mergedFiles} ${plural(merged.mergedFiles, "stats file")} merged)`
    )
  })

// -- the command tree and main --------------------------------------------------------

/** The `lineprof` command tree. `setExitCode` receives the program's exit code from `run`. */
export const makeCommand = (environment: Environment, setExitCode: (code: number) => void) =>
  Command.make("lineprof").pipe(
    Command.withDescription(
      "Line-by-line profiler for Node.js and TypeScript: hits, time, time per hit and % time of every line, " +
        "across worker threads and child processes. Exit codes: 0 ok, 1 bad input, 2 usage, run: the program's."
    ),
    Command.withGlobalFlags([Verbose]),
    Command.withSubcommands([makeRun(environment, setExitCode), makeShow(environment), makeMerge(environment)]),
    Command.withExamples([
      { command: "lineprof run -- app.js", description: "profile a script, its workers and children" },
      { command: "lineprof show app.js.lineprof.json", description: "render a stats file again" },
      { command: "lineprof merge -o all.json runs/", description: "merge every stats file under a folder" },
      {
        command: "lineprof --completions bash > ~/.lineprof-completion.bash && echo '. ~/.lineprof-completion.bash' >> ~/.bashrc",
        description: "shell completions (also zsh, fish): files and flags complete with Tab in new shells"
      }
    ])
  )

/** Flags of `run` that take a value, to tell their values from the program's name. */
const runValueFlags = new Set(["-o", "--output", "--unit", "--format", "--include", "--exclude", "--interval", "--completions"])

/**
 * Lets `lineprof run app.js --its-flag` work without `--`: everything from the
 * first argument of `run` that is not one of lineprof's flags (or a flag's
 * value) on is the program's. An explicit `--` is left alone.
 */
export const splitRunArgs = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const runAt = argv.indexOf("run")
  if (runAt < 0 || argv.includes("--")) return argv
  for (let index = 0; index < runAt; index++) if (!argv[index]!.startsWith("-")) return argv
  for (let index = runAt + 1; index < argv.length; index++) {
    const arg = argv[index]!
    if (arg.startsWith("-")) {
      if (runValueFlags.has(arg)) index++
      continue
    }
    return [...argv.slice(0, index), "--", ...argv.slice(index)]
  }
  return argv
}

/** True when `--verbose` is among lineprof's own arguments (before `--`). */
const isVerbose = (argv: ReadonlyArray<string>): boolean => {
  const end = argv.indexOf("--")
  return (end < 0 ? argv : argv.slice(0, end)).includes("--verbose")
}

/**
 * An effect/cli error message on one line: its suggestion block
 * ("\n\n  Did you mean this?\n    show") becomes "; did you mean show?".
 */
export const oneLine = (message: string): string => {
  const [first = "", ...rest] = message.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  const askAt = rest.findIndex((line) => /^did you mean/i.test(line))
  if (askAt < 0) return [first, ...rest].join(" ")
  const before = rest.slice(0, askAt)
  const suggestions = rest.slice(askAt + 1)
  const head = [first, ...before].join(" ")
  return suggestions.length === 0 ? head : `${head}; did you mean ${suggestions.join(" or ")}?`
}

/** Usage errors as one line on stderr, help and version on stdout. */
const makePresenter = (environment: Environment): CliOutput.Presenter => ({
  present: (event) =>
    Effect.gen(function* () {
      const formatter = yield* CliOutput.Formatter
      switch (event._tag) {
        case "Help":
          if (event.reason === "Requested") {
            yield* writeLine(environment.stdout, formatter.formatHelpDoc(event.helpDoc))
          } else {
            // A command without its subcommand: the help is the message.
            yield* writeLine(environment.stderr, formatter.formatHelpDoc(event.helpDoc))
          }
          return
        case "Version":
          return yield* writeLine(environment.stdout, formatter.formatVersion(event.name, event.version))
        case "InvalidInvocation": {
          // `lineprof app.js --port 80`: `run` was left out, and that is the one thing to say.
          const script = event.errors.find((error) => error._tag === "UnknownSubcommand" && isScript(error.subcommand))
          const messages = script?._tag === "UnknownSubcommand"
            ? [`${oneLine(formatter.formatCliError(script))}; to profile it: lineprof run -- ${script.subcommand}`]
            : event.errors.map((error) => oneLine(formatter.formatCliError(error)))
          const path = event.commandPath.join(" ")
          return yield* writeLine(environment.stderr, `lineprof: ${messages.join("; ")} (see: ${path} --help)`)
        }
      }
    })
})

/**
 * Runs the command on `argv` (the arguments after the script name) and
 * succeeds with the exit code; never fails. `setExitCode` also receives the
 * code as soon as it is known, so that a caller whose fiber is interrupted by
 * a signal during `run` still exits with the program's code.
 */
export const main = (
  argv: ReadonlyArray<string>,
  environment: Environment,
  setExitCode: (code: number) => void = () => {}
): Effect.Effect<number, never, Command.Environment> => {
  let exitCode: number = ExitCode.ok
  const record = (code: number) => {
    exitCode = code
    setExitCode(code)
  }
  const verbose = isVerbose(argv)
  const colour = Terminal.shouldColour(environment.stdout, environment.env)
  return Command.runWith(makeCommand(environment, record), { version })(splitRunArgs(argv)).pipe(
    Effect.provideService(CliOutput.Presenter, makePresenter(environment)),
    // runWith provides the parsed --verbose to handlers; this only satisfies the types.
    Effect.provideService(Verbose, verbose),
    // --wizard (interactive prompts) and --log-level mean nothing to lineprof: leave them out of parsing and help.
    Effect.provideService(CliConfig.CliConfig, CliConfig.make({ builtIns: [GlobalFlag.Help, GlobalFlag.Version, GlobalFlag.Completions] })),
    Effect.provideService(CliOutput.Formatter, CliOutput.defaultFormatter({ colors: colour })),
    Effect.map(() => exitCode),
    Effect.catchCause((cause) => {
      const code = exitCodeForCause(cause)
      record(code)
      return Effect.as(reportCause(environment, cause, verbose), code)
    })
  )
}

const exitCodeForCause = (cause: Cause.Cause<unknown>): number => {
  if (Cause.hasInterruptsOnly(cause)) return ExitCode.interrupted
  const error = Cause.findError(cause)
  if (Result.isFailure(error)) return ExitCode.badInput
  const failure = error.success
  if (CliError.isCliError(failure) || failure instanceof UsageError) return ExitCode.usage
  return ExitCode.badInput
}

const reportCause = (environment: Environment, cause: Cause.Cause<unknown>, verbose: boolean): Effect.Effect<void> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const error = Cause.findError(cause)
  if (Result.isSuccess(error)) {
    const failure = error.success
    // effect/cli errors were already presented (one line, see makePresenter).
    if (CliError.isCliError(failure)) return Effect.void
    const message = failure instanceof Error || (typeof failure === "object" && failure !== null && "message" in failure)
      ? String((failure as { message: unknown }).message)
      : String(failure)
    return Effect.andThen(
      writeLine(environment.stderr, `lineprof: ${message.split("\n")[0]}`),
      verbose ? writeLine(environment.stderr, Cause.pretty(cause)) : Effect.void
    )
  }
  const squashed = Cause.squash(cause)
  const message = squashed instanceof Error ? squashed.message : String(squashed)
  return Effect.andThen(
    writeLine(environment.stderr, `lineprof: internal error: ${message.split("\n")[0]}${verbose ? "" : " (run with --verbose for details)"}`),
    verbose ? writeLine(environment.stderr, Cause.pretty(cause)) : Effect.void
  )
}
