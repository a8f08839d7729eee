/** `lineprof show FILE…`: render stats files (merged first; .lprof dumps too) as text, json or html, to stdout or -o. */
import { resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Argument, Command, Flag } from "effect/cli"
import * as Lprof from "../files/Lprof.ts"
import * as Merge from "../files/Merge.ts"
import * as StatsFiles from "../files/StatsFiles.ts"
import { CommandError, type Environment, UsageError } from "./Environment.ts"
import { pathArgument, pathFlag, renderFlags, skipBadFlag, sourceRootFlag } from "./Flags.ts"
import {
  checkOutputPath,
  describeInputs,
  isScript,
  mergeFeedback,
  notePassedOver,
  renderReport,
  resolveSourceRoot,
  writeTextAtomic
} from "./Output.ts"
import * as Terminal from "./Terminal.ts"

// -- show ---------------------------------------------------------------------------------

/**
 * A script given where a stats file belongs (`lineprof show app.js`) fails to
 * decode like any bad file; its message then says how to profile it instead.
 */
export const withRunHint = <E extends { readonly message: string }>(error: E): E | StatsFiles.StatsFileError =>
  error instanceof StatsFiles.StatsFileError && isScript(error.path)
    ? new StatsFiles.StatsFileError({
      path: error.path,
      message: `${error.message} (a script? profile it with: lineprof run -- ${error.path})`
    })
    : error


export const makeShow = (environment: Environment) =>
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
      sourceRoot: sourceRootFlag,
      ...renderFlags
    },
    (input) =>
      Effect.gen(function* () {
        const outputPath = Option.map(input.output, (path) => resolve(environment.cwd, path))
        if (input.format === "pprof" && Option.isNone(outputPath)) {
          return yield* new UsageError({ message: "show: --format pprof writes binary data: name the file with -o (e.g. -o prof.pb.gz)" })
        }
        if (Option.isSome(outputPath)) yield* checkOutputPath(outputPath.value, Option.getOrThrow(input.output))
        const sourceRoot = yield* resolveSourceRoot(environment, input.sourceRoot)
        const merged = yield* Merge.mergeInputs(input.files, {
          cwd: environment.cwd,
          skipBad: input.skipBad,
          sourceRoot,
          ...mergeFeedback(environment)
        }).pipe(Effect.mapError(withRunHint))
        yield* notePassedOver(environment, merged)
        if (merged.mergedFiles === 0) return yield* new CommandError({ message: "no good stats files to show" })
        // A stats file merged from .lprof dumps away from their .py files has no source for them: look again from here.
        const profile = yield* Lprof.withPythonSources(merged.profile, { sourceRoot })
        if (input.format === "pprof") {
          const output = Option.getOrThrow(input.output)
          return yield* StatsFiles.write(Option.getOrThrow(outputPath), profile, { shownPath: output, format: "pprof" })
        }
        const format = input.format
        const title = `lineprof: ${describeInputs(input.files)}`
        const colour = Option.isNone(outputPath) && Terminal.shouldColour(environment.stdout, environment.env)
        const report = renderReport(profile, { ...input, format }, { cwd: environment.cwd, colour, title })
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
      { command: "lineprof show run.lprof", description: "a Python line_profiler dump" },
      { command: "lineprof show --format pprof -o prof.pb.gz app.js.lineprof.json", description: "pprof (gzipped profile.proto) for go tool pprof" },
      { command: "lineprof show --source-root ~/project run.lprof", description: "read the dump's Python sources from ~/project" }
    ])
  )
