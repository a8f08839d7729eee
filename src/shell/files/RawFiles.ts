/**
 * Everything lineprof does to raw files, in one place: reading a regular file
 * up to a size cap (never blocking on a FIFO, never reading a device), writing
 * a file atomically with fsync (from Effect code and from synchronous exit
 * handlers), the one table of errno messages, and the one sniffer that tells a
 * Python pickle from lineprof's JSON stats.
 *
 * Contract:
 * - `readRegularFile` reads only regular files: it stats the path first (so a
 *   FIFO or device is never opened), opens it with O_NONBLOCK (a FIFO swapped
 *   in after the stat cannot block the open), fstats the open file again and
 *   stops at `maxBytes`. Anything else fails with a `RawFileError` whose
 *   `problem` is one line (`not a regular file: a named pipe (FIFO)`).
 * - `writeFileAtomic` / `writeFileAtomicSync` write a temporary sibling,
 *   fsync it, then rename it over the target; on failure the target is
 *   untouched and the temporary file removed.
 * - `describeErrno` is the only place that turns an errno code into words.
 */
import { constants as fsConstants } from "node:fs"
import { open, stat } from "node:fs/promises"
import type { Stats } from "node:fs"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as PlatformError from "effect/PlatformError"
import * as Schema from "effect/Schema"
import * as Pickle from "../../core/python/Pickle.ts"
import { temporaryPathFor } from "./AtomicWrite.ts"

export { temporaryPathFor, writeFileAtomicSync } from "./AtomicWrite.ts"

/**
 * A raw file operation failed. `problem` is one line without the path
 * (`no such file`, `not a regular file: a named pipe (FIFO)`); `code` is the
 * errno code when the system gave one.
 */
export class RawFileError extends Schema.TaggedError<RawFileError>()("RawFileError", {
  path: Schema.String,
  problem: Schema.String,
  code: Schema.optionalKey(Schema.String)
}) {}

// -- errno --------------------------------------------------------------------------

const errnoMessages: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EISDIR: "is a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a parent of this path is not a directory",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EEXIST: "already exists",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
  ENXIO: "not a regular file (a socket or a device without a reader)",
  EFBIG: "file too large"
}

/** One-line words for an errno code (`ENOSPC` → `no space left on the device`); unknown codes read `I/O error (CODE)`. */
export const describeErrno = (code: string): string => errnoMessages[code] ?? `I/O error (${code})`

/** The errno code of a Node error or of an Effect `PlatformError` wrapping one. */
export const errnoOf = (error: unknown): string | undefined => {
  const codeOf = (value: unknown): string | undefined =>
    typeof value === "object" && value !== null && "code" in value && typeof value.code === "string" ? value.code : undefined
  if (PlatformError.isPlatformError(error)) return codeOf(error.reason.cause)
  return codeOf(error)
}

/** Errno words for any failure: the code when there is one, else Effect's reason tag, else the first line of the message. */
export const describeError = (error: unknown): string => {
  const code = errnoOf(error)
  if (code !== undefined) return describeErrno(code)
  if (PlatformError.isPlatformError(error)) {
    switch (error.reason._tag) {
      case "NotFound":
        return errnoMessages.ENOENT!
      case "PermissionDenied":
        return errnoMessages.EACCES!
      case "AlreadyExists":
        return errnoMessages.EEXIST!
      case "BadArgument":
        return `invalid path${error.reason.description === undefined ? "" : ` (${error.reason.description})`}`
      case "Unknown":
        return "I/O error"
      default:
        return error.reason._tag
    }
  }
  if (error instanceof RawFileError) return error.problem
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!
}

const toRawFileError = (path: string, error: unknown): RawFileError => {
  if (error instanceof RawFileError) return error
  const code = errnoOf(error)
  return new RawFileError(code === undefined ? { path, problem: describeError(error) } : { path, problem: describeError(error), code })
}

// -- reading ------------------------------------------------------------------------

/** What kind of file a stat describes, for messages (`a named pipe (FIFO)`). */
export const kindOf = (info: Pick<Stats, "isFIFO" | "isCharacterDevice" | "isBlockDevice" | "isSocket" | "isSymbolicLink">): string =>
  info.isFIFO()
    ? "a named pipe (FIFO)"
    : info.isCharacterDevice()
    ? "a character device"
    : info.isBlockDevice()
    ? "a block device"
    : info.isSocket()
    ? "a socket"
    : info.isSymbolicLink()
    ? "a symbolic link"
    : "a special file"

const megabytes = (bytes: number): string => (bytes < 2 ** 20 ? `${bytes} bytes` : `${Math.round(bytes / 2 ** 20)} MB`)

/** The problem with a file of this stat, or undefined for a regular file within the cap. */
const refuse = (info: Stats, maxBytes: number): { readonly problem: string; readonly code?: string } | undefined => {
  if (info.isDirectory()) return { problem: errnoMessages.EISDIR!, code: "EISDIR" }
  if (!info.isFile()) return { problem: `not a regular file: ${kindOf(info)}` }
  if (info.size > maxBytes) return { problem: `too large: ${megabytes(info.size)}, more than the ${megabytes(maxBytes)} lineprof reads` }
  return undefined
}

/** Flags of the open: read only, never wait for a FIFO's writer, never make a terminal ours. */
const readFlags = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY

const readRegularFilePromise = async (path: string, maxBytes: number): Promise<Uint8Array> => {
  const before = refuse(await stat(path), maxBytes)
  if (before !== undefined) throw new RawFileError({ path, ...before })
  const handle = await open(path, readFlags)
  try {
    const info = await handle.stat()
    const after = refuse(info, maxBytes)
    if (after !== undefined) throw new RawFileError({ path, ...after })
    // One byte more than the cap: a file that grew since the stat is caught, not cut.
    let buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1)
    let length = 0
    for (;;) {
      if (length === buffer.length) {
        if (buffer.length > maxBytes) {
          throw new RawFileError({ path, problem: `too large: more than the ${megabytes(maxBytes)} lineprof reads` })
        }
        const grown = new Uint8Array(Math.min(buffer.length * 2, maxBytes + 1))
        grown.set(buffer)
        buffer = grown
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return buffer.subarray(0, length)
  } finally {
    await handle.close()
  }
}

/**
 * Reads a regular file of at most `maxBytes` (see the module contract). Not
 * through Effect's `FileSystem`: its `open` takes no O_NONBLOCK, and without
 * it opening a FIFO waits forever for a writer.
 */
export const readRegularFile = (path: string, options: { readonly maxBytes: number }): Effect.Effect<Uint8Array, RawFileError> =>
  Effect.tryPromise({ try: () => readRegularFilePromise(path, options.maxBytes), catch: (error) => toRawFileError(path, error) })

// -- writing ------------------------------------------------------------------------

/**
 * Writes `content` to `path` atomically through Effect's `FileSystem`: a
 * temporary sibling (created exclusively), fsynced, then renamed over `path`
 * (atomic within one folder on POSIX file systems). On failure `path` is
 * untouched and the temporary file is removed.
 */
export const writeFileAtomic = Effect.fn("RawFiles.writeFileAtomic")(function*(path: string, content: Uint8Array | string) {
  const fs = yield* FileSystem.FileSystem
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content
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
    Effect.mapError((error) => toRawFileError(path, error))
  )
})


// -- formats ------------------------------------------------------------------------

/** True for names ending in `.lprof` (the extension line_profiler and kernprof write). */
export const hasLprofExtension = (path: string): boolean => path.toLowerCase().endsWith(".lprof")

/** True for gzip data (its two magic bytes): how a pprof file (gzipped profile.proto) starts. */
export const isGzip = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b

/**
 * What a stats file holds: a pprof file lineprof wrote (gzipped
 * profile.proto), a Python line_profiler dump (a pickle: protocols 2 to 5 by
 * their header, 0 and 1, which have none, by the `.lprof` name) or lineprof's
 * JSON stats. The one format sniffer of lineprof.
 */
export const sniffFormat = (path: string, bytes: Uint8Array): "pprof" | "lprof" | "json" =>
  isGzip(bytes) ? "pprof" : Pickle.hasMagic(bytes) || hasLprofExtension(path) ? "lprof" : "json"
