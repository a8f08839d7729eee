/**
 * Reading Python line_profiler dumps (.lprof) from disk into profiles that
 * carry their source text.
 *
 * Contract:
 * - `read(path)` reads the file, decodes it with the safe `core/Lprof.decode`
 *   (nothing in the pickle is ever executed), then fills each function's
 *   `source` and `lastLine` from the file the dump names, resolved against
 *   the source root, as line_profiler itself does from where it runs. The
 *   block runs from the `def` to where the indentation returns to its level
 *   (`core/PythonSource`). A source that cannot be read, or may not be,
 *   leaves `source` undefined, so reports say the file could not be found.
 * - A dump is data from elsewhere, so the files it names are read only when
 *   they are regular `.py` files of at most `maxSourceBytes` under the
 *   source root (`sourceRoot`, default: the current directory), once every
 *   symbolic link is resolved: a dump naming `../../etc/passwd`, `/proc/…` or
 *   a link that leaves the root gets no source, and none of that text reaches
 *   a report or a merged stats file.
 * - Every failure is an `LprofFileError` whose `message` is one line starting
 *   with the path.
 *
 * Needs `FileSystem` (`NodeFileSystem.layer` from @effect/platform-node).
 */
import { isAbsolute, relative, resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Lprof from "../../core/python/Lprof.ts"
import * as Profile from "../../core/Profile.ts"
import * as PythonSource from "../../core/python/PythonSource.ts"
import * as RawFiles from "./RawFiles.ts"

/** A .lprof file could not be read; `message` is one line starting with the path. */
export class LprofFileError extends Schema.TaggedError<LprofFileError>()("LprofFileError", {
  path: Schema.String,
  message: Schema.String
}) {}

export interface ReadOptions {
  /**
   * The folder Python sources are read from: relative paths in a dump resolve
   * against it, and no file outside it is read. Default: the current directory.
   */
  readonly sourceRoot?: string | undefined
}

/** The largest Python source file read for a report: 16 MB. */
export const maxSourceBytes = 16 * 2 ** 20

/** The largest .lprof file read: 256 MB (line_profiler's dumps of big programs are a few MB). */
export const maxLprofBytes = 256 * 2 ** 20

/**
 * The most source lines filled into one profile: 1,000,000. Many functions of
 * a dump may start in one big block (a dump may name any first line), and
 * each would carry a copy of it.
 */
export const maxSourceLines = 1_000_000

/** True for names ending in `.lprof` (the extension line_profiler and kernprof write). */
export const hasLprofExtension = RawFiles.hasLprofExtension

/** True when the bytes start like a pickle of protocol 2 to 5 (every .lprof of line_profiler 3 and later). */
export const looksLikeLprof = Lprof.looksLikeLprof

const isInside = (root: string, path: string): boolean => {
  const fromRoot = relative(root, path)
  return fromRoot !== "" && !fromRoot.startsWith("..") && !isAbsolute(fromRoot)
}

/**
 * The text of the Python source `file` names, when it may be read (see the
 * module contract); undefined otherwise.
 */
const readPythonSource = (fs: FileSystem.FileSystem, realRoot: string, file: string) =>
  Effect.gen(function*() {
    // Only the resolved path counts: the root may be spelled through a link, and a link may leave it.
    const real = yield* fs.realPath(resolve(realRoot, file))
    if (!real.endsWith(".py") || !isInside(realRoot, real)) return undefined
    const bytes = yield* RawFiles.readRegularFile(real, { maxBytes: maxSourceBytes })
    return new TextDecoder("utf-8").decode(bytes)
  }).pipe(Effect.orElseSucceed(() => undefined))

/**
 * Fills source text and block ends from the files the profile names, where
 * they may be read (see the module contract); others are skipped. Functions
 * that already carry source keep it.
 */
export const withSources = (
  profile: Profile.Profile,
  options: ReadOptions = {}
): Effect.Effect<Profile.Profile, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const files = new Set(profile.functions.filter((fn) => fn.source === undefined).map((fn) => fn.file))
    if (files.size === 0) return profile
    const root = resolve(options.sourceRoot ?? process.cwd())
    const realRoot = yield* fs.realPath(root).pipe(Effect.orElseSucceed(() => undefined))
    if (realRoot === undefined) return profile
    const fileTexts = new Map<string, string>()
    for (const file of files) {
      const text = yield* readPythonSource(fs, realRoot, file)
      if (text !== undefined) fileTexts.set(file, text)
    }
    return PythonSource.withSources(profile, fileTexts, { maxSourceLines })
  })

/**
 * `withSources` for the functions that came from Python dumps only (they have
 * no file hash; lineprof's own functions always have one, and their blocks do
 * not end by indentation). For stats files that were merged from .lprof dumps
 * where the Python files were not at hand: `show` then finds the source as
 * line_profiler does, from where it runs.
 */
export const withPythonSources = (
  profile: Profile.Profile,
  options: ReadOptions = {}
): Effect.Effect<Profile.Profile, never, FileSystem.FileSystem> => {
  const needsSource = (fn: Profile.FunctionProfile): boolean => fn.source === undefined && fn.fileHash === ""
  const python = profile.functions.filter(needsSource)
  if (python.length === 0) return Effect.succeed(profile)
  const others = profile.functions.filter((fn) => !needsSource(fn))
  return Effect.map(withSources({ functions: python }, options), (filled) => Profile.make([...others, ...filled.functions]))
}

/** Decodes the bytes of a .lprof file named `path` and fills its sources. */
export const decodeBytes = (
  path: string,
  bytes: Uint8Array,
  options: ReadOptions = {}
): Effect.Effect<Profile.Profile, LprofFileError, FileSystem.FileSystem> => {
  const decoded = Lprof.decode(bytes)
  if (Result.isFailure(decoded)) {
    return Effect.fail(new LprofFileError({ path, message: `${path}: ${decoded.failure.message}` }))
  }
  return withSources(decoded.success, options)
}

/** Reads a .lprof file into a profile with its sources (see the module comment). */
export const read = (
  path: string,
  options: ReadOptions = {}
): Effect.Effect<Profile.Profile, LprofFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const bytes = yield* RawFiles.readRegularFile(path, { maxBytes: maxLprofBytes }).pipe(
      Effect.mapError((error) => new LprofFileError({ path, message: `${path}: cannot read: ${error.problem}` }))
    )
    return yield* decodeBytes(path, bytes, options)
  })
