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
 *   value, missing argument; `run` under a Node older than 22.19), and for
 *   `run` the program's own exit code (128 + signal number when it was
 *   killed by a signal; 1 for a program's 0 when lineprof could not write
 *   the output or the stats found no room).
 * - Errors are ONE line on stderr, `lineprof: <message>`, with no stack trace
 *   unless `--verbose` is given.
 * - Output files (`-o`) are written atomically: on any failure the previous
 *   file is untouched and no partial file is left behind.
 * - `run` never writes to stdout, which belongs to the program: the report
 *   goes to stderr once the program has exited (an HTML report to a file
 *   next to the stats file). `show` writes the report to stdout or `-o`;
 *   `merge` writes only OUT and a one-line summary on stderr.
 *
 * One module per command (RunCommand, ShowCommand, MergeCommand); Flags and
 * Output hold what they share; Environment the world, exit codes and errors.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { CliConfig, CliError, CliOutput, Command, GlobalFlag } from "effect/cli"
import { type Environment, ExitCode, UsageError, version } from "./Environment.ts"
import { Verbose } from "./Flags.ts"
import { isScript, writeLine } from "./Output.ts"
import { makeMerge } from "./MergeCommand.ts"
import { makeRun } from "./RunCommand.ts"
import { makeRunner } from "./RunnerCommand.ts"
import { makeShow } from "./ShowCommand.ts"
import * as Terminal from "./Terminal.ts"

export * from "./Environment.ts"
export { describeInputs, isScript, renderReport, writeTextAtomic } from "./Output.ts"
export { commandNameOf, defaultInclude, defaultOutputOf, exitCodeOf, isNodeTooOld, numberedName, parseInterval, planRun, type RunInput, type RunPlan, scriptOf, testRunnerOf, withImport } from "./RunCommand.ts"

// -- the command tree and main --------------------------------------------------------

/** The `lineprof` command tree. `setExitCode` receives the program's exit code from `run`. */
export const makeCommand = (environment: Environment, setExitCode: (code: number) => void) =>
  Command.make("lineprof").pipe(
    Command.withDescription(
      "Line-by-line profiler for Node.js and TypeScript: hits, time, time per hit and % time of every line, " +
        "across worker threads and child processes. Exit codes: 0 ok, 1 bad input, 2 usage, run: the program's."
    ),
    Command.withGlobalFlags([Verbose]),
    Command.withSubcommands([makeRun(environment, setExitCode), makeShow(environment), makeMerge(environment), makeRunner(environment)]),
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
const runValueFlags = new Set(["-o", "--output", "--unit", "--format", "--include", "--exclude", "--function", "--interval", "--completions"])

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
