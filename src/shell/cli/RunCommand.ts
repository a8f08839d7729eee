/**
 * `lineprof run [options] -- <script | command> [args…]`:
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
import { basename, dirname, isAbsolute, relative, resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { Argument, Command, Flag } from "effect/cli"
import * as CalibrationCache from "../record/CalibrationCache.ts"
import * as Config from "../record/Config.ts"
import * as Merge from "../files/Merge.ts"
import * as StatsFiles from "../files/StatsFiles.ts"
import { CommandError, type Environment, ExitCode, UsageError } from "./Environment.ts"
import { pathArgument, pathFlag, type RenderFlags, renderFlags, Verbose } from "./Flags.ts"
import { checkOutputPath, describePlatformError, isScript, mergeFeedback, plural, renderReport, warn, writeLine, writeTextAtomic } from "./Output.ts"
import * as Terminal from "./Terminal.ts"

// -- run ----------------------------------------------------------------------------------


/** Node's flags whose value is the next argument and may itself name a script (`-r ./setup.js`). */
export const nodeValueFlags = new Set(["-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--env-file"])

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
export const forwardedSignals: ReadonlyArray<NodeJS.Signals> = ["SIGTERM", "SIGHUP"]

export const spawnProgram = (
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

export const makeRun = (environment: Environment, setExitCode: (code: number) => void) =>
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
      recalibrate: Flag.Boolean("recalibrate").pipe(
        Flag.withDefault(false),
        Flag.withDescription("measure the probe cost again instead of taking it from the cache (~/.cache/lineprof; or LINEPROF_RECALIBRATE=1)")
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
          // The first profiled process measures and caches; the processes it starts take its calibration.
          if (input.recalibrate) childEnv["LINEPROF_RECALIBRATE"] = "1"
          // Otherwise every process of the run takes the cached calibration as this moment's (siblings too).
          else CalibrationCache.adopt(childEnv)
          // Each profiled process then says how many of its files came from the instrument cache.
          if (yield* Verbose) childEnv["LINEPROF_VERBOSE"] = "1"
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
export const collect = (
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
