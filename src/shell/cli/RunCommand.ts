/**
 * `lineprof run [options] -- <script | command> [args…]`, in two stages:
 * 1. `planRun`: every check that can be made before the program starts (the
 *    Node that will run it, the script, the interval and globs, every output
 *    path), giving a `RunPlan` or a one-line error, so a long run is never
 *    lost at its end for a reason known at its start.
 * 2. `runPlan`: a scoped temporary folder for the stats files (LINEPROF_DIR);
 *    the program, with NODE_OPTIONS carrying `--import <register module>`,
 *    stdio inherited, SIGINT, SIGTERM and SIGHUP passed on; when it exits,
 *    the processes it left behind are counted, the folder merged (bad files
 *    warned about and skipped: one lost thread must not lose the whole run),
 *    `-o` written and the report printed. The folder is removed, unless the
 *    final write failed: then it is kept and named.
 * The run is uninterruptible: a signal that reaches lineprof is for the
 * program, and lineprof must outlive it to collect its stats.
 */
import { constants as osConstants, tmpdir } from "node:os"
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import type * as PlatformError from "effect/PlatformError"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Argument, Command, Flag } from "effect/cli"
import * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as CalibrationCache from "../record/CalibrationCache.ts"
import * as Config from "../record/Config.ts"
import * as Merge from "../files/Merge.ts"
import * as StatsFiles from "../files/StatsFiles.ts"
import { CommandError, type Environment, ExitCode, UsageError } from "./Environment.ts"
import { pathArgument, pathFlag, type RenderFlags, renderFlags, Verbose } from "./Flags.ts"
import { checkOutputPath, describePlatformError, isScript, mergeFeedback, plural, renderReport, warn, writeLine, writeTextAtomic } from "./Output.ts"
import * as RunProcesses from "./RunProcesses.ts"
import * as Terminal from "./Terminal.ts"

// -- names --------------------------------------------------------------------------------

/** Node's flags whose value is the next argument and may itself name a script (`-r ./setup.js`). */
export const nodeValueFlags = new Set(["-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--env-file"])

/** A glob pattern (`'test/*.test.ts'`), which names no one file. */
const isGlob = (arg: string): boolean => /[*?[\]{}]/.test(arg)

/** A tool's configuration file (`vitest.config.ts`, `jest.config.js`), not the program. */
const isConfigFile = (arg: string): boolean => /\.config\.[cm]?[jt]s$/.test(basename(arg))

/**
 * The script a run is about: the program when it is a script, else the first
 * script among a command's arguments (`node --inspect app.js` → `app.js`,
 * `tsx src/main.ts` → `src/main.ts`), skipping the values of Node's preload
 * flags, glob patterns and configuration files; undefined for a command
 * without one (`npm test`). It names the default output and decides the
 * default `--include`.
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
    if (isScript(arg) && !isGlob(arg) && !isConfigFile(arg)) return arg
  }
  return undefined
}

/** Package runners whose first plain argument is the command they run (`npx vitest run` runs vitest). */
const packageRunners = new Set(["npx", "pnpx", "bunx"])
/** Package managers whose `exec` / `dlx` / `x` runs the command that follows. */
const packageManagers = new Set(["npm", "pnpm", "yarn", "bun"])

/**
 * The name of the command a run starts: its first word (`npm test` → `npm`),
 * or the package a package runner runs (`npx vitest run`, `pnpm exec jest` →
 * `vitest`, `jest`), without version or scope (`npx @scope/tool@2` → `tool`).
 */
export const commandNameOf = (program: string, args: ReadonlyArray<string>): string => {
  const first = basename(program).replace(/\.(?:exe|cmd)$/i, "")
  const plain = args.filter((arg) => !arg.startsWith("-"))
  const runs = packageRunners.has(first)
    ? plain[0]
    : packageManagers.has(first) && ["exec", "dlx", "x"].includes(plain[0] ?? "")
    ? plain[1]
    : undefined
  if (runs === undefined) return first
  const name = runs.replace(/^(@[^/]+\/)?([^@]+)(@.*)?$/, "$2")
  return name === "" ? first : name
}

/** The default output file: `<script>.lineprof.json`, else `<command>.lineprof.json` (another `extension` for another format). */
export const defaultOutputOf = (program: string, args: ReadonlyArray<string>, extension: string = "json"): string =>
  `${basename(scriptOf(program, args) ?? commandNameOf(program, args))}.lineprof.${extension}`

/** The n-th sibling of an output name, numbered before its extension: `app.lineprof.json` → `app.lineprof.2.json`, `a.pb.gz` → `a.2.pb.gz`. */
export const numberedName = (shown: string, n: number): string => {
  const extension = /\.(?:json|pb\.gz|pprof|html)$/.exec(shown)?.[0] ?? ""
  return `${shown.slice(0, shown.length - extension.length)}.${n}${extension}`
}

/** The test runner a command starts, when it is one whose modules lineprof's hooks cannot see without a plugin. */
export const testRunnerOf = (program: string, args: ReadonlyArray<string>): "vitest" | "jest" | undefined => {
  const names = [commandNameOf(program, args), ...args.map((arg) => basename(arg).replace(/\.[cm]?js$/, ""))]
  return names.find((name): name is "vitest" | "jest" => name === "vitest" || name === "jest")
}

// -- the Node that runs the program -------------------------------------------------------

/** The oldest Node lineprof's hooks run on (`module.registerHooks`). */
export const minimumNode = { major: 22, minor: 19 } as const

/** True when `version` (`v20.20.2`) is older than `minimumNode`. */
export const isNodeTooOld = (version: string): boolean => {
  const match = /^v?(\d+)\.(\d+)/.exec(version.trim())
  if (match === null) return false
  const major = Number(match[1])
  return major < minimumNode.major || (major === minimumNode.major && Number(match[2]) < minimumNode.minor)
}

/** `node` itself as a command (`node`, `/usr/bin/node`, `node.exe`). */
const isNodeBinary = (program: string): boolean => /^node(?:\.exe)?$/i.test(basename(program))

/** The first executable file named `name` on `PATH`, or undefined. */
const findOnPath = Effect.fn("RunCommand.findOnPath")(function*(name: string, environment: Environment) {
  const fs = yield* FileSystem.FileSystem
  for (const folder of (environment.env["PATH"] ?? "").split(delimiter)) {
    if (folder === "") continue
    const candidate = resolve(environment.cwd, folder, name)
    const info = yield* Effect.option(fs.stat(candidate))
    if (Option.isSome(info) && info.value.type === "File" && (info.value.mode & 0o111) !== 0) return candidate
  }
  return undefined
})

/**
 * The Node binary that will run the program: lineprof's own for a script, the
 * program itself when it is `node`, else the `node` on the program's PATH
 * (the one `#!/usr/bin/env node` finds). Undefined when there is none.
 */
export const nodeFor = Effect.fn("RunCommand.nodeFor")(function*(program: string, environment: Environment) {
  if (isScript(program)) return environment.execPath
  if (isNodeBinary(program) && program.includes("/")) return resolve(environment.cwd, program)
  return yield* findOnPath("node", environment)
})

/** `node --version` of `nodePath` (`v24.1.0`); this process's own without a spawn. Undefined when it cannot be asked. */
const nodeVersionOf = Effect.fn("RunCommand.nodeVersionOf")(function*(nodePath: string) {
  if (nodePath === process.execPath) return process.version
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const output = yield* Effect.option(spawner.string(ChildProcess.make(nodePath, ["--version"], { stdin: "ignore", stderr: "ignore" })))
  return Option.match(output, { onNone: () => undefined, onSome: (text) => text.trim() })
})

// -- the interval and the exit code -------------------------------------------------------

/** Parses `--interval`: `250ms`, `1s`, `1.5s`, a bare number of milliseconds, or Duration's own `250 millis`. */
export const parseInterval = (text: string): Result.Result<Duration.Duration, string> => {
  const short = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(text)
  const input = short === null ? text.trim() : `${short[1]} ${short[2] === "s" ? "seconds" : "millis"}`
  // Duration's own `<number> <unit>` only: not its "Infinity", nor a negative number.
  const duration = /^\d/.test(input) ? Duration.fromInput(input as Duration.Input) : Option.none()
  if (Option.isNone(duration) || !Duration.isFinite(duration.value)) {
    return Result.fail(`--interval: expected a duration such as 250ms or 1s, got ${JSON.stringify(text)}`)
  }
  if (!Duration.isPositive(duration.value)) return Result.fail(`--interval: must be more than 0, got ${JSON.stringify(text)}`)
  return Result.succeed(duration.value)
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
export interface ProgramExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** The exit code lineprof passes on: the program's, or 128 + the signal's number as shells do. */
export const exitCodeOf = (exit: ProgramExit): number => {
  if (exit.code !== null) return exit.code
  const signalNumber = exit.signal === null ? undefined : osConstants.signals[exit.signal]
  return signalNumber === undefined ? ExitCode.badInput : 128 + signalNumber
}

/** Signals lineprof passes on to the program, unless its whole process group got them (see `runProgram`). */
export const forwardedSignals: ReadonlyArray<NodeJS.Signals> = ["SIGINT", "SIGTERM", "SIGHUP"]

// -- 1. planning --------------------------------------------------------------------------

/** The parsed flags and arguments of `run`. */
export interface RunInput extends RenderFlags {
  readonly output: Option.Option<string>
  readonly report: boolean
  readonly include: ReadonlyArray<string>
  readonly exclude: ReadonlyArray<string>
  readonly function: ReadonlyArray<string>
  readonly sourceMaps: boolean
  readonly interval: Option.Option<string>
  readonly compensate: Option.Option<boolean>
  readonly timing: Option.Option<"exact" | "sampled">
  readonly recalibrate: boolean
  readonly command: ReadonlyArray<string>
}

/** An output file: its absolute path, the name messages give it, and what it was when the run began (to notice another run writing it). */
export interface OutputTarget {
  readonly path: string
  readonly shown: string
  readonly stamp: string
}

/** Everything `runPlan` needs, checked. */
export interface RunPlan {
  /** The program as typed, and its arguments. */
  readonly program: string
  readonly programArgs: ReadonlyArray<string>
  /** What is spawned: lineprof's Node and the script, or the command as given. */
  readonly file: string
  readonly args: ReadonlyArray<string>
  /** The command line for titles, cut at 100 characters. */
  readonly shownCommand: string
  /** The recorder's settings, but for `dir` (the run's temporary folder, made in `runPlan`). */
  readonly config: Config.Config
  readonly output: OutputTarget
  /** The HTML report, when `--format html` and a report are asked for. */
  readonly html: OutputTarget | undefined
  readonly testRunner: "vitest" | "jest" | undefined
  readonly flags: RenderFlags & { readonly report: boolean; readonly recalibrate: boolean }
}

/** Identifies a file's current version (`absent` when there is none): two stamps differ when someone wrote it meanwhile. */
const stampOf = Effect.fn("RunCommand.stampOf")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const info = yield* Effect.option(fs.stat(path))
  if (Option.isNone(info)) return "absent"
  const mtimeMs = Option.match(info.value.mtime, { onNone: () => 0, onSome: (date) => date.getTime() })
  return `${mtimeMs}:${info.value.size}:${Option.getOrElse(info.value.ino, () => 0n)}`
})

/** Fails when the HTML report's path is a folder or lies in a missing one. */
const checkHtmlPath = (path: string, shown: string) =>
  checkOutputPath(path, shown).pipe(
    Effect.mapError((error) =>
      new CommandError({ message: error.message.replace("-o needs a file path", "--format html writes the report to that path") })
    )
  )

/** All the checks before the program starts; a `RunPlan`, or a one-line error (UsageError: exit 2, CommandError: exit 1). */
export const planRun = Effect.fn("RunCommand.planRun")(function*(input: RunInput, environment: Environment) {
  const [program, ...programArgs] = input.command
  if (program === undefined) {
    return yield* new UsageError({ message: "run: name the program to run: lineprof run [options] -- <script | command> [args…]" })
  }
  // The Node that will run the program, before anything else: an old one fails every process it starts.
  const nodePath = yield* nodeFor(program, environment)
  if (nodePath !== undefined) {
    const version = yield* nodeVersionOf(nodePath)
    if (version !== undefined && isNodeTooOld(version)) {
      return yield* new UsageError({
        message: `lineprof needs Node >= ${minimumNode.major}.${minimumNode.minor} (found ${version}: ${nodePath})`
      })
    }
  }
  let intervalMs: number | undefined
  if (Option.isSome(input.interval)) {
    const parsed = parseInterval(input.interval.value)
    if (Result.isFailure(parsed)) return yield* new UsageError({ message: parsed.failure })
    intervalMs = Duration.toMillis(parsed.success)
  }
  const script = isScript(program)
  if (script) {
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.option(fs.stat(resolve(environment.cwd, program)))
    if (Option.isNone(info) || info.value.type !== "File") return yield* new CommandError({ message: `${program}: no such script` })
  }
  // --compensate wins; else LINEPROF_COMPENSATE from the environment; else on.
  const envConfig = Config.fromEnv(environment.env, environment.cwd)
  const compensate = Option.isSome(input.compensate)
    ? input.compensate.value
    : Result.isSuccess(envConfig) ? envConfig.success.compensate : true
  // The same splitting as LINEPROF_INCLUDE: commas inside {a,b} belong to the glob.
  const include = input.include.flatMap(Config.splitGlobs)
  const exclude = input.exclude.flatMap(Config.splitGlobs)
  const functions = input.function.flatMap(Config.splitGlobs)
  const namedScript = scriptOf(program, programArgs)
  // --timing wins; else LINEPROF_TIMING; else exact.
  const envTiming = Config.timingFromEnv(environment.env)
  const timing = Option.getOrElse(input.timing, () => (Result.isSuccess(envTiming) ? envTiming.success.timing : "exact" as const))
  const config = Config.make({
    compensate,
    timing,
    sampleIntervalNs: Result.isSuccess(envTiming) ? envTiming.success.sampleIntervalNs : undefined,
    cwd: environment.cwd,
    include: include.length > 0
      ? include
      : defaultInclude(environment.cwd, namedScript === undefined ? undefined : resolve(environment.cwd, namedScript)),
    // An explicit --exclude (even '') wins; an explicit --include drops the default exclude (Config.make).
    exclude: input.exclude.length > 0 ? exclude : include.length > 0 ? undefined : Config.defaultExclude,
    functions,
    sourceMaps: input.sourceMaps,
    intervalMs
  })
  if (Result.isFailure(config)) {
    return yield* new UsageError({ message: `--${config.failure.variable}: ${config.failure.problem} (${config.failure.value})` })
  }
  // Every output, checked now: a long run must not be lost at its end for a reason known at its start.
  const outputShown = Option.getOrElse(input.output, () => defaultOutputOf(program, programArgs, input.format === "pprof" ? "pb.gz" : "json"))
  const outputPath = resolve(environment.cwd, outputShown)
  yield* checkOutputPath(outputPath, outputShown)
  const output: OutputTarget = { path: outputPath, shown: outputShown, stamp: yield* stampOf(outputPath) }
  let html: OutputTarget | undefined
  if (input.report && input.format === "html") {
    const htmlShown = htmlNameOf(outputShown)
    const htmlPath = resolve(environment.cwd, htmlShown)
    yield* checkHtmlPath(htmlPath, htmlShown)
    html = { path: htmlPath, shown: htmlShown, stamp: "" }
  }
  const commandLine = [program, ...programArgs].join(" ")
  return {
    program,
    programArgs,
    file: script ? environment.execPath : program,
    args: script ? [program, ...programArgs] : programArgs,
    shownCommand: commandLine.length > 100 ? `${commandLine.slice(0, 99)}…` : commandLine,
    config: config.success,
    output,
    html,
    testRunner: testRunnerOf(program, programArgs),
    flags: input
  } satisfies RunPlan
})

/** The HTML report beside a stats file: `out.json` → `out.html`. */
const htmlNameOf = (outputShown: string): string => outputShown.replace(/\.json$/, "") + ".html"

// -- 2. running ---------------------------------------------------------------------------

/**
 * The program's exit. effect's ChildProcessSpawner gives the exit code as a
 * value, and a death by signal only as the message of a failure ("Process
 * interrupted due to receipt of signal: 'SIGTERM'"), read here; the e2e tests
 * of signals fail if that wording changes.
 */
const exitOf = (handle: ChildProcessSpawner.ChildProcessHandle, shownName: string) =>
  handle.exitCode.pipe(
    Effect.map((code): ProgramExit => ({ code, signal: null })),
    Effect.catch((error: PlatformError.PlatformError) => {
      const cause: unknown = error.reason.cause
      const text = cause instanceof Error ? cause.message : error.message
      const signal = /receipt of signal: '(SIG[A-Z0-9]+)'/.exec(text)?.[1]
      return signal === undefined
        ? Effect.fail(new CommandError({ message: `${shownName}: ${text.split("\n")[0]}` }))
        : Effect.succeed<ProgramExit>({ code: null, signal: signal as NodeJS.Signals })
    })
  )

/** A spawn failure in one line: `npm: cannot run: command not found`. */
const spawnError = (error: PlatformError.PlatformError, shownName: string): CommandError => {
  const tag = error.reason._tag
  const problem = tag === "NotFound" ? "command not found" : tag === "PermissionDenied" ? "permission denied" : error.message.split("\n")[0]
  return new CommandError({ message: `${shownName}: cannot run: ${problem}` })
}

/**
 * A witness of signals sent to lineprof's whole process group: `cat` in that
 * group, reading a pipe nobody writes to (it ends with lineprof: EOF). A
 * terminal's Ctrl-C or a `kill -TERM -<pgid>` kills it along with the
 * program; a signal sent to lineprof's pid alone leaves it running. Its exit,
 * once known, says which (see `runProgram`).
 */
const startWitness = ChildProcess.make("cat", [], { detached: false, stdout: "ignore", stderr: "ignore" })

/** Without /proc: how long a signal handler waits for the witness to die before it takes the signal as lineprof's alone. */
const witnessWaitMs = 100
/** With /proc: how often the witness's state is read, and for how long a dead witness's exit is awaited. */
const witnessPollMs = 5
const witnessDeadMs = 2000

/** Resumes after the event loop's next check phase, so that I/O already pending (a child's exit) has been read. */
const nextLoopTurn = Effect.callback<void>((resume) => void setImmediate(() => resume(Effect.void)))

/**
 * Starts the program (stdio inherited, in lineprof's process group so that a
 * terminal's Ctrl-C reaches it) and waits for its exit. Meanwhile SIGINT,
 * SIGTERM and SIGHUP sent to lineprof ask every process of the run to stop
 * (RunProcesses.requestStop) and are passed on to the program, as npm and tsx
 * do; a signal the whole process group got (the witness died of it) already
 * reached the program and is not sent twice: a second SIGINT means "stop
 * now" to many programs, and to lineprof's own handler in the program (the
 * first one writes the stats, the second kills the process mid-write).
 */
export const runProgram = Effect.fn("RunCommand.runProgram")(function*(
  plan: RunPlan,
  env: Record<string, string | undefined>,
  statsDir: string,
  cwd: string
) {
  const witnessExit = yield* Deferred.make<ProgramExit>()
  const witness = yield* Effect.option(startWitness)
  if (Option.isSome(witness)) {
    yield* Effect.forkScoped(Effect.flatMap(Effect.option(exitOf(witness.value, "cat")), (exit) =>
      Option.isSome(exit) ? Deferred.succeed(witnessExit, exit.value) : Effect.void))
  }
  const handle = yield* ChildProcess.make(plan.file, plan.args, {
    cwd,
    env,
    extendEnv: false,
    detached: false,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit"
  }).pipe(Effect.mapError((error) => spawnError(error, plan.program)))
  // Linux: /proc says at once whether the witness was sent the signal (see RunProcesses.signalStateOf),
  // however late lineprof or the witness are scheduled on a loaded machine.
  const groupGotByProc = (witnessPid: number, signal: NodeJS.Signals) =>
    Effect.gen(function*() {
      const deadline = Date.now() + witnessDeadMs
      for (;;) {
        if (Deferred.isDoneUnsafe(witnessExit)) return (yield* Deferred.await(witnessExit)).signal === signal
        const state = RunProcesses.signalState(witnessPid, signal)
        if (state === "got") return true
        if (state === "clean") return false
        if (state === "unknown") return undefined
        // Dead (its exit says of which signal once read) or between states: look again soon.
        if (Date.now() >= deadline) return state === "dead"
        yield* Effect.sleep(witnessPollMs)
      }
    })
  // Elsewhere: wait for the witness's exit; after the wait, one more turn of the event loop: a lineprof
  // descheduled past the timeout meets the timer before it reads the witness's exit (timers run before I/O).
  const groupGotByExit = (witnessHandle: ChildProcessSpawner.ChildProcessHandle, signal: NodeJS.Signals) =>
    Deferred.await(witnessExit).pipe(
      Effect.timeoutOption(witnessWaitMs),
      Effect.flatMap((exit) =>
        Option.isSome(exit)
          ? Effect.succeed(exit.value.signal === signal)
          : Effect.andThen(nextLoopTurn, Effect.map(Effect.orElseSucceed(witnessHandle.isRunning, () => true), (running) => !running))
      )
    )
  const groupGot = (signal: NodeJS.Signals): Effect.Effect<boolean> =>
    Option.isNone(witness)
      ? Effect.succeed(false)
      : Effect.flatMap(
        groupGotByProc(witness.value.pid, signal),
        (got) => got === undefined ? groupGotByExit(witness.value, signal) : Effect.succeed(got)
      )
  // The stop request goes out once the program has the signal (from the group, or passed on here): a
  // keeper that saw the request before the signal would take an idle program for a busy one.
  const forward = (signal: NodeJS.Signals) => {
    Effect.runFork(
      Effect.flatMap(groupGot(signal), (got) => (got ? Effect.void : Effect.ignore(handle.kill({ killSignal: signal })))).pipe(
        Effect.ensuring(Effect.sync(() => RunProcesses.requestStop(statsDir, signal)))
      )
    )
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => forwardedSignals.forEach((signal) => process.on(signal, forward))),
    () => Effect.sync(() => forwardedSignals.forEach((signal) => process.off(signal, forward)))
  )
  return yield* exitOf(handle, plan.program)
})

/** A scoped temporary folder, removed when the scope closes unless `keep.value` was set. */
const makeStatsFolder = (keep: { value: boolean }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* Effect.acquireRelease(
      fs.makeTempDirectory({ directory: tmpdir(), prefix: "lineprof-" }).pipe(
        Effect.mapError((error) => new CommandError({ message: `cannot make a temporary folder: ${describePlatformError(error, tmpdir())}` }))
      ),
      (dir) => (keep.value ? Effect.void : Effect.ignore(fs.remove(dir, { recursive: true })))
    )
  })

/**
 * True when the device of `dir` has no room for a small file (64 KiB): a
 * process whose stats file met ENOSPC leaves no file and no other trace.
 */
const isDeviceFull = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const probe = join(dir, ".lineprof-space-probe")
    const written = yield* Effect.result(fs.writeFile(probe, new Uint8Array(64 * 1024), { flag: "wx" }))
    yield* Effect.ignore(fs.remove(probe))
    if (Result.isSuccess(written)) return false
    const cause: unknown = written.failure.reason.cause
    return typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOSPC"
  })

/** Runs a plan: the program in a scoped stats folder, then `collect`. Sets the exit code as soon as it is known. */
export const runPlan = Effect.fn("RunCommand.runPlan")(function*(
  plan: RunPlan,
  environment: Environment,
  setExitCode: (code: number) => void
) {
  const keep = { value: false }
  const statsDir = yield* makeStatsFolder(keep)
  const childEnv: Record<string, string | undefined> = {
    ...environment.env,
    ...Config.toEnv({ ...plan.config, dir: statsDir }),
    ...RunProcesses.runEnv,
    NODE_OPTIONS: withImport(environment.env["NODE_OPTIONS"], environment.registerPath)
  }
  // The first profiled process measures and caches; the processes it starts take its calibration.
  if (plan.flags.recalibrate) childEnv["LINEPROF_RECALIBRATE"] = "1"
  // Otherwise every process of the run takes the cached calibration as this moment's (siblings too).
  else CalibrationCache.adopt(childEnv)
  // Each profiled process then says how many of its files came from the instrument cache.
  const verbose = yield* Verbose
  if (verbose) childEnv["LINEPROF_VERBOSE"] = "1"
  if (verbose) {
    for (const name of [...Object.values(Config.Variables), "NODE_OPTIONS"]) {
      yield* writeLine(environment.stderr, `lineprof: ${name}=${childEnv[name] ?? ""}`)
    }
  }
  const exit = yield* Effect.scoped(runProgram(plan, childEnv, statsDir, environment.cwd))
  const programCode = exitCodeOf(exit)
  setExitCode(programCode)
  const failed = (message: string) =>
    Effect.andThen(
      writeLine(environment.stderr, `lineprof: ${message}`),
      Effect.sync(() => setExitCode(programCode === 0 ? ExitCode.badInput : programCode))
    )

  // After the program: what it left running, and whether its stats found room.
  const leftBehind = yield* RunProcesses.leftBehind(statsDir)
  if (leftBehind.length > 0) {
    yield* writeLine(
      environment.stderr,
      `lineprof: ${leftBehind.length} ${plural(leftBehind.length, "process")} of the program still running ` +
        `(pid ${leftBehind.join(", ")}): ${leftBehind.length === 1 ? "its" : "their"} stats are not in the report`
    )
  }
  const deviceFull = yield* isDeviceFull(statsDir)

  // 3. merge, write, report; a failure here is lineprof's, not the program's
  const outcome = yield* Effect.result(collect(environment, plan, { statsDir, deviceFull }))
  if (Result.isFailure(outcome)) {
    const error = outcome.failure
    if (error._tag === "OutputWriteError") {
      keep.value = true
      return yield* failed(`${error.message}; the run's stats are kept in ${statsDir} (lineprof merge -o <file> ${statsDir})`)
    }
    return yield* failed(error.message)
  }
  if (outcome.success === "nothing" && deviceFull) {
    return yield* failed(`no space left on the device of ${statsDir}: the program's stats could not be written`)
  }
})

/** The final write of `-o` failed: the run's stats are still in the temporary folder. */
class OutputWriteError extends Schema.TaggedError<OutputWriteError>()("OutputWriteError", { message: Schema.String }) {}

/** When the output changed since the run began (another run wrote it), the next free numbered name beside it (`numberedName`). */
const chooseOutput = Effect.fn("RunCommand.chooseOutput")(function*(environment: Environment, output: OutputTarget) {
  if ((yield* stampOf(output.path)) === output.stamp) return output
  const fs = yield* FileSystem.FileSystem
  for (let n = 2;; n++) {
    const shown = numberedName(output.shown, n)
    const path = resolve(environment.cwd, shown)
    if (!(yield* fs.exists(path).pipe(Effect.orElseSucceed(() => false)))) {
      yield* warn(environment, `${output.shown} was written by another run while this one ran; this run's stats go to ${shown}`)
      return { path, shown, stamp: "absent" }
    }
  }
})

/** What to add when a test runner ran and nothing was recorded. */
const runnerAdvice = {
  vitest: `vitest runs test and source files itself: add lineprof's Vite plugin to vitest.config.ts (import lineprof from "lineprof/vite"; plugins: [lineprof()])`,
  jest: `jest loads test and source files itself: add lineprof's transform to jest.config.js (transform: { "\\\\.[cm]?[jt]sx?$": ["lineprof/jest", { transformer: "babel-jest" }] })`
} as const

/** After the program: merge the stats folder, write the output, print the report. "nothing" when no stats file was found. */
export const collect = Effect.fn("RunCommand.collect")(function*(
  environment: Environment,
  plan: RunPlan,
  run: { readonly statsDir: string; readonly deviceFull: boolean }
) {
  const files = yield* Merge.findStatsFiles([run.statsDir], { cwd: environment.cwd }).pipe(
    Effect.catchTag("MergeInputError", () => Effect.succeed([] as Array<string>))
  )
  if (yield* Verbose) yield* writeLine(environment.stderr, `lineprof: ${files.length} stats files in ${run.statsDir}`)
  if (files.length === 0) {
    if (run.deviceFull) return "nothing" as const
    yield* warn(
      environment,
      plan.testRunner === undefined
        ? "no stats were recorded: no function of a profiled file ran (top-level code is not profiled; see --include / --exclude), or no Node process started; nothing written"
        : `no stats were recorded: ${runnerAdvice[plan.testRunner]}; nothing written`
    )
    return "nothing" as const
  }
  if (run.deviceFull) {
    yield* warn(environment, `no space left on the device of ${run.statsDir}: the stats of some processes may be missing`)
  }
  const feedback = mergeFeedback(environment)
  const merged = yield* Merge.mergeFiles(files, {
    skipBad: true,
    onBad: feedback.onBad,
    progress: feedback.makeProgress(files.length)
  })
  if (merged.mergedFiles === 0) {
    yield* warn(environment, "every stats file was bad; nothing written")
    return "nothing" as const
  }
  const output = yield* chooseOutput(environment, plan.output)
  // --format pprof writes -o as pprof whatever its name; else the name decides (a .pb.gz is pprof).
  yield* StatsFiles.write(output.path, merged.profile, { shownPath: output.shown, format: plan.flags.format === "pprof" ? "pprof" : undefined }).pipe(
    Effect.mapError((error) => new OutputWriteError({ message: error.message }))
  )
  if (merged.profile.functions.length === 0) {
    yield* warn(environment, "no profiled function ran: check --include / --exclude")
  }
  if (plan.flags.report) {
    if (plan.flags.format === "html") {
      const htmlShown = output === plan.output ? plan.html!.shown : htmlNameOf(output.shown)
      const html = renderReport(merged.profile, { ...plan.flags, format: plan.flags.format }, { cwd: environment.cwd, colour: false, title: `lineprof: ${plan.shownCommand}` })
      yield* writeTextAtomic(resolve(environment.cwd, htmlShown), html, htmlShown)
      yield* writeLine(environment.stderr, `lineprof: wrote the HTML report to ${htmlShown}`)
    } else if (plan.flags.format === "text") {
      const colour = Terminal.shouldColour(environment.stderr, environment.env)
      const report = renderReport(merged.profile, { ...plan.flags, format: plan.flags.format }, { cwd: environment.cwd, colour })
      yield* Effect.sync(() => void environment.stderr.write(`\n${report}`))
    }
  }
  yield* writeLine(
    environment.stderr,
    `lineprof: wrote ${output.shown} (${merged.mergedFiles} ${plural(merged.mergedFiles, "stats file")} merged)`
  )
  return "written" as const
})

// -- the command --------------------------------------------------------------------------

export const makeRun = (environment: Environment, setExitCode: (code: number) => void) =>
  Command.make(
    "run",
    {
      output: pathFlag("output").pipe(
        Flag.withAlias("o"),
        Flag.optional,
        Flag.withDescription(
          "the merged stats file (default: <script>.lineprof.json in the current folder; <command>.lineprof.json when it runs no script, e.g. vitest.lineprof.json for npx vitest run)"
        )
      ),
      report: Flag.Boolean("report").pipe(
        Flag.withDefault(true),
        Flag.withDescription("print the report when the program ends (--no-report: only write the stats file)")
      ),
      include: Flag.String("include").pipe(
        Flag.atLeast(0),
        Flag.withDescription(
          "globs of files to profile, repeatable or comma-separated (default: files under the current folder and the script's); what you name is profiled even under node_modules"
        )
      ),
      exclude: Flag.String("exclude").pipe(
        Flag.atLeast(0),
        Flag.withDescription("globs of files never profiled, repeatable or comma-separated; wins over --include (default: **/node_modules/** when no --include is given; --exclude '' excludes nothing)")
      ),
      function: Flag.String("function").pipe(
        Flag.atLeast(0),
        Flag.withDescription("globs of qualified function names to profile (Parser.parse*, *Token*), repeatable or comma-separated; the rest runs unprofiled (default: every function)")
      ),
      recalibrate: Flag.Boolean("recalibrate").pipe(
        Flag.withDefault(false),
        Flag.withDescription("measure the probe cost again instead of taking it from the cache (~/.cache/lineprof; or LINEPROF_RECALIBRATE=1)")
      ),
      timing: Flag.Literals("timing", ["exact", "sampled"]).pipe(
        Flag.optional,
        Flag.withDescription(
          "line times: exact (a clock read at each line event; the default, or LINEPROF_TIMING) or sampled (a sampler thread every ~1 ms, LINEPROF_SAMPLE_INTERVAL_US; for line-heavy programs)"
        )
      ),
      sourceMaps: Flag.Boolean("source-maps").pipe(
        Flag.withDefault(true),
        Flag.withDescription("report files that have a source map in their original sources (--no-source-maps: the generated code, or LINEPROF_SOURCE_MAPS=0)")
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
      format: Flag.Literals("format", ["text", "json", "html", "pprof"]).pipe(
        Flag.withDefault("text" as const),
        Flag.withDescription(
          "report format: text (on stderr, line_profiler layout), html (a self-contained page written beside -o as <output>.html), json (no report: the stats file -o is the JSON) or pprof (no report: -o is gzipped profile.proto, default <script>.lineprof.pb.gz)"
        )
      )
    },
    (input) =>
      Effect.gen(function*() {
        const plan = yield* planRun(input, environment)
        return yield* runPlan(plan, environment, setExitCode)
      }).pipe(Effect.scoped, Effect.uninterruptible)
  ).pipe(
    Command.withDescription(
      "Run a Node script or any command with lineprof's hooks in every process and worker thread it starts, " +
        "then merge their stats into one file and print the report on stderr (stdout stays the program's). " +
        "stdin, stdout, stderr and the exit code are the program's; SIGINT, SIGTERM and SIGHUP sent to lineprof are passed on to it."
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
