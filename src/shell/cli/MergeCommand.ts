/** `lineprof merge INPUT… -o OUT`: fold stats files, folders and globs into one stats file, exactly. */
import { resolve } from "node:path"
import * as Effect from "effect/Effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Merge from "../files/Merge.ts"
import * as StatsFiles from "../files/StatsFiles.ts"
import { CommandError, type Environment } from "./Environment.ts"
import { pathArgument, pathFlag, skipBadFlag, sourceRootFlag } from "./Flags.ts"
import { checkOutputPath, mergeFeedback, notePassedOver, plural, resolveSourceRoot, warn, writeLine } from "./Output.ts"
import { withRunHint } from "./ShowCommand.ts"

// -- merge --------------------------------------------------------------------------------

export const makeMerge = (environment: Environment) =>
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
      skipBad: skipBadFlag,
      sourceRoot: sourceRootFlag
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
        const sourceRoot = yield* resolveSourceRoot(environment, input.sourceRoot)
        const merged = yield* Merge.mergeInputs(input.inputs, {
          cwd: environment.cwd,
          ignore: [outputPath],
          skipBad: input.skipBad,
          sourceRoot,
          ...mergeFeedback(environment)
        }).pipe(Effect.mapError(withRunHint))
        // Found in a folder or by a glob, the output is left out, which is right
        // for a rerun, but its current contents are then lost: say so.
        if (!outputIsInput && merged.leftOut.length > 0) {
          yield* warn(environment, `${input.output} lies under an input: its current contents are left out of the merge and overwritten`)
        }
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
