/**
 * What the commands write: lines and warnings on a stream, a rendered report,
 * an output file written atomically, and the checks and messages around
 * output paths and merges.
 */
import { dirname, resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import type * as Profile from "../../core/Profile.ts"
import * as StatsFile from "../../core/StatsFile.ts"
import * as Html from "../../core/render/Html.ts"
import * as Text from "../../core/render/Text.ts"
import type * as Merge from "../files/Merge.ts"
import * as RawFiles from "../files/RawFiles.ts"
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

/**
 * Writes `text` to `path` atomically (`RawFiles.writeFileAtomic`: temporary
 * sibling, fsync, rename). Messages name the file as `shown` and word the
 * errno with the one table (`no space left on the device`).
 */
export const writeTextAtomic = (
  path: string,
  text: string,
  shown: string = path
): Effect.Effect<void, CommandError, FileSystem.FileSystem> =>
  RawFiles.writeFileAtomic(path, text).pipe(
    Effect.mapError((error) => new CommandError({ message: `${shown}: cannot write: ${describePlatformError(error, shown)}` }))
  )

/** One line for a failed write of `shown`: a missing folder named, other errors worded by `RawFiles`' errno table. */
export const describePlatformError = (error: unknown, shown: string): string =>
  RawFiles.errnoOf(error) === "ENOENT" || (error instanceof RawFiles.RawFileError && error.code === "ENOENT")
    ? `folder ${dirname(shown)} does not exist`
    : RawFiles.describeError(error)

/**
 * Fails before any work when `path` (shown as `shown`) cannot be an output
 * file: it is a folder, its folder does not exist, or a parent of it is a
 * file. `run` checks this before it starts the program, so a long run is not
 * lost at the end.
 */
export const checkOutputPath = (path: string, shown: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const kind = (candidate: string) =>
      fs.stat(candidate).pipe(
        Effect.map((info) => (info.type === "Directory" ? ("folder" as const) : ("file" as const))),
        Effect.orElseSucceed(() => "missing" as const)
      )
    if ((yield* kind(path)) === "folder") return yield* new CommandError({ message: `${shown}: is a folder; -o needs a file path` })
    // The nearest ancestor that exists says why the folder cannot hold the file.
    let folder = dirname(path)
    let shownFolder = dirname(shown)
    let found = yield* kind(folder)
    if (found === "folder") return
    while (found === "missing" && dirname(folder) !== folder) {
      folder = dirname(folder)
      shownFolder = dirname(shownFolder)
      found = yield* kind(folder)
    }
    return yield* new CommandError({
      message: found === "file"
        ? `${shown}: cannot write: ${shownFolder} is a file, not a folder`
        : `${shown}: cannot write: folder ${dirname(shown)} does not exist`
    })
  })

/**
 * The folder `--source-root` names, absolute, or the current folder when it
 * is not given. Fails with one line when it is not a folder.
 */
export const resolveSourceRoot = (environment: Environment, sourceRoot: Option.Option<string>) =>
  Option.match(sourceRoot, {
    onNone: () => Effect.succeed(environment.cwd),
    onSome: (shown) => {
      const path = resolve(environment.cwd, shown)
      return FileSystem.FileSystem.pipe(
        Effect.flatMap((fs) => fs.stat(path)),
        Effect.map((info) => info.type === "Directory"),
        Effect.orElseSucceed(() => false),
        Effect.flatMap((isFolder) =>
          isFolder ? Effect.succeed(path) : Effect.fail(new CommandError({ message: `--source-root ${shown}: no such folder` }))
        )
      )
    }
  })

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
