/**
 * Source maps of loaded files: a generated file (tsc output, a bundle, a
 * minified package) that names a map is instrumented line by line of its
 * *original* sources, and registered as those sources. Contract:
 *
 * 1. `readSourceMap` finds the map: the file's last `sourceMappingURL`
 *    comment (a file or an inline `data:` URL), else `<file>.map` beside it
 *    when that map says it is for this file. Anything unreadable is no map.
 * 2. `instrumentMapped` gives the instrumenter a line key per source offset
 *    (original file and line, through @jridgewell/trace-mapping), so a probe
 *    goes wherever the original line changes between consecutive statements:
 *    minified one-line code gets one probe per original line.
 * 3. Each probe's slot goes to the original function that holds its line:
 *    the one the generated function's head maps into when it holds the line,
 *    else the innermost one that does (the original source parsed with the
 *    instrumenter's own naming, from `sourcesContent` or the file on disk).
 *    Probes on original top-level code are dropped, as top-level code is not
 *    profiled. A source without text or that does not parse keeps one
 *    function per generated function, named by the map's `names`.
 * 4. The result is one registration per original file (a bundle holds many),
 *    and names the originals it read from disk with a hash of what it read
 *    (`diskReads`): with the generated text, the map's text and the options,
 *    everything the result depends on (which sources are read is decided by
 *    the generated text and the map alone), so InstrumentCache can key it.
 *
 * Lines never move in the generated file (the instrumenter only inserts), so
 * stack traces under `--enable-source-maps` stay right (see Hooks).
 */
import type * as TraceMapping from "@jridgewell/trace-mapping"
import type { TraceMap } from "@jridgewell/trace-mapping"
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { basename } from "node:path"
import { fileURLToPath } from "node:url"
import type * as Instrument from "../../core/Instrument.ts"
import type { InstrumentedFunction } from "../../core/Probe.ts"

/** @jridgewell/trace-mapping, loaded on the first file that has a map: most processes never meet one. */
let traceMapping: typeof TraceMapping | undefined
const loadTraceMapping = (): typeof TraceMapping =>
  (traceMapping ??= createRequire(import.meta.url)("@jridgewell/trace-mapping") as typeof TraceMapping)

/** A version 3 source map as JSON, and the URL its sources resolve against. */
export interface RawSourceMap {
  readonly json: Record<string, any>
  readonly mapUrl: string
  /** The generated file names it in a `sourceMappingURL` comment (Node's `--enable-source-maps` reads those only). */
  readonly fromComment: boolean
  /** The map's text as read (from its file or its `data:` URL); absent when the map was made otherwise. */
  readonly text?: string
}

/** Hex SHA-1 of a text (the caches' hash). */
export const sha1 = (text: string): string => createHash("sha1").update(text).digest("hex")

/** A hash of the map's text (of its JSON when its text is not known). */
export const mapHash = (raw: RawSourceMap): string => sha1(raw.text ?? JSON.stringify(raw.json))

/** `//# sourceMappingURL=…` (anything but blanks and quotes) or `/*# sourceMappingURL=… *\/` (no `*` either). */
const MAP_COMMENT = /\/\/[#@]\s+sourceMappingURL=([^\s'"]+)|\/\*[#@]\s+sourceMappingURL=([^\s'"*]+)/g

const readJson = (text: string): Record<string, any> | undefined => {
  const json = JSON.parse(text.replace(/^\)\]\}'[^\n]*\n/, ""))
  const sectioned = Array.isArray(json?.sections)
  return json?.version === 3 && (sectioned || (typeof json.mappings === "string" && Array.isArray(json.sources))) ? json : undefined
}

/** The source map of a generated file at `url` (a `file:` URL), or undefined. */
export const readSourceMap = (source: string, url: string): RawSourceMap | undefined => {
  try {
    const comment = [...source.matchAll(MAP_COMMENT)].at(-1)
    if (comment !== undefined) {
      const mapUrl = new URL(comment[1] ?? comment[2]!, url)
      if (mapUrl.protocol === "data:") {
        const comma = mapUrl.href.indexOf(",")
        const payload = mapUrl.href.slice(comma + 1)
        const text = mapUrl.href.slice(0, comma).endsWith(";base64") ? Buffer.from(payload, "base64").toString("utf8") : decodeURIComponent(payload)
        const json = readJson(text)
        return json === undefined ? undefined : { json, mapUrl: url, fromComment: true, text }
      }
      if (mapUrl.protocol !== "file:") return undefined
      const text = readFileSync(fileURLToPath(mapUrl), "utf8")
      const json = readJson(text)
      return json === undefined ? undefined : { json, mapUrl: mapUrl.href, fromComment: true, text }
    }
    const beside = `${fileURLToPath(url)}.map`
    if (!existsSync(beside)) return undefined
    const text = readFileSync(beside, "utf8")
    const json = readJson(text)
    if (json === undefined || (typeof json.file === "string" && basename(json.file) !== basename(fileURLToPath(url)))) return undefined
    return { json, mapUrl: `${url}.map`, fromComment: false, text }
  } catch {
    return undefined
  }
}

/** One original file that received probes. */
export interface MappedFile {
  /** Absolute path of the original source (or its URL when it is not a `file:` URL). */
  readonly file: string
  /** Its text ("" when neither the map nor the disk has it). */
  readonly sourceText: string
  readonly functions: ReadonlyArray<InstrumentedFunction>
}

/** An original source read from disk (the map has no `sourcesContent` for it). */
export interface DiskRead {
  readonly file: string
  /** `sha1` of its text; undefined when it could not be read (a missing original counts too). */
  readonly textSha1: string | undefined
}

export interface MappedResult {
  readonly code: string
  readonly slotCount: number
  readonly insertions: Uint32Array
  readonly files: ReadonlyArray<MappedFile>
  /** Every original read from disk to make this result (files with probes or not), in the order read. */
  readonly diskReads: ReadonlyArray<DiskRead>
}

/** The text of an original source on disk, or undefined when it cannot be read. */
export const readOriginal = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** An original source, read when a probe or a function head first maps into it. */
interface Original {
  readonly file: string
  readonly text: string | undefined
  /** Functions as the instrumenter names them; undefined when there is no text or it does not parse. */
  readonly functions: ReadonlyArray<Instrument.SourceFunction> | undefined
  readonly lineStarts: ReadonlyArray<number>
}

/** Line keys: `source * KEY_STRIDE + line` (1-based) for mapped offsets; below -1 for unmapped ones. */
const KEY_STRIDE = 2 ** 24

const formatOf = (file: string): Instrument.LoadFormat => (/\.[cm]?tsx?$/.test(file) ? "module-typescript" : "module")

/**
 * Instruments `text` (the generated code at `url`) with probes placed and
 * reported by the original lines of `raw`. Undefined when the map cannot be
 * read; throws what the instrumenter throws.
 */
export const instrumentMapped = (
  instrument: typeof Instrument,
  text: string,
  options: {
    readonly url: string
    readonly format: Instrument.LoadFormat
    readonly slotBase: number
    readonly selectFunction?: ((name: string) => boolean) | undefined
    readonly probes?: Instrument.InstrumentOptions["probes"]
  },
  raw: RawSourceMap
): MappedResult | undefined => {
  const { decodedMappings, FlattenMap, traceSegment } = loadTraceMapping()
  let map: TraceMap
  try {
    map = new FlattenMap(raw.json as any, raw.mapUrl)
  } catch {
    return undefined
  }
  const { lineStartsOf, lineIndexAt: lineIndexOf } = instrument
  const generatedStarts = lineStartsOf(text)
  const originals = new Map<number, Original>()
  const diskReads: Array<DiskRead> = []
  const originalOf = (index: number): Original => {
    let original = originals.get(index)
    if (original !== undefined) return original
    const resolved = map.resolvedSources[index] ?? String(index)
    const file = resolved.startsWith("file:") ? fileURLToPath(resolved) : resolved
    let sourceText = map.sourcesContent?.[index] ?? undefined
    if (typeof sourceText !== "string" && resolved.startsWith("file:")) {
      sourceText = readOriginal(file)
      diskReads.push({ file, textSha1: sourceText === undefined ? undefined : sha1(sourceText) })
    }
    let functions: ReadonlyArray<Instrument.SourceFunction> | undefined
    if (typeof sourceText === "string") {
      for (const format of [formatOf(file), "commonjs"] as const) {
        try {
          functions = instrument.listFunctions(sourceText, { file, format })
          break
        } catch {
          // Try the next format; a source in another language keeps the fallback.
        }
      }
    }
    original = { file, text: sourceText, functions, lineStarts: typeof sourceText === "string" ? lineStartsOf(sourceText) : [0] }
    originals.set(index, original)
    return original
  }
  /** The map's segment for a generated offset: [column, source, line, column, name?] (0-based), or null. */
  const segmentAt = (offset: number) => {
    const line = lineIndexOf(generatedStarts, offset)
    return traceSegment(map, line, offset - generatedStarts[line]!)
  }
  const lineKeyOf = (offset: number): number => {
    const segment = segmentAt(offset)
    if (segment === null || segment.length < 4) return -2 - lineIndexOf(generatedStarts, offset)
    return segment[1]! * KEY_STRIDE + segment[2]! + 1
  }
  /** The map's name at a function's head, or on one of the next few segments of its line (`function n(` names `n`). */
  const nameNear = (start: number, segment: ReadonlyArray<number>): string | undefined => {
    if (segment.length === 5) return map.names[segment[4]!]
    const segments = decodedMappings(map)[lineIndexOf(generatedStarts, start)] ?? []
    const at = segments.findIndex((candidate) => candidate[0] === segment[0])
    for (let k = at + 1; at >= 0 && k < Math.min(segments.length, at + 4); k++) {
      const next = segments[k]!
      if (next.length === 5 && next[1] === segment[1]) return map.names[next[4]]
    }
    return undefined
  }
  /** The original function a generated function's head maps into (innermost holding the mapped position). */
  const headFunction = (start: number): { readonly source: number; readonly fn: Instrument.SourceFunction | undefined; readonly name: string | undefined } | undefined => {
    const segment = segmentAt(start)
    if (segment === null || segment.length < 4) return undefined
    const original = originalOf(segment[1]!)
    const name = nameNear(start, segment)
    if (original.functions === undefined) return { source: segment[1]!, fn: undefined, name }
    const offset = (original.lineStarts[segment[2]!] ?? Infinity) + segment[3]!
    let found: Instrument.SourceFunction | undefined
    for (const fn of original.functions) if (fn.start <= offset && offset < fn.end) found = fn
    if (found === undefined || found.start < offset) {
      // The head may map to a token before the function's own (tsc maps `export function f` from `export`):
      // the first function that starts later on the same line.
      for (const fn of original.functions) {
        if (fn.firstLine === segment[2]! + 1 && fn.start >= offset && (found === undefined || found.start < offset || fn.start < found.start)) found = fn
      }
    }
    return { source: segment[1]!, fn: found, name }
  }
  const selectFunction = options.selectFunction
  const result = instrument.instrumentSource(text, {
    file: fileURLToPath(options.url),
    format: options.format,
    slotBase: options.slotBase,
    probes: options.probes,
    lineKeyOf,
    selectFunction: selectFunction === undefined
      ? undefined
      : (_name, start) => {
        const head = headFunction(start)
        return head?.fn !== undefined && selectFunction(head.fn.name)
      }
  })

  // Slots → original functions, grouped by (source, original function, generated function).
  interface Group { readonly source: number; fn: { name: string; firstLine: number; lastLine: number }; readonly lines: Array<number>; readonly slots: Array<number> }
  const groups = new Map<string, Group>()
  result.functions.forEach((generated, index) => {
    const head = headFunction(result.functionStarts[index]!)
    generated.lines.forEach((key, k) => {
      if (key < 0) return
      const source = Math.floor(key / KEY_STRIDE)
      const lineNo = key % KEY_STRIDE
      const original = originalOf(source)
      let target: { name: string; firstLine: number; lastLine: number } | undefined
      let targetId: number | string
      if (original.functions === undefined) {
        // No text to parse: one function per generated function, named from the map.
        target = { name: (head?.source === source ? head.name : undefined) ?? generated.name, firstLine: lineNo, lastLine: lineNo }
        targetId = `g${index}`
      } else {
        const own = head?.source === source ? head.fn : undefined
        if (own !== undefined && own.firstLine <= lineNo && lineNo <= own.lastLine) target = own
        else {
          for (const fn of original.functions) if (fn.firstLine <= lineNo && lineNo <= fn.lastLine) target = fn
        }
        if (target === undefined) return // original top-level code
        targetId = original.functions.indexOf(target as Instrument.SourceFunction)
      }
      const id = `${source}:${targetId}:${index}`
      let group = groups.get(id)
      if (group === undefined) groups.set(id, (group = { source, fn: { ...target }, lines: [], slots: [] }))
      if (original.functions === undefined) {
        group.fn.firstLine = Math.min(group.fn.firstLine, lineNo)
        group.fn.lastLine = Math.max(group.fn.lastLine, lineNo)
      }
      group.lines.push(lineNo)
      group.slots.push(generated.slots[k]!)
    })
  })
  const bySource = new Map<number, Array<InstrumentedFunction>>()
  for (const group of groups.values()) {
    const order = group.lines.map((_, k) => k).sort((a, b) => group.lines[a]! - group.lines[b]!)
    let functions = bySource.get(group.source)
    if (functions === undefined) bySource.set(group.source, (functions = []))
    functions.push({
      name: group.fn.name,
      firstLine: group.fn.firstLine,
      lastLine: group.fn.lastLine,
      lines: order.map((k) => group.lines[k]!),
      slots: order.map((k) => group.slots[k]!)
    })
  }
  const files = [...bySource].sort(([a], [b]) => a - b).map(([source, functions]): MappedFile => {
    const original = originalOf(source)
    return { file: original.file, sourceText: original.text ?? "", functions }
  })
  return { code: result.code, slotCount: result.slotCount, insertions: result.insertions, files, diskReads }
}
