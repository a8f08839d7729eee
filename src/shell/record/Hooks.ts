/**
 * The load hooks: every ES module, CommonJS module and TypeScript file that
 * this thread loads from a `file:` URL and that the include / exclude globs
 * select is instrumented before Node compiles it. Contract:
 *
 * 1. `install(options)` registers one synchronous `module.registerHooks({ load })`
 *    hook per thread (it sees `import`, `require` and `import()` alike); a later
 *    call only widens the selection (a file is instrumented when any installed
 *    selection matches it), so the register module, the pool worker and
 *    `profileCall` can each install what they need.
 * 2. For a selected file in format module, commonjs, module-typescript or
 *    commonjs-typescript: hash the source text, take slots from the recorder,
 *    run `core/Instrument`, register the file's functions with the recorder,
 *    and return the new source in the same format (Node strips TypeScript
 *    types afterwards, so reported lines are the .ts lines).
 *    A file with a source map (see SourceMaps) is instrumented and registered
 *    by its original sources instead, unless the selection says `sourceMaps: false`.
 *    With function globs (`functions`), only the functions named get probes.
 * 3. lineprof's own files are never instrumented. A file that does not parse
 *    is loaded unchanged, with one warning line on stderr.
 * 4. `Function.prototype.toString` of an instrumented function gives its
 *    original text, so that functions serialised to run elsewhere (a browser's
 *    `page.evaluate`, an `eval: true` worker) carry no probe calls.
 *
 * The recorder must be installed first (`Recorder.install()`): instrumented
 * code calls its probes as soon as it runs.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import * as NodeModule from "node:module"
import { fileURLToPath } from "node:url"
import type * as Instrument from "../../core/Instrument.ts"
import type { InstrumentedFunction } from "../../core/Probe.ts"
import * as Config from "./Config.ts"
import * as InstrumentCache from "./InstrumentCache.ts"
import * as Recorder from "./Recorder.ts"
import * as SourceMaps from "./SourceMaps.ts"

/** ".ts" when running from src/, ".js" from a build: lazily required siblings take the same one. */
const ownExtension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"

/**
 * The instrumenter (and its parser), loaded on the first selected file: every
 * Node process that NODE_OPTIONS reaches loads this module, and most of them
 * (npm, tools) never load a file worth instrumenting.
 */
let instrumenter: typeof Instrument | undefined
const loadInstrumenter = (): typeof Instrument =>
  (instrumenter ??= NodeModule.createRequire(import.meta.url)(`../../core/Instrument${ownExtension}`) as typeof Instrument)

/** The formats the instrumenter understands. */
const instrumentable = new Set(["module", "commonjs", "module-typescript", "commonjs-typescript"])

/** lineprof's own source folder: never instrumented, whatever the globs say. */
const ownSourceDir = fileURLToPath(new URL("../../", import.meta.url))

/**
 * This thread's hook state. It hangs off `globalThis` under a registered
 * symbol (as the recorder's store does), so that two copies of this module in
 * one thread (say, from src/ and from a build) register one hook, not two that
 * would instrument a file twice.
 */
interface HookState {
  /** One matcher a call of `install`. */
  readonly selections: Array<(file: string) => boolean>
  /** What each matcher's `install` asked beyond the files (absent: every function, source maps on). */
  readonly choices: Map<(file: string) => boolean, Choice>
  registered: boolean
  stats: { instrumented: number; skipped: number; failed: number }
  /** The instrumented files, in load order (so by increasing slotBase), for `Function.prototype.toString`. */
  readonly loaded: Array<LoadedFile>
}
interface LoadedFile {
  readonly slotBase: number
  readonly code: string
  readonly source: string
  readonly insertions: Uint32Array
  readonly functions: ReadonlyArray<InstrumentedFunction>
  /** Built on the first `toString` of one of its functions: the line of each slot, where each line of `code` starts. */
  lookup?: { readonly lineBySlot: Map<number, number>; readonly lineStarts: ReadonlyArray<number> }
}
/** How a selection instruments its files. */
interface Choice {
  /** Qualified function names to instrument; undefined: every function. */
  readonly functions: ((name: string) => boolean) | undefined
  readonly sourceMaps: boolean
}
const STATE_KEY = Symbol.for("lineprof.hooks.v1")
const state: HookState = ((globalThis as any)[STATE_KEY] ??= {
  selections: [],
  choices: new Map(),
  registered: false,
  stats: { instrumented: 0, skipped: 0, failed: 0 },
  loaded: []
})
;(state as { loaded?: Array<LoadedFile> }).loaded ??= [] // a state made by an older copy of this module
;(state as { choices?: HookState["choices"] }).choices ??= new Map()
const selections = state.selections

/** Whether `file` (an absolute path) is instrumented by the selections installed so far. */
export const isSelected = (file: string): boolean =>
  !file.startsWith(ownSourceDir) && selections.some((matches) => matches(file))

/**
 * How the selections that select `file` instrument it: the union of their
 * function globs (every function when one has none); source maps unless one
 * of them switched them off.
 */
const choiceFor = (file: string): Choice => {
  const chosen = selections.filter((matches) => matches(file)).map((matches) => state.choices.get(matches) ?? { functions: undefined, sourceMaps: true })
  const filters = chosen.map((choice) => choice.functions)
  const functions = filters.length === 0 || filters.some((filter) => filter === undefined)
    ? undefined
    : (name: string) => filters.some((filter) => filter!(name))
  return { functions, sourceMaps: chosen.every((choice) => choice.sourceMaps) }
}

/** Choices for one exact URL (a `profileCall` fresh instance), over those of the selections. */
const urlChoices = new Map<string, Choice>()

/**
 * Instruments the module loaded from exactly `url` with these function globs
 * and source-map choice, whatever the selections say; returns the function
 * that forgets it. The file must be selected as well (see `install`).
 */
export const chooseFor = (url: string, options: Pick<Config.Options, "functions" | "sourceMaps">): (() => void) => {
  const config = Config.make({ functions: options.functions, sourceMaps: options.sourceMaps })
  if (config._tag === "Failure") throw config.failure
  urlChoices.set(url, { functions: Config.makeFunctionMatcher(config.success), sourceMaps: config.success.sourceMaps })
  return () => {
    urlChoices.delete(url)
  }
}

/** How many files this thread instrumented, left unchanged (not selected), or failed to instrument. */
export const counts = (): { readonly instrumented: number; readonly skipped: number; readonly failed: number } => ({ ...state.stats })

const sourceText = (source: unknown, file: string): string | undefined => {
  if (typeof source === "string") return source
  if (source instanceof Uint8Array) return Buffer.from(source.buffer, source.byteOffset, source.byteLength).toString("utf8")
  if (source instanceof ArrayBuffer) return Buffer.from(source).toString("utf8")
  // CommonJS may reach the hook without source on some Node versions: read the file ourselves.
  if (source === null || source === undefined) return readFileSync(file, "utf8")
  return undefined
}

const warn = (line: string): void => {
  // process._rawDebug would bypass user stream patches, but is not public; a plain sync write to fd 2 keeps order.
  try {
    process.stderr.write(`lineprof: ${line}\n`)
  } catch {
    // stderr closed: nothing to do.
  }
}

const sha1 = (text: string): string => createHash("sha1").update(text).digest("hex")

/** Instruments one loaded file's source; undefined leaves it unchanged. */
export const instrumentLoaded = (url: string, format: string, source: unknown, choice: Choice = choiceFor(fileURLToPath(url))): string | undefined => {
  const file = fileURLToPath(url)
  try {
    const text = sourceText(source, file)
    if (text === undefined) return undefined
    const slotBase = Recorder.nextSlot()
    // Sampled timing gets inline probes (core/Probe): a line event is then two stores, not a call.
    const probes = Recorder.timing() === "sampled" ? "inline" : "calls"
    const sourceMap = choice.sourceMaps ? SourceMaps.readSourceMap(text, url) : undefined
    const fileHash = sha1(text)
    const instrumentMappedAt = (base: number) =>
      SourceMaps.instrumentMapped(
        loadInstrumenter(),
        text,
        { url, format: format as Instrument.LoadFormat, slotBase: base, selectFunction: choice.functions, probes },
        sourceMap!
      )
    // As below: a selection of functions is instrumented afresh.
    const mapped = sourceMap === undefined
      ? undefined
      : choice.functions === undefined
      ? InstrumentCache.instrumentMapped(
        { sourceHash: fileHash, mapHash: SourceMaps.mapHash(sourceMap), mapUrl: sourceMap.mapUrl, file, format, slotBase, options: { probes } },
        instrumentMappedAt
      )
      : instrumentMappedAt(slotBase)
    if (mapped !== undefined) {
      Recorder.allocateSlots(mapped.slotCount)
      // No slot → generated line table: Function.prototype.toString searches the code instead.
      state.loaded.push({ slotBase, code: mapped.code, source: text, insertions: mapped.insertions, functions: [] })
      for (const original of mapped.files) {
        Recorder.registerFile({ file: original.file, fileHash: sha1(original.sourceText), sourceText: original.sourceText, functions: original.functions })
      }
      state.stats.instrumented++
      return process.sourceMapsEnabled === true && sourceMap!.fromComment ? withShiftedSourceMap(mapped.code, text, sourceMap!, mapped.insertions) : mapped.code
    }
    const instrumentAt = (base: number) =>
      loadInstrumenter().instrumentSource(text, {
        file,
        format: format as Instrument.LoadFormat,
        slotBase: base,
        probes,
        selectFunction: choice.functions === undefined ? undefined : (name) => choice.functions!(name)
      })
    // The cache holds whole-file instrumentation only: a selection of functions is instrumented afresh.
    const result = choice.functions === undefined
      ? InstrumentCache.instrument({ sourceHash: fileHash, file, format, slotBase, options: { probes } }, instrumentAt)
      : instrumentAt(slotBase)
    Recorder.allocateSlots(result.slotCount)
    state.loaded.push({ slotBase, code: result.code, source: text, insertions: result.insertions, functions: result.functions })
    Recorder.registerFile({ file, fileHash, sourceText: text, functions: result.functions })
    state.stats.instrumented++
    if (process.sourceMapsEnabled !== true) return result.code
    const ownMap = SourceMaps.readSourceMap(text, url)
    return ownMap?.fromComment === true ? withShiftedSourceMap(result.code, text, ownMap, result.insertions) : result.code
  } catch (error) {
    // Whatever goes wrong, the program gets its file as Node would have loaded it.
    state.stats.failed++
    // An InstrumentError's message already names the file and the line.
    const message = String((error as Error)?.message ?? error).split("\n")[0]!
    warn(`${message.includes(file) ? message : `${file}: ${message}`} (loaded without profiling)`)
    return undefined
  }
}

// ---------------------------------------------------------------------------
// Source maps (node --enable-source-maps)

/**
 * Under `--enable-source-maps`, a file that names a source map gets, at the
 * end of its instrumented code (after its last line), an inline map whose
 * generated columns account for the inserted probes, so that stack traces
 * map where they mapped without lineprof (in a minified bundle, one line holds
 * every function: the original map pointed to the wrong lines and names).
 * Any problem with the map leaves the code as it is.
 */
const withShiftedSourceMap = (code: string, source: string, sourceMap: SourceMaps.RawSourceMap, insertions: Uint32Array): string => {
  try {
    const mapUrl = new URL(sourceMap.mapUrl)
    const map = structuredClone(sourceMap.json)
    if (typeof map.mappings !== "string" || !Array.isArray(map.sources)) return code
    // The new map is inline: resolve its sources against where the old one was.
    const root = typeof map.sourceRoot === "string" && map.sourceRoot !== "" ? new URL(map.sourceRoot.replace(/\/?$/, "/"), mapUrl) : mapUrl
    map.sources = map.sources.map((entry: unknown) => (typeof entry === "string" ? new URL(entry, root).href : entry))
    delete map.sourceRoot
    map.mappings = loadInstrumenter().shiftMappings(map.mappings, source, insertions)
    return `${code}\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}`
  } catch {
    return code
  }
}

// ---------------------------------------------------------------------------
// Function.prototype.toString shows the original source

/** The first slot number written in an instrumented function's text. */
const SLOT_IN_TEXT = /,__lp\$l=(\d+),|__lp\$[HMW]\(__lp\$f,(\d+)/

/**
 * The original text of an instrumented function (or class), given the text
 * V8 keeps for it; undefined when it is not from an instrumented file.
 */
export const originalFunctionText = (text: string): string | undefined => {
  const slotMatch = SLOT_IN_TEXT.exec(text)
  const slot = slotMatch === null ? undefined : Number(slotMatch[1] ?? slotMatch[2])
  for (let k = state.loaded.length - 1; k >= 0; k--) {
    const file = state.loaded[k]!
    if (slot !== undefined && file.slotBase > slot) continue
    const start = slotMatch === null ? file.code.indexOf(text) : locateBySlot(file, text, slotMatch)
    if (start !== -1) return loadInstrumenter().withoutInsertions(file.insertions, text, start)
    if (slot !== undefined) return undefined
  }
  return undefined
}

/**
 * Whether `text` is `code` from `start` with TypeScript's types stripped:
 * Node blanks them out (same positions), so every other character is equal.
 */
const strippedFrom = (code: string, text: string, start: number): boolean => {
  if (start + text.length > code.length) return false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (char !== code.charCodeAt(start + i) && char !== 32 && char !== 59 /* ; */) return false
  }
  return true
}

/**
 * Where `text` starts in the file's code, found from the probe of its first
 * slot: only back from that slot's line is searched (a whole-file search for each
 * function would cost a framework that reads the source of every class a
 * scan of its file each).
 */
const locateBySlot = (file: LoadedFile, text: string, slotMatch: RegExpExecArray): number => {
  if (file.lookup === undefined) {
    const lineBySlot = new Map<number, number>()
    for (const fn of file.functions) fn.slots.forEach((slot, k) => lineBySlot.set(slot, fn.lines[k]!))
    const lineStarts = [0]
    for (const match of file.code.matchAll(/\r\n?|[\n\u2028\u2029]/g)) lineStarts.push(match.index + match[0].length)
    file.lookup = { lineBySlot, lineStarts }
  }
  const lineNo = file.lookup.lineBySlot.get(Number(slotMatch[1] ?? slotMatch[2]))
  if (lineNo === undefined) return file.code.indexOf(text)
  // The slot's probes sit at the end of an earlier line or on its own: search back from the end of its line.
  const lineEnd = file.lookup.lineStarts[lineNo] ?? file.code.length
  let at = file.code.lastIndexOf(slotMatch[0], lineEnd)
  for (let tries = 0; at !== -1 && tries < 16; tries++, at = file.code.lastIndexOf(slotMatch[0], at - 1)) {
    const start = at - slotMatch.index
    if (start >= 0 && (file.code.startsWith(text, start) || strippedFrom(file.code, text, start))) return start
  }
  return file.code.indexOf(text)
}

/**
 * Makes `Function.prototype.toString` give instrumented functions their
 * original text, as without lineprof: code that sends a function's source
 * elsewhere (a browser's `page.evaluate(fn)`, an `eval: true` worker, a
 * `new Function(String(fn))`) would otherwise ship probe calls to a place
 * where they are not defined. Functions without probes take the native path
 * unchanged; the replacement itself reads as native.
 */
const patchToString = (): void => {
  const native = Function.prototype.toString
  const originals = new WeakMap<object, string>()
  const toString = {
    toString(this: unknown): string {
      if (this === toString) return native.call(native)
      const text = native.call(this as Function)
      if (!text.includes("__lp$")) return text
      const known = originals.get(this as Function)
      if (known !== undefined) return known
      const original = originalFunctionText(text) ?? text
      originals.set(this as Function, original)
      return original
    }
  }.toString
  try {
    Object.defineProperty(Function.prototype, "toString", {
      value: toString,
      writable: true,
      enumerable: false,
      configurable: true
    })
  } catch {
    // Frozen intrinsics (`node --frozen-intrinsics`): functions' text shows the probes, nothing else changes.
  }
}

/** Registers the load hook in this thread (once) and adds the selection of `options` (defaults: see Config). */
export const install = (options: Config.Options | Config.Config = {}): void => {
  const config = Config.make(options)
  if (config._tag === "Failure") throw config.failure
  const matcher = Config.makeMatcher(config.success)
  state.choices.set(matcher, { functions: Config.makeFunctionMatcher(config.success), sourceMaps: config.success.sourceMaps })
  selections.push(matcher)
  if (state.registered) return
  state.registered = true
  patchToString()
  // Through the namespace: a named import would fail to link on a Node without it, before the version check could speak.
  NodeModule.registerHooks({
    load(url, context, nextLoad) {
      const loaded = nextLoad(url, context)
      if (!url.startsWith("file:")) return loaded
      const format = loaded.format ?? context.format
      if (typeof format !== "string" || !instrumentable.has(format)) return loaded
      const file = fileURLToPath(url)
      if (!isSelected(file)) {
        state.stats.skipped++
        return loaded
      }
      const code = instrumentLoaded(url, format, loaded.source, urlChoices.get(url) ?? choiceFor(file))
      return code === undefined ? loaded : { ...loaded, format, source: code }
    }
  })
}
