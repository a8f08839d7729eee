/**
 * What the commands write: lines and warnings on a stream, a rendered report,
 * an output file written atomically, and the checks and messages around
 * output paths and merges.
 */
import { stat } from "node:fs/promises"
import { dirname } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import type * as Profile from "../../core/Profile.ts"
import * as StatsFile from "../../core/StatsFile.ts"
import * as Html from "../../core/render/Html.ts"
import * as Text from "../../core/render/Text.ts"
import type * as Merge from "../files/Merge.ts"
import * as StatsFiles from "../files/StatsFiles.ts"
import { CommandError, type Environment } from "./Environment.ts"
import { defaultUnit, type RenderFlags, units } from "./Flags.ts"
import * as Terminal from "./Terminal.ts"

// -- output helpers ---------------------------------------------------------------------

export const writeLine = (stream: Terminal.Stream, line: string) => Effect.sync(() => void stream.write(`${line}\n`))

export const warn = (environment: Environment, message: string) => writeLine(environment.stderr, `lineprof: warning: ${message}`)

/** Renders a profile in the chosen format; colour only for text on a terminal. (pprof is bytes: `StatsFiles.write`.) */
export const renderReport = (
  profile: Profile.Profile,
  flags: RenderFlags & { readonly format: Exclude<RenderFlags["format"], "pprof"> },
  options: { readonly cwd: string; readonly colour: boolean; readonly title?: string }
): string => {
  switch (flags.format) {
    case "json":
      return StatsFile.encode(profile)
    case "html":
      return Html.render(profile, { title: options.title, cwd: options.cwd, skipZero: flags.skipZero })
    case "text":
      return Text.render(profile, { ...renderOptions(flags, options.cwd), colour: options.colour ? Terminal.reportColour : undefined })
  }
}

export const renderOptions = (flags: RenderFlags, cwd: string) => ({
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

export const describePlatformError = (
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
export const checkOutputPath = (path: string, shown: string) =>
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
export const mergeFeedback = (environment: Environment) => {
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
export const notePassedOver = (environment: Environment, merged: Merge.MergeResult) =>
  merged.passedOver.length === 0
    ? Effect.void
    : writeLine(
      environment.stderr,
      `lineprof: passed over ${merged.passedOver.length} .json ${plural(merged.passedOver.length, "file")} ` +
        `that ${merged.passedOver.length === 1 ? "is" : "are"} not lineprof stats: ${describeInputs(merged.passedOver)}`
    )


export const plural = (count: number, word: string): string => (count === 1 ? word : `${word}s`)

/** A script run with lineprof's own Node; anything else is a command run as given. */
export const isScript = (program: string): boolean => /\.(?:[cm]?js|[cm]?ts)$/.test(program)

/** The inputs for a report's title: all of a few, the first three of many (a shell-expanded glob can name thousands). */
export const describeInputs = (inputs: ReadonlyArray<string>): string =>
  inputs.length <= 4 ? inputs.join(", ") : `${inputs.slice(0, 3).join(", ")} and ${inputs.length - 3} more`
