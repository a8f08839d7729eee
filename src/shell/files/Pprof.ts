/**
 * pprof files as they lie on disk: gzipped `profile.proto` (core/render/Pprof
 * makes and reads the message; this module adds and removes the gzip layer).
 * `StatsFiles.read` recognises them by the gzip magic, and `StatsFiles.write`
 * writes one for `format: "pprof"` or a name ending in `.pb.gz` / `.pprof`.
 *
 * Contract:
 * - `decodeGzip(encodeGzip(p), name)` gives `p` back exactly (see core/render/Pprof).
 * - `decodeGzip` never throws: corrupt or truncated gzip data, a pprof
 *   written by another tool and data that is no pprof at all each give one
 *   line starting with the file's name; `foreign` tells a well-formed pprof of
 *   another tool, so that a folder search can pass it over.
 */
import { constants } from "node:buffer"
import { gunzipSync, gzipSync } from "node:zlib"
import * as Result from "effect/Result"
import * as Pprof from "../../core/render/Pprof.ts"
import * as RawFiles from "./RawFiles.ts"
import type * as Profile from "../../core/Profile.ts"
import type { DecodeFailure } from "../../core/StatsFile.ts"

/** True when the bytes start with gzip's magic number (1f 8b), as every pprof file does. */
export const isGzip = RawFiles.isGzip

/** Names that call for pprof output: `.pb.gz` (what pprof tools write) and `.pprof`. */
export const hasPprofExtension = (path: string): boolean => /\.(?:pb\.gz|pprof)$/i.test(path)

/** The profile as a pprof file's bytes (gzipped); throws like `Pprof.encode` (invalid profile, a counter of 2^63 or more). */
export const encodeGzip = (profile: Profile.Profile): Uint8Array => gzipSync(Pprof.encode(profile))

/** Options of `decodeGzip`. */
export interface DecodeOptions {
  /** The most bytes the gzip data may unpack to (a guard against gzip bombs); default: the most a Node buffer holds. */
  readonly maxBytes?: number
}

const describeZlibError = (error: unknown, maxBytes: number): string => {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined
  if (code === "ERR_BUFFER_TOO_LARGE") return `too large: unpacks to more than ${maxBytes} bytes`
  const message = error instanceof Error ? error.message : String(error)
  return message === "unexpected end of file" ? "truncated gzip data" : `corrupt gzip data (${message})`
}

/** Unpacks and reads a pprof file that lineprof wrote; the failure's message is one line starting with `fileName`. */
export const decodeGzipExplained = (
  bytes: Uint8Array,
  fileName: string,
  options: DecodeOptions = {}
): Result.Result<Profile.Profile, DecodeFailure> => {
  const maxBytes = options.maxBytes ?? constants.MAX_LENGTH
  let message: Uint8Array
  try {
    message = gunzipSync(bytes, { maxOutputLength: maxBytes })
  } catch (error) {
    return Result.fail({ message: `${fileName}: ${describeZlibError(error, maxBytes)}`, foreign: false })
  }
  return Pprof.decodeExplained(message, fileName)
}

/** `decodeGzipExplained`, the message only. */
export const decodeGzip = (
  bytes: Uint8Array,
  fileName: string,
  options: DecodeOptions = {}
): Result.Result<Profile.Profile, string> =>
  Result.mapError(decodeGzipExplained(bytes, fileName, options), (failure) => failure.message)
