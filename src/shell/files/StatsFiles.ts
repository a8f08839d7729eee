/**
 * Stats files on disk: `read` a file into a `Profile`, `write` a profile
 * atomically, `readAll` several files into one merged profile. Besides
 * lineprof's JSON, `read` takes Python .lprof dumps and the pprof files
 * lineprof writes (known by gzip's magic), and `write` writes pprof on request.
 *
 * Contract:
 * - Every failure is a `StatsFileError` whose `message` is ONE line that
 *   starts with the path and names the problem (missing file, a directory,
 *   permission denied, binary data, not JSON, truncated JSON, wrong format or
 *   version, the first bad field). Bad input never surfaces as a defect or a
 *   stack trace.
 * - `write` never leaves a partial file: it writes and syncs a temporary file
 *   in the target's folder, then renames it over the target (a rename within
 *   one folder is atomic on POSIX file systems). On any failure the previous
 *   file is untouched and the temporary file is removed.
 *
 * Needs the `FileSystem` service from `effect/FileSystem`; provide
 * `NodeFileSystem.layer` from `@effect/platform-node/NodeFileSystem`.
 */
import { constants } from "node:buffer"
import { randomBytes } from "node:crypto"
import { basename, dirname, join } from "node:path"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import type * as PlatformError from "effect/PlatformError"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Profile from "../../core/Profile.ts"
import * as StatsFile from "../../core/StatsFile.ts"
import * as Lprof from "./Lprof.ts"
import * as PprofFiles from "./Pprof.ts"

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

/** The errno code (`ENOENT`, `EACCES` …) behind a platform error, when Node gave one. */
const errnoOf = (error: PlatformError.PlatformError): string | undefined => {
  const cause: unknown = error.reason.cause
  if (typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string") return cause.code
  return undefined
}

/** One-line description of a file-system failure: errno first, then Effect's reason tag. */
const describe = (error: PlatformError.PlatformError): string => {
  const code = errnoOf(error)
  switch (code) {
    case "ENOENT":
      return "no such file"
    case "EISDIR":
      return "is a directory, not a stats file"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "ENOTDIR":
      return "a parent of this path is not a directory"
    case "ENOSPC":
      return "no space left on the device"
    case "EROFS":
      return "read-only file system"
  }
  switch (error.reason._tag) {
    case "NotFound":
      return "no such file"
    case "PermissionDenied":
      return "permission denied"
    case "BadArgument":
      return `invalid path${error.reason.description === undefined ? "" : ` (${error.reason.description})`}`
    default:
      return `${error.reason._tag === "Unknown" ? "I/O error" : error.reason._tag}${code === undefined ? "" : ` (${code})`}`
  }
}

const readError = (path: string, error: PlatformError.PlatformError): StatsFileError => {
  const problem = describe(error)
  return fail(path, problem === "permission denied" ? "cannot read: permission denied" : problem)
}

const writeError = (path: string, shownPath: string, error: PlatformError.PlatformError): StatsFileError => {
  const code = errnoOf(error)
  const problem = code === "ENOENT" || (code === undefined && error.reason._tag === "NotFound")
    ? `folder ${dirname(shownPath)} does not exist`
    : describe(error)
  return new StatsFileError({ path, message: `${shownPath}: cannot write: ${problem}` })
}

/** Python's pickle protocols 2 to 5 start with 0x80 and the protocol number. */
const isPickle = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5

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
  bytes: Uint8Array
): Effect.Effect<Profile.Profile, StatsFileError, FileSystem.FileSystem> => {
  if (PprofFiles.isGzip(bytes)) {
    // A pprof file (gzipped profile.proto) that lineprof wrote.
    const decoded = PprofFiles.decodeGzipExplained(bytes, path)
    if (Result.isSuccess(decoded)) return Effect.succeed(decoded.success)
    const { message, foreign } = decoded.failure
    return Effect.fail(new StatsFileError(foreign ? { path, message, foreign } : { path, message }))
  }
  if (isPickle(bytes) || Lprof.hasLprofExtension(path)) {
    // Python line_profiler's .lprof files are pickles (protocol 0 and 1 ones
    // have no magic, hence the extension too). Sources resolve against the
    // current directory, as line_profiler does.
    return Lprof.decodeBytes(path, bytes).pipe(
      Effect.mapError((error) => new StatsFileError({ path, message: error.message }))
    )
  }
  return decodeText(path, bytes)
}

/** Reads one stats file into a canonical profile. */
export const read = (path: string): Effect.Effect<Profile.Profile, StatsFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs.readFile(path).pipe(Effect.mapError((error) => readError(path, error)))
    return yield* decodeBytes(path, bytes)
  })

/** Reads several stats files and merges them; fails on the first bad file (in the given order). */
export const readAll = (
  paths: Iterable<string>
): Effect.Effect<Profile.Profile, StatsFileError, FileSystem.FileSystem> =>
  Effect.map(Effect.forEach(paths, read), (profiles) => Profile.ProfileReducer.combineAll(profiles))

/** The temporary sibling that `write` fills before renaming it over `path`. */
export const temporaryPathFor = (path: string): string =>
  join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`)

/** What `write` writes: a JSON stats file, or a pprof file (gzipped profile.proto, see shell/files/Pprof). */
export type WriteFormat = "json" | "pprof"

/** The format `write` picks when not told: pprof for names ending in `.pb.gz` or `.pprof`, else JSON. */
export const formatOfPath = (path: string): WriteFormat => (PprofFiles.hasPprofExtension(path) ? "pprof" : "json")

/**
 * Writes a profile to `path` atomically (temporary file in the same folder,
 * synced, then renamed). Fails without touching `path` when the profile does
 * not pass `Profile.check` or the file system refuses (or, for pprof, a
 * counter is 2^63 or more). Messages name the file as `options.shownPath`
 * (the spelling the user gave), else as `path`. `options.format` defaults to
 * `formatOfPath(path)`.
 */
export const write = (
  path: string,
  profile: Profile.Profile,
  options: { readonly shownPath?: string; readonly format?: WriteFormat } = {}
): Effect.Effect<void, StatsFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const shownPath = options.shownPath ?? path
    const format = options.format ?? formatOfPath(path)
    const bytes = yield* Effect.try({
      try: () => (format === "pprof" ? PprofFiles.encodeGzip(profile) : new TextEncoder().encode(StatsFile.encode(profile))),
      catch: (error) =>
        new StatsFileError({ path, message: `${shownPath}: cannot write: ${error instanceof Error ? error.message : String(error)}` })
    })
    const temporaryPath = temporaryPathFor(path)
    yield* Effect.scoped(
      Effect.gen(function*() {
        const file = yield* fs.open(temporaryPath, { flag: "wx" })
        yield* file.writeAll(bytes)
        yield* file.sync
      })
    ).pipe(
      Effect.andThen(fs.rename(temporaryPath, path)),
      Effect.onError(() => Effect.ignore(fs.remove(temporaryPath))),
      Effect.mapError((error) => writeError(path, shownPath, error))
    )
  })
