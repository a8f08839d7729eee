/**
 * Reading Python line_profiler dumps (.lprof) from disk into profiles that
 * carry their source text.
 *
 * Contract:
 * - `read(path)` reads the file, decodes it with the safe `core/Lprof.decode`
 *   (nothing in the pickle is ever executed), then fills each function's
 *   `source` and `lastLine` from the file the dump names, resolved against
 *   `sourceRoot` (default: the current directory), as line_profiler itself
 *   does. The block runs from the `def` to where the indentation returns to its
 *   level (`core/PythonSource`). A source file that cannot be read leaves
 *   `source` undefined, so reports say the file could not be found.
 * - Every failure is an `LprofFileError` whose `message` is one line starting
 *   with the path.
 *
 * Needs `FileSystem` (`NodeFileSystem.layer` from @effect/platform-node).
 */
import { isAbsolute, join } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Lprof from "../../core/python/Lprof.ts"
import * as Profile from "../../core/Profile.ts"
import * as PythonSource from "../../core/python/PythonSource.ts"

/** A .lprof file could not be read; `message` is one line starting with the path. */
export class LprofFileError extends Schema.TaggedError<LprofFileError>()("LprofFileError", {
  path: Schema.String,
  message: Schema.String
}) {}

export interface ReadOptions {
  /** Folder that relative source paths in the dump are resolved against; default: the current directory. */
  readonly sourceRoot?: string | undefined
}

/** True for names ending in `.lprof` (the extension line_profiler and kernprof write). */
export const hasLprofExtension = (path: string): boolean => path.toLowerCase().endsWith(".lprof")

/** True when the bytes start like a pickle of protocol 2 to 5 (every .lprof of line_profiler 3 and later). */
export const looksLikeLprof = Lprof.looksLikeLprof

/**
 * Fills source text and block ends from the files the profile names; files
 * that cannot be read are skipped. Functions that already carry source keep it.
 */
export const withSources = (
  profile: Profile.Profile,
  options: ReadOptions = {}
): Effect.Effect<Profile.Profile, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const files = new Set(profile.functions.filter((fn) => fn.source === undefined).map((fn) => fn.file))
    const fileTexts = new Map<string, string>()
    for (const file of files) {
      const location = options.sourceRoot === undefined || isAbsolute(file) ? file : join(options.sourceRoot, file)
      const text = yield* fs.readFileString(location).pipe(Effect.option)
      if (text._tag === "Some") fileTexts.set(file, text.value)
    }
    return PythonSource.withSources(profile, fileTexts)
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
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs.readFile(path).pipe(
      Effect.mapError((error) =>
        new LprofFileError({
          path,
          message: `${path}: cannot read: ${error.reason._tag === "NotFound" ? "no such file" : error.reason._tag}`
        })
      )
    )
    return yield* decodeBytes(path, bytes, options)
  })
