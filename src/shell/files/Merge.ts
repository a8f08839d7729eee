/**
 * Merging many stats files into one profile, as `lineprof merge`, `show` and
 * `run` do. Inputs are files, folders (searched recursively for stats files,
 * see `findStats`) and globs; they expand to a sorted, duplicate-free list of files.
 *
 * Contract:
 * - Exact: the result is `Profile.combine` of every file's profile, so it does
 *   not depend on the order of the files (integer counters, a commutative monoid).
 * - Memory stays flat however many files there are: files are read one at a
 *   time and folded into the running total, so at most one file's profile and
 *   the total are alive at once (bench/merge.bench.ts measures it).
 * - A bad file stops the merge with its `StatsFileError` (one line naming the
 *   file and the problem), unless `skipBad` is set: then `onBad` is told about
 *   it and the merge goes on without it.
 * - Inputs that name nothing (a missing path, a glob that matches nothing, a
 *   folder without `*.json`, `*.lprof` or `*.pb.gz`) fail with `MergeInputError`, before
 *   any file is read.
 * - A folder search selects stats files only: it does not descend into
 *   `node_modules` or `.git`, and a `*.json` it finds that is JSON but no
 *   lineprof document (a package.json) is passed over while folding (it is
 *   read once, like every file); `mergeInputs` then fails a folder all of
 *   whose files were passed over, as a folder without stats files. A file
 *   named outright or matched by a glob is always read and reported when bad.
 */
import { readdir } from "node:fs/promises"
import { isAbsolute, join, relative, resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Schema from "effect/Schema"
import * as Profile from "../../core/Profile.ts"
import * as RawFiles from "./RawFiles.ts"
import * as StatsFiles from "./StatsFiles.ts"
import type { Progress } from "../cli/Terminal.ts"

/** An input that names no stats file: `message` is one line naming the input and the problem. */
export class MergeInputError extends Schema.TaggedError<MergeInputError>()("MergeInputError", {
  input: Schema.String,
  message: Schema.String
}) {}

/** File names a folder search picks up: lineprof JSON stats files, Python line_profiler dumps and pprof files. */
export const isStatsFileName = (name: string): boolean => name.endsWith(".json") || name.endsWith(".lprof") || name.endsWith(".pb.gz")

const globChars = /[*?[\]{}]/

/** True when `input` reads as a glob pattern rather than a path. */
export const isGlob = (input: string): boolean => globChars.test(input)

const errnoCode = RawFiles.errnoOf

/** Folders a folder search does not descend into: installed packages and git's own files hold no stats. */
export const skippedFolderNames: ReadonlySet<string> = new Set(["node_modules", ".git"])

/**
 * Every stats file name under `dir`, at any depth, except below folders in
 * `skippedFolderNames`; folders named like stats files are not files and are
 * skipped, and symbolic links are not followed.
 */
const walkFolder = (dir: string, input: string): Effect.Effect<Array<string>, MergeInputError> =>
  Effect.tryPromise({
    try: async () => {
      const files: Array<string> = []
      const pending = [dir]
      for (let folder = pending.pop(); folder !== undefined; folder = pending.pop()) {
        for (const entry of await readdir(folder, { withFileTypes: true })) {
          if (entry.isDirectory()) {
            if (!skippedFolderNames.has(entry.name)) pending.push(join(folder, entry.name))
          } else if (entry.isFile() && isStatsFileName(entry.name)) {
            files.push(join(folder, entry.name))
          }
        }
      }
      return files
    },
    catch: (error) => new MergeInputError({ input, message: `${input}: cannot read folder: ${RawFiles.describeError(error)}` })
  })

/**
 * An input whose files came from walking folders (a folder, or a glob that
 * matched folders): if every one of them turns out not to be a stats file,
 * the input fails with `message`.
 */
export interface WalkedInput {
  readonly input: string
  readonly message: string
  /** The files its walks found, spelled as in `FoundFiles.paths`. */
  readonly files: ReadonlyArray<string>
}

/** What `findStats` found. */
export interface FoundFiles {
  /** The files to merge: sorted, without duplicates. */
  readonly paths: Array<string>
  /**
   * The subset of `paths` found only by walking a folder (not named outright
   * nor matched by a glob): a `*.json` among them that is JSON but no lineprof
   * document is passed over instead of failing the merge.
   */
  readonly walked: ReadonlySet<string>
  /** Inputs that walked folders, in input order, with the files they found. */
  readonly walkedInputs: ReadonlyArray<WalkedInput>
  /** Files in `ignore` that a folder or glob would have given (spelled as found): left out of `paths`. */
  readonly leftOut: ReadonlyArray<string>
}

const noStatsInFolder = (input: string): string => `${input}: no stats files (*.json, *.lprof, *.pb.gz) in this folder`

/**
 * Expands inputs into the stats files to merge: a file stays itself (whatever
 * its name, so a bad file is reported rather than skipped), a folder gives
 * the stats files under it (see `walkFolder`), a glob the files it matches and
 * the stats files under the folders it matches.
 * Files in `ignore` (absolute paths, e.g. the merge's own output) are left
 * out of folder and glob expansions. The result is sorted and without
 * duplicates (the same file reached twice counts once). Paths keep the
 * spelling of the input they came from (`runs/` gives `runs/a/1.json`), so
 * messages name files as the user wrote them; relative paths are made
 * absolute when `cwd` is not the process's current directory.
 */
export const findStats = (
  inputs: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly ignore?: ReadonlyArray<string> } = {}
): Effect.Effect<FoundFiles, MergeInputError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const cwd = options.cwd ?? process.cwd()
    const keepRelative = resolve(cwd) === process.cwd()
    const fs = yield* FileSystem.FileSystem
    const ignored = new Set(options.ignore ?? [])
    // Absolute path -> the path as shown and read.
    const found = new Map<string, string>()
    // Absolute paths reached other than by walking a folder.
    const named = new Set<string>()
    const walks: Array<{ readonly input: string; readonly message: string; readonly files: Array<string> }> = []
    const leftOut = new Map<string, string>()
    const addFound = (spelling: string, options: { readonly force?: boolean; readonly walk?: Array<string> } = {}): number => {
      const path = resolve(cwd, spelling)
      if (options.force !== true && ignored.has(path)) {
        leftOut.set(path, keepRelative || isAbsolute(spelling) ? spelling : path)
        return 0
      }
      found.set(path, keepRelative || isAbsolute(spelling) ? spelling : path)
      if (options.walk === undefined) named.add(path)
      else options.walk.push(path)
      return 1
    }
    for (const input of inputs) {
      const path = resolve(cwd, input)
      const info = yield* fs.stat(path).pipe(
        Effect.map((stats) => (stats.type === "Directory" ? ("folder" as const) : ("file" as const))),
        Effect.catch((error) =>
          Effect.succeed(errnoCode(error) === "ENOENT" || error.reason._tag === "NotFound" ? ("missing" as const) : ("file" as const))
        )
      )
      if (info === "file") {
        // Unreadable files are reported by the reader, with the file's name.
        addFound(input, { force: true })
      } else if (info === "folder") {
        const walk = { input, message: noStatsInFolder(input), files: [] as Array<string> }
        for (const file of yield* walkFolder(path, input)) addFound(join(input, relative(path, file)), { walk: walk.files })
        if (walk.files.length === 0) return yield* new MergeInputError({ input, message: walk.message })
        walks.push(walk)
      } else if (isGlob(input)) {
        const matches = yield* fs.glob(input, { root: cwd }).pipe(
          Effect.mapError((error) => new MergeInputError({ input, message: `${input}: bad glob: ${error.message.split("\n")[0]}` }))
        )
        const walk = {
          input,
          message: `${input}: no stats files (*.json, *.lprof, *.pb.gz) in the folders this pattern matches`,
          files: [] as Array<string>
        }
        let matched = 0
        for (const match of matches) {
          const matchPath = resolve(cwd, match)
          const isFolder = yield* fs.stat(matchPath).pipe(
            Effect.map((stats) => stats.type === "Directory"),
            Effect.orElseSucceed(() => false)
          )
          if (isFolder) {
            for (const file of yield* walkFolder(matchPath, match)) {
              matched += addFound(join(match, relative(matchPath, file)), { walk: walk.files })
            }
          } else {
            matched += addFound(match)
          }
        }
        if (matched === 0) return yield* new MergeInputError({ input, message: `${input}: no files match this pattern` })
        // Only a pattern that matched nothing but folders can end up without stats files.
        if (walk.files.length === matched) walks.push(walk)
      } else {
        return yield* new MergeInputError({ input, message: `${input}: no such file or folder` })
      }
    }
    const walked = new Set<string>()
    for (const [path, spelling] of found) if (!named.has(path)) walked.add(spelling)
    return {
      paths: [...found.values()].sort(),
      walked,
      walkedInputs: walks.map((walk) => ({ ...walk, files: walk.files.map((path) => found.get(path)!) })),
      leftOut: [...leftOut].filter(([path]) => !found.has(path)).map(([, spelling]) => spelling).sort()
    }
  })

/** `findStats`, the files only. */
export const findStatsFiles = (
  inputs: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly ignore?: ReadonlyArray<string> } = {}
): Effect.Effect<Array<string>, MergeInputError, FileSystem.FileSystem> =>
  Effect.map(findStats(inputs, options), (found) => found.paths)

/** A file that was left out of a merge with `skipBad`, and why (one line). */
export interface SkippedFile {
  readonly path: string
  readonly message: string
}

/** What a merge produced. */
export interface MergeResult {
  readonly profile: Profile.Profile
  /** Files whose stats are in `profile`. */
  readonly mergedFiles: number
  /** Files left out because they were bad (only with `skipBad`). */
  readonly skipped: ReadonlyArray<SkippedFile>
  /** Files found by walking a folder and passed over: JSON, but no lineprof stats (a package.json). */
  readonly passedOver: ReadonlyArray<string>
  /** Files a folder or glob matched that were left out because they are in `ignore` (the merge's own output). */
  readonly leftOut: ReadonlyArray<string>
}

/** Options of `mergeFiles`. */
export interface MergeOptions {
  /** Leave bad files out instead of stopping at the first one. */
  readonly skipBad?: boolean
  /** Told about each bad file left out (with `skipBad`), as it happens. */
  readonly onBad?: (skipped: SkippedFile) => Effect.Effect<void>
  /** Told how many files were done after each one. */
  readonly progress?: Progress
  /**
   * Files found by walking a folder (`FoundFiles.walked`): a `*.json` among
   * them that is JSON but no lineprof document is passed over, not an error.
   */
  readonly walked?: ReadonlySet<string>
  /** Where a .lprof's Python sources may be read from (see `Lprof.ReadOptions`); default: the current directory. */
  readonly sourceRoot?: string | undefined
}

/**
 * Folds the stats files at `paths` into one profile, one file at a time (see
 * the module contract), reading each file once. Fails with the first bad
 * file's error unless `skipBad`; a foreign `*.json` in `walked` is passed
 * over whatever `skipBad` says.
 */
export const mergeFiles = (
  paths: ReadonlyArray<string>,
  options: MergeOptions = {}
): Effect.Effect<MergeResult, StatsFiles.StatsFileError | MergeInputError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    let profile = Profile.empty
    let mergedFiles = 0
    const skipped: Array<SkippedFile> = []
    const passedOver: Array<string> = []
    for (let index = 0; index < paths.length; index++) {
      const path = paths[index]!
      const next = yield* StatsFiles.read(path, { sourceRoot: options.sourceRoot }).pipe(
        Effect.map((value) => value as Profile.Profile | undefined),
        Effect.catch((error: StatsFiles.StatsFileError) => {
          if (error.foreign === true && path.endsWith(".json") && options.walked?.has(path) === true) {
            passedOver.push(path)
            return Effect.succeed(undefined)
          }
          if (options.skipBad !== true) return Effect.fail(error)
          const bad: SkippedFile = { path, message: error.message }
          skipped.push(bad)
          return (options.onBad?.(bad) ?? Effect.void).pipe(Effect.as(undefined))
        })
      )
      if (next !== undefined) {
        profile = Profile.combine(profile, next)
        // Sampled and exact Times measure different things: the first file that mixes them stops the merge.
        const mixed = Profile.mixedTimingProblem(Profile.timingOf(profile))
        if (mixed !== undefined) {
          const own = Profile.timingOf(next)?.mode ?? "exact"
          return yield* new MergeInputError({ input: path, message: `${path}: ${own} timing: ${mixed}` })
        }
        mergedFiles++
      }
      options.progress?.tick(index + 1)
    }
    return { profile, mergedFiles, skipped, passedOver, leftOut: [] }
  }).pipe(Effect.ensuring(Effect.sync(() => options.progress?.finish())))

/**
 * `findStats` then `mergeFiles`. A folder input whose files were all passed
 * over fails with `MergeInputError` (`DIR: no stats files (*.json, *.lprof, *.pb.gz) in
 * this folder`), as a folder without any `*.json` does.
 */
export const mergeInputs = (
  inputs: ReadonlyArray<string>,
  options: MergeOptions & {
    readonly cwd?: string
    readonly ignore?: ReadonlyArray<string>
    readonly makeProgress?: (total: number) => Progress
  } = {}
): Effect.Effect<MergeResult, MergeInputError | StatsFiles.StatsFileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const found = yield* findStats(inputs, options)
    const progress = options.makeProgress?.(found.paths.length)
    const result = yield* mergeFiles(found.paths, { ...options, walked: found.walked, ...(progress === undefined ? {} : { progress }) })
    if (result.passedOver.length > 0) {
      const passedOver = new Set(result.passedOver)
      const empty = found.walkedInputs.find((walk) => walk.files.every((file) => passedOver.has(file)))
      if (empty !== undefined) return yield* new MergeInputError({ input: empty.input, message: empty.message })
    }
    return { ...result, leftOut: found.leftOut }
  })
