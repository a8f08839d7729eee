/**
 * Instrumented sources kept on disk, so that a second run of a program spends
 * close to no time instrumenting (and never loads the parser). An entry is
 * keyed by the hash of the source text, lineprof's version, a fingerprint of
 * the instrumenter's own code and of the parser's version, and the options
 * that change instrumentation (load format, TypeScript or not, and whatever
 * the caller adds); it lives in `<cache folder>/instrument/<key>.json`.
 * Contract:
 *
 * 1. `instrument(request, instrumentAt)` returns the cached result when there
 *    is a good entry, renumbered to the requested `slotBase` (`rebase`: the
 *    slot numbers are literals in the inserted text, so an entry made at
 *    another base is rewritten, not re-parsed); else it calls
 *    `instrumentAt(slotBase)` and stores what it returns. The result is the
 *    one `instrumentAt` would have returned either way.
 * 2. An entry is checked against a hash of its payload; a truncated, corrupt
 *    or unreadable entry is ignored (a miss) and rewritten.
 * 3. Writes are atomic (CacheDir.writeTextAtomic): two processes writing the
 *    same entry each rename a whole file into place.
 * 4. The folder is capped (`LINEPROF_CACHE_MAX_MB`, default 256): when what
 *    this process knows to be there exceeds the cap, the oldest entries (by
 *    modification time) are removed until it is under 80% of the cap.
 * 5. Nothing here fails a run: a folder that cannot be read or written is a
 *    cache that always misses. `LINEPROF_CACHE=off` turns it off.
 * 6. With `LINEPROF_VERBOSE=1` (`lineprof run --verbose`) each process that
 *    looked anything up prints its hit rate on stderr when it exits.
 * 7. `instrumentMapped` does the same for a file reported through its source
 *    map (SourceMaps.instrumentMapped): its key adds the map's text, where
 *    the map resolves its sources from, and a fingerprint of SourceMaps and
 *    trace-mapping; the entry lists the originals read from disk with a hash
 *    of their text, and a lookup reads them again (as instrumenting would):
 *    one that changed, appeared or vanished makes a miss. Hits and misses
 *    count with the others.
 */
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { isMainThread, threadId } from "node:worker_threads"
import type * as Instrument from "../../core/Instrument.ts"
import type { InstrumentedFunction } from "../../core/Probe.ts"
import * as CacheDir from "./CacheDir.ts"
import * as SourceMaps from "./SourceMaps.ts"

/** What identifies one instrumentation of one source text. */
export interface Request {
  /** Hex hash of the whole source text. */
  readonly sourceHash: string
  /** The file (its extension can select TypeScript). */
  readonly file: string
  readonly format: string
  /** The first slot the result must use. */
  readonly slotBase: number
  /** Anything else that changes the instrumented code (JSON-serialisable). */
  readonly options?: Readonly<Record<string, unknown>>
}

/** A file reported through its source map: what identifies its instrumentation beyond `Request`. */
export interface MappedRequest extends Request {
  /** `SourceMaps.mapHash` of its map (an inline map is inside the source as well). */
  readonly mapHash: string
  /** The URL the map's sources resolve against (the result names original files by it). */
  readonly mapUrl: string
}

export const Variables = {
  maxMb: "LINEPROF_CACHE_MAX_MB",
  verbose: "LINEPROF_VERBOSE"
} as const

export const DEFAULT_MAX_MB = 256
const FORMAT = 1
const SUBDIR = "instrument"
const ENTRY_SUFFIX = ".json"

// ---------------------------------------------------------------------------
// Rebasing (pure)

/**
 * A slot literal in inserted text: `__lp$h(__lp$l,__lp$l=<slot>` and the same
 * with `__lp$m` (sync), `__lp$H(__lp$f,<slot>` and its M/W siblings (frames),
 * or inline probes' `__lp$c[<slot>]` and `__lp$s[__lp$d]=<slot>`. Not the
 * prologue's `let __lp$l=0` nor the stack's depth cell `__lp$s[0]`, which are no slots.
 */
const SLOT_LITERAL = /(__lp\$[hm]\(__lp\$l,__lp\$l=|__lp\$[HMW]\(__lp\$f,|__lp\$c\[|__lp\$s\[__lp\$d\]=)(\d+)/g

/**
 * The result of instrumenting at `fromBase`, as instrumenting the same source
 * at `toBase` gives it: every slot literal inside the inserted runs moved by
 * the difference (only inserted text is searched, so the program's own text
 * is never touched), the runs' positions recomputed (a slot may gain or lose
 * a digit), and the functions' slots moved.
 */
export const rebase = (result: Instrument.InstrumentResult, fromBase: number, toBase: number): Instrument.InstrumentResult => {
  const delta = toBase - fromBase
  if (delta === 0) return result
  const functions = result.functions.map((fn) => moveSlots(fn, delta))
  return { ...moveSlotLiterals(result.code, result.insertions, delta), functions, functionStarts: result.functionStarts, slotCount: result.slotCount }
}

/** `rebase` for a file reported through its source map: the code as `rebase` moves it, and every original file's functions' slots. */
export const rebaseMapped = (result: SourceMaps.MappedResult, fromBase: number, toBase: number): SourceMaps.MappedResult => {
  const delta = toBase - fromBase
  if (delta === 0) return result
  const files = result.files.map((file): SourceMaps.MappedFile => ({ ...file, functions: file.functions.map((fn) => moveSlots(fn, delta)) }))
  return { ...moveSlotLiterals(result.code, result.insertions, delta), slotCount: result.slotCount, files, diskReads: result.diskReads }
}

const moveSlots = (fn: InstrumentedFunction, delta: number): InstrumentedFunction => ({ ...fn, slots: fn.slots.map((slot) => slot + delta) })

/** The slot literals of the inserted runs moved by `delta`, and the runs' new positions. */
const moveSlotLiterals = (code: string, insertions: Uint32Array, delta: number): { readonly code: string; readonly insertions: Uint32Array } => {
  const parts: Array<string> = []
  const runs = new Uint32Array(insertions.length)
  let at = 0
  let inserted = 0
  for (let k = 0; k < insertions.length; k += 3) {
    const start = insertions[k]!
    const end = insertions[k + 1]!
    parts.push(code.slice(at, start))
    const text = code.slice(start, end).replace(SLOT_LITERAL, (_, head: string, slot: string) => `${head}${Number(slot) + delta}`)
    const newStart = start - (k === 0 ? 0 : insertions[k - 1]!) + inserted
    parts.push(text)
    inserted += text.length
    runs[k] = newStart
    runs[k + 1] = newStart + text.length
    runs[k + 2] = inserted
    at = end
  }
  parts.push(code.slice(at))
  return { code: parts.join(""), insertions: runs }
}

// ---------------------------------------------------------------------------
// Entries

/** A package's version as installed beside this module, or a marker when it cannot be read. */
const versionOf = (name: string): string => {
  try {
    return String(createRequire(import.meta.url)(`${name}/package.json`).version)
  } catch {
    return `no ${name}`
  }
}

/**
 * A fingerprint of the instrumenter: its code beside this module (src or
 * build) and the parser's version (a parser update may place nodes
 * differently), so that a changed instrumenter never reads old entries.
 */
let instrumenterFingerprint: string | undefined
const fingerprint = (): string => {
  if (instrumenterFingerprint !== undefined) return instrumenterFingerprint
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"
  const hash = createHash("sha1")
  for (const name of ["Instrument", "Probe"]) {
    try {
      hash.update(readFileSync(fileURLToPath(new URL(`../../core/${name}${extension}`, import.meta.url))))
    } catch {
      hash.update(`no ${name}`)
    }
  }
  hash.update(versionOf("oxc-parser"))
  return (instrumenterFingerprint = hash.digest("hex"))
}

/** A fingerprint of what maps a file to its original sources: SourceMaps' code beside this module and trace-mapping's version. */
let mapperFingerprint: string | undefined
const mapper = (): string => {
  if (mapperFingerprint !== undefined) return mapperFingerprint
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"
  const hash = createHash("sha1").update(fingerprint())
  try {
    hash.update(readFileSync(fileURLToPath(new URL(`./SourceMaps${extension}`, import.meta.url))))
  } catch {
    hash.update("no SourceMaps")
  }
  hash.update(versionOf("@jridgewell/trace-mapping"))
  return (mapperFingerprint = hash.digest("hex"))
}

/** The entry's key: a hex hash of everything that decides the instrumented code except the slot base. */
export const keyOf = (request: Request): string =>
  createHash("sha1")
    .update(JSON.stringify({
      lineprof: CacheDir.lineprofVersion,
      instrumenter: fingerprint(),
      source: request.sourceHash,
      format: request.format,
      typeScript: /\.[cm]?tsx?$/.test(request.file),
      options: request.options ?? {}
    }))
    .digest("hex")

/**
 * The key of a file reported through its source map: `keyOf`'s fields and the
 * map's text, where its sources resolve from, and the mapper's fingerprint.
 * The originals read from disk are checked against the entry, not keyed:
 * which ones are read follows from the source and the map.
 */
export const mappedKeyOf = (request: MappedRequest): string =>
  createHash("sha1")
    .update(JSON.stringify({
      kind: "mapped",
      lineprof: CacheDir.lineprofVersion,
      mapper: mapper(),
      source: request.sourceHash,
      map: request.mapHash,
      mapUrl: request.mapUrl,
      format: request.format,
      typeScript: /\.[cm]?tsx?$/.test(request.file),
      options: request.options ?? {}
    }))
    .digest("hex")

export const entryPath = (dir: string, key: string): string => path.join(dir, SUBDIR, `${key}${ENTRY_SUFFIX}`)

interface Payload {
  readonly format: number
  readonly key: string
  readonly slotBase: number
  readonly slotCount: number
  readonly functions: ReadonlyArray<InstrumentedFunction>
  readonly functionStarts: ReadonlyArray<number>
  readonly insertions: ReadonlyArray<number>
  readonly code: string
}

const checksum = (text: string): string => createHash("sha1").update(text).digest("hex")

/** An entry's text: the payload's checksum on the first line, then the payload. */
const frame = (payload: unknown): string => {
  const json = JSON.stringify(payload)
  return `${checksum(json)}\n${json}`
}

/** The payload of an entry's text whose checksum holds, else undefined. */
const unframe = (text: string): unknown => {
  const newline = text.indexOf("\n")
  if (newline !== 40) return undefined
  const json = text.slice(newline + 1)
  if (checksum(json) !== text.slice(0, newline)) return undefined
  try {
    return JSON.parse(json)
  } catch {
    return undefined
  }
}

/** An entry's text: the payload's checksum on the first line, then the payload. */
export const encodeEntry = (key: string, slotBase: number, result: Instrument.InstrumentResult): string => {
  const payload: Payload = {
    format: FORMAT,
    key,
    slotBase,
    slotCount: result.slotCount,
    functions: result.functions,
    functionStarts: result.functionStarts,
    insertions: Array.from(result.insertions),
    code: result.code
  }
  return frame(payload)
}

/** The entry's result at the base it was stored with; undefined when the text is not a good entry for `key`. */
export const decodeEntry = (key: string, text: string): { readonly slotBase: number; readonly result: Instrument.InstrumentResult } | undefined => {
  const payload = unframe(text) as Payload | undefined
  if (typeof payload !== "object" || payload === null) return undefined
  if (payload.format !== FORMAT || payload.key !== key || typeof payload.code !== "string") return undefined
  if (!Number.isSafeInteger(payload.slotBase) || !Number.isSafeInteger(payload.slotCount)) return undefined
  if (!Array.isArray(payload.functions) || !Array.isArray(payload.insertions) || payload.insertions.length % 3 !== 0) return undefined
  if (!Array.isArray(payload.functionStarts) || payload.functionStarts.length !== payload.functions.length) return undefined
  return {
    slotBase: payload.slotBase,
    result: {
      code: payload.code,
      functions: payload.functions,
      functionStarts: payload.functionStarts,
      slotCount: payload.slotCount,
      insertions: Uint32Array.from(payload.insertions)
    }
  }
}

interface MappedPayload {
  readonly format: number
  readonly kind: "mapped"
  readonly key: string
  readonly slotBase: number
  readonly slotCount: number
  readonly files: ReadonlyArray<SourceMaps.MappedFile>
  /** `textSha1` null for an original that could not be read (JSON has no undefined). */
  readonly diskReads: ReadonlyArray<{ readonly file: string; readonly textSha1: string | null }>
  readonly insertions: ReadonlyArray<number>
  readonly code: string
}

/** A mapped entry's text (framed as `encodeEntry`'s). */
export const encodeMappedEntry = (key: string, slotBase: number, result: SourceMaps.MappedResult): string => {
  const payload: MappedPayload = {
    format: FORMAT,
    kind: "mapped",
    key,
    slotBase,
    slotCount: result.slotCount,
    files: result.files,
    diskReads: result.diskReads.map((read) => ({ file: read.file, textSha1: read.textSha1 ?? null })),
    insertions: Array.from(result.insertions),
    code: result.code
  }
  return frame(payload)
}

/** A mapped entry's result at the base it was stored with; undefined when the text is not a good mapped entry for `key`. */
export const decodeMappedEntry = (key: string, text: string): { readonly slotBase: number; readonly result: SourceMaps.MappedResult } | undefined => {
  const payload = unframe(text) as MappedPayload | undefined
  if (typeof payload !== "object" || payload === null) return undefined
  if (payload.format !== FORMAT || payload.kind !== "mapped" || payload.key !== key || typeof payload.code !== "string") return undefined
  if (!Number.isSafeInteger(payload.slotBase) || !Number.isSafeInteger(payload.slotCount)) return undefined
  if (!Array.isArray(payload.insertions) || payload.insertions.length % 3 !== 0) return undefined
  if (!Array.isArray(payload.files) || !payload.files.every((file) => typeof file?.file === "string" && typeof file.sourceText === "string" && Array.isArray(file.functions))) return undefined
  if (!Array.isArray(payload.diskReads) || !payload.diskReads.every((read) => typeof read?.file === "string" && (read.textSha1 === null || typeof read.textSha1 === "string"))) return undefined
  return {
    slotBase: payload.slotBase,
    result: {
      code: payload.code,
      slotCount: payload.slotCount,
      insertions: Uint32Array.from(payload.insertions),
      files: payload.files,
      diskReads: payload.diskReads.map((read) => ({ file: read.file, textSha1: read.textSha1 ?? undefined }))
    }
  }
}

/** Whether every original the entry read from disk still reads the same (a missing one still missing). */
const sameOnDisk = (diskReads: ReadonlyArray<SourceMaps.DiskRead>): boolean =>
  diskReads.every((read) => {
    const text = SourceMaps.readOriginal(read.file)
    return (text === undefined ? undefined : SourceMaps.sha1(text)) === read.textSha1
  })

// ---------------------------------------------------------------------------
// Eviction

const maxBytes = (env: NodeJS.ProcessEnv): number => {
  const mb = Number(env[Variables.maxMb])
  return (env[Variables.maxMb] !== undefined && Number.isFinite(mb) && mb >= 0 ? mb : DEFAULT_MAX_MB) * 1024 * 1024
}

/**
 * Removes the oldest entries of `dir`'s instrument folder until their total
 * size is at most `targetBytes`; also removes temporary files left by writers
 * that died (older than a minute). Returns the total size left.
 */
export const evict = (dir: string, targetBytes: number, nowMs: number = Date.now()): number => {
  const folder = path.join(dir, SUBDIR)
  let names: Array<string>
  try {
    names = readdirSync(folder)
  } catch {
    return 0
  }
  const entries: Array<{ readonly file: string; readonly bytes: number; readonly mtimeMs: number }> = []
  let totalBytes = 0
  for (const name of names) {
    const file = path.join(folder, name)
    try {
      const stats = statSync(file)
      if (name.endsWith(".tmp")) {
        if (nowMs - stats.mtimeMs > 60_000) rmSync(file, { force: true })
        continue
      }
      if (!name.endsWith(ENTRY_SUFFIX)) continue
      entries.push({ file, bytes: stats.size, mtimeMs: stats.mtimeMs })
      totalBytes += stats.size
    } catch {
      // removed by another process meanwhile
    }
  }
  if (totalBytes <= targetBytes) return totalBytes
  entries.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.file < b.file ? -1 : 1))
  for (const entry of entries) {
    if (totalBytes <= targetBytes) break
    try {
      rmSync(entry.file, { force: true })
    } catch {
      // another process's business now
    }
    totalBytes -= entry.bytes
  }
  return totalBytes
}

// ---------------------------------------------------------------------------
// The cache of this thread

/**
 * Lookups of this thread: `hits` served from the cache, `misses` instrumented
 * (and stored when `stored`); `timeNs` spent in `instrument` in all (reading,
 * renumbering, instrumenting, loading the instrumenter, storing).
 */
export interface Counts {
  readonly hits: number
  readonly misses: number
  readonly stored: number
  readonly timeNs: number
}

const counts = { hits: 0, misses: 0, stored: 0, timeNs: 0 }
/** What this thread believes the folder holds, in bytes; undefined until it first writes. */
let knownBytes: number | undefined
let reportInstalled = false

/** This thread's lookups so far. */
export const stats = (): Counts => ({ ...counts })

/** "12 of 15 files from the instrument cache (80%), 3.2 ms instrumenting". */
export const describe = (counted: Counts): string => {
  const total = counted.hits + counted.misses
  const percent = total === 0 ? 0 : Math.round((100 * counted.hits) / total)
  return `${counted.hits} of ${total} ${total === 1 ? "file" : "files"} from the instrument cache (${percent}%), ${(counted.timeNs / 1e6).toFixed(1)} ms instrumenting`
}

const installReport = (env: NodeJS.ProcessEnv): void => {
  if (reportInstalled) return
  reportInstalled = true
  if (!["1", "on", "true", "yes"].includes((env[Variables.verbose] ?? "").trim().toLowerCase())) return
  process.once("exit", () => {
    try {
      const thread = isMainThread ? "" : ` thread ${threadId}`
      process.stderr.write(`lineprof: pid ${process.pid}${thread}: ${describe(counts)}\n`)
    } catch {
      // stderr closed
    }
  })
}

/** Writes an entry's text; evicts when this thread's writes take the folder past the cap. */
const store = (dir: string, key: string, text: string, env: NodeJS.ProcessEnv): void => {
  if (!CacheDir.writeTextAtomic(entryPath(dir, key), text)) return
  counts.stored++
  const capBytes = maxBytes(env)
  knownBytes = (knownBytes ?? evict(dir, capBytes)) + text.length
  if (knownBytes > capBytes) knownBytes = evict(dir, Math.floor(capBytes * 0.8))
}

/** How one kind of entry is keyed, read, renumbered and written. */
interface Kind<A> {
  readonly key: string
  /** The entry's result and the base it was made at, when `text` is a good entry that still holds. */
  readonly decode: (text: string) => { readonly slotBase: number; readonly result: A } | undefined
  readonly rebase: (result: A, fromBase: number, toBase: number) => A
  readonly encode: (slotBase: number, result: A) => string
}

/**
 * The lookup both kinds share, timed: a hit is counted; a miss calls
 * `instrumentAt`, stores and counts what it returns. Undefined (a source map
 * that cannot be used) is neither stored nor counted: the caller then
 * instruments the file as it is, through `instrument`, which counts it.
 */
const lookup = <A>(slotBase: number, kind: () => Kind<A>, instrumentAt: (slotBase: number) => A, env: NodeJS.ProcessEnv): A => {
  const dir = CacheDir.cacheDir(env)
  if (dir === undefined) return instrumentAt(slotBase)
  installReport(env)
  const startNs = process.hrtime.bigint()
  try {
    const { key, decode, rebase, encode } = kind()
    const text = CacheDir.readText(entryPath(dir, key))
    const cached = text === undefined ? undefined : decode(text)
    if (cached !== undefined) {
      counts.hits++
      return rebase(cached.result, cached.slotBase, slotBase)
    }
    const result = instrumentAt(slotBase)
    if (result === undefined) return result
    counts.misses++
    store(dir, key, encode(slotBase, result), env)
    return result
  } finally {
    counts.timeNs += Number(process.hrtime.bigint() - startNs)
  }
}

/**
 * The instrumentation of a source at `request.slotBase`: from the cache when
 * it holds a good entry, else `instrumentAt(request.slotBase)`, stored.
 * Errors of `instrumentAt` (a file that does not parse) pass through and are
 * not cached.
 */
export const instrument = (
  request: Request,
  instrumentAt: (slotBase: number) => Instrument.InstrumentResult,
  env: NodeJS.ProcessEnv = process.env
): Instrument.InstrumentResult =>
  lookup(request.slotBase, () => {
    const key = keyOf(request)
    return {
      key,
      decode: (text) => decodeEntry(key, text),
      rebase,
      encode: (slotBase, result) => encodeEntry(key, slotBase, result)
    }
  }, instrumentAt, env)

/**
 * `instrument` for a file reported through its source map: the cached result
 * when the entry is good and every original it read from disk reads the same
 * today, else `instrumentAt(request.slotBase)` (SourceMaps.instrumentMapped),
 * stored unless it is undefined (a map that cannot be used).
 */
export const instrumentMapped = (
  request: MappedRequest,
  instrumentAt: (slotBase: number) => SourceMaps.MappedResult | undefined,
  env: NodeJS.ProcessEnv = process.env
): SourceMaps.MappedResult | undefined =>
  lookup(request.slotBase, () => {
    const key = mappedKeyOf(request)
    return {
      key,
      decode: (text) => {
        const cached = decodeMappedEntry(key, text)
        return cached !== undefined && sameOnDisk(cached.result.diskReads) ? cached : undefined
      },
      rebase: (result, fromBase, toBase) => (result === undefined ? result : rebaseMapped(result, fromBase, toBase)),
      encode: (slotBase, result) => encodeMappedEntry(key, slotBase, result!)
    }
  }, instrumentAt, env)
