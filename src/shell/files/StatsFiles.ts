/**
 * Stats files on disk: `read` a file into a `Profile`, `write` a profile
 * atomically, `readAll` several files into one merged profile. Besides
 * lineprof's JSON, `read` takes Python .lprof dumps and the pprof files
 * lineprof writes (known by gzip's magic), and `write` writes pprof on request.
 *
 * Contract:
 * - Every failure is a `StatsFileError` whose `message` is ONE line that
 *   starts with the path and names the problem (missing file, a directory,
 *   not a regular file, too large, permission denied, binary data, not JSON,
 *   truncated JSON, wrong format or version, the first bad field). Bad input never surfaces as a defect or a
 *   stack trace.
 * - `read` reads regular files only, of at most `maxStatsFileBytes`: a FIFO,
 *   a device or a socket is refused without blocking (`RawFiles`).
 * - `write` never leaves a partial file: it writes and syncs a temporary file
 *   in the target's folder, then renames it over the target (a rename within
 *   one folder is atomic on POSIX file systems). On any failure the previous
 *   file is untouched and the temporary file is removed.
 *
 * Needs the `FileSystem` service from `effect/FileSystem`; provide
 * `NodeFileSystem.layer` from `@effect/platform-node/NodeFileSystem`.
 */
import { constants } from "node:buffer"
import { dirname } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Profile from "../../core/Profile.ts"
import * as StatsFile from "../../core/StatsFile.ts"
import * as Lprof from "./Lprof.ts"
import * as PprofFiles from "./Pprof.ts"
import * as RawFiles from "./RawFiles.ts"

/**
 * A stats file could not be read or written; `message` is one line starting
 * with the path. `foreign` is true when the file is JSON but no lineprof
 * document at all (see `StatsFile.DecodeFailure`): a folder search passes
 * such a file over instead of failing on it.
 */
export class StatsFileError extends Schema.TaggedError<StatsFileError>()("StatsFileError", {
  path: Schema.String,
  message: Schema.String,
  foreign: Schema.optionalKey(Schema.Boolean)
}) {}

const fail = (path: string, problem: string): StatsFileError => new StatsFileError({ path, message: `${path}: ${problem}` })

/** The largest stats file lineprof reads: 1 GiB (a JSON stats file must also fit in one string of about 512 MB). */
export const maxStatsFileBytes = 2 ** 30

const readError = (path: string, error: RawFiles.RawFileError): StatsFileError => {
  switch (error.code) {
    case "EISDIR":
      return fail(path, "is a directory, not a stats file")
    case "EACCES":
    case "EPERM":
      return fail(path, `cannot read: ${error.problem}`)
  }
  return fail(path, error.problem)
}

const writeError = (path: string, shownPath: string, error: RawFiles.RawFileError): StatsFileError => {
  const problem = error.code === "ENOENT"
    ? `folder ${dirname(shownPath)} does not exist`
    : error.code === "EISDIR"
    ? "is a directory, not a stats file"
    : error.problem
  return new StatsFileError({ path, message: `${shownPath}: cannot write: ${problem}` })
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

const maxStringLength = constants.MAX_STRING_LENGTH

const megabytes = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MB`

const decodeText = (path: string, bytes: Uint8Array): Effect.Effect<Profile.Profile, StatsFileError> => {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (error) {
    if (typeof error === "object" && error !== null && "code" in error && error.code === "ERR_STRING_TOO_LONG") {
      // Node cannot hold the text in one string (about 512 MB): not a sign of a bad file.
      return Effect.fail(fail(path, `too large to read: more than the ${megabytes(maxStringLength)} of text Node holds in one string`))
    }
    return Effect.fail(fail(path, "binary data, not a lineprof stats file (expected JSON text)"))
  }
  if (text.includes("\u0000")) return Effect.fail(fail(path, "binary data, not a lineprof stats file (expected JSON text)"))
  const decoded = StatsFile.decodeExplained(text, path)
  if (Result.isSuccess(decoded)) return Effect.succeed(decoded.success)
  const { message, foreign } = decoded.failure
  return Effect.fail(new StatsFileError(foreign ? { path, message, foreign } : { path, message }))
}

/**
 * Decodes the bytes of a stats file, dispatching on what they are.
 * This is the one place that knows about foreign formats. It needs the file
 * system because foreign readers may look up source text next to the data
 * (a .lprof file carries no source).
 */
export const decodeBytes = (
  path: string,
  bytes: Uint8Array,
  options: Lprof.ReadOptions = {}
): Effect.Effect<Profile.Profile, StatsFileError, FileSystem.FileSystem> => {
  const format = RawFiles.sniffFormat(path, bytes)
  if (format === "pprof") {
    // A pprof file (gzipped profile.proto) that lineprof wrote.
    // lineprof's pprof files unpack to about 7 times their size; a gzip bomb stops at 64 times (plus 1 MB).
    const decoded = PprofFiles.decodeGzipExplained(bytes, path, { maxBytes: Math.min(maxStatsFileBytes, bytes.length * 64 + 2 ** 20) })
    if (Result.isSuccess(decoded)) return Effect.succeed(decoded.success)
    const { message, foreign } = decoded.failure
    return Effect.fail(new StatsFileError(foreign ? { path, message, foreign } : { path, message }))
  }
  if (format === "lprof") {
    // Python line_profiler's .lprof files are pickles. Sources are read from
    // under the source root (default: the current directory), see Lprof.
    return Lprof.decodeBytes(path, bytes, options).pipe(
      Effect.mapError((error) => new StatsFileError({ path, message: error.message }))
    )
  }
  return decodeText(path, bytes)
}

/** Reads one stats file into a canonical profile; `options.sourceRoot` is where a .lprof's Python sources may be read from. */
export const read = (
  path: string,
  options: Lprof.ReadOptions = {}
): Effect.Effect<Profile.Profile, StatsFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const bytes = yield* RawFiles.readRegularFile(path, { maxBytes: maxStatsFileBytes }).pipe(
      Effect.mapError((error) => readError(path, error))
    )
    return yield* decodeBytes(path, bytes, options)
  })

/** Reads several stats files and merges them; fails on the first bad file (in the given order). */
export const readAll = (
  paths: Iterable<string>,
  options: Lprof.ReadOptions = {}
): Effect.Effect<Profile.Profile, StatsFileError, FileSystem.FileSystem> =>
  Effect.map(Effect.forEach(paths, (path) => read(path, options)), (profiles) => Profile.ProfileReducer.combineAll(profiles))

/** The temporary sibling that `write` fills before renaming it over `path`. */
export const temporaryPathFor = RawFiles.temporaryPathFor

/** What `write` writes: a JSON stats file, or a pprof file (gzipped profile.proto, see shell/files/Pprof). */
export type WriteFormat = "json" | "pprof"

/** The format `write` picks when not told: pprof for names ending in `.pb.gz` or `.pprof`, else JSON. */
export const formatOfPath = (path: string): WriteFormat => (PprofFiles.hasPprofExtension(path) ? "pprof" : "json")

/**
 * Writes a profile to `path` atomically (`RawFiles.writeFileAtomic`: a
 * temporary file in the same folder, synced, then renamed). Fails without
 * touching `path` when the profile does not pass `Profile.check` or the file
 * system refuses (or, for pprof, a counter is 2^63 or more). Messages name
 * the file as `options.shownPath` (the spelling the user gave), else as
 * `path`. `options.format` defaults to `formatOfPath(path)`.
 */
export const write = (
  path: string,
  profile: Profile.Profile,
  options: { readonly shownPath?: string; readonly format?: WriteFormat } = {}
): Effect.Effect<void, StatsFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const shownPath = options.shownPath ?? path
    const format = options.format ?? formatOfPath(path)
    const bytes = yield* Effect.try({
      try: () => (format === "pprof" ? PprofFiles.encodeGzip(profile) : new TextEncoder().encode(StatsFile.encode(profile))),
      catch: (error) =>
        new StatsFileError({ path, message: `${shownPath}: cannot write: ${error instanceof Error ? error.message : String(error)}` })
    })
    yield* RawFiles.writeFileAtomic(path, bytes).pipe(Effect.mapError((error) => writeError(path, shownPath, error)))
  })
