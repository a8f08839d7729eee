/**
 * Portable instrumentation, for code that a test runner or a dev server
 * transforms in one process and runs in others (vitest's forks and threads,
 * jest's workers and vm contexts, a Vite SSR server): the instrumented text
 * cannot carry slot numbers, which every thread hands out for itself. So each
 * probe's slot is `__lp$b+k` (k counted from 0 in the file), and a prologue
 * sets `__lp$b` when the module runs: it finds the thread's `Runtime` (or
 * loads it with Node's own `require`, whatever loader runs the module) and
 * registers the file with the recorder of the thread it runs in
 * (`Runtime.register`), which returns the file's slot base in that thread.
 *
 * 1. instrument with core/Instrument at slot base 1
 * 2. rewrite the slot literals of the inserted probes (only inside the
 *    inserted text, never the user's) to `__lp$b+k`
 * 3. splice the insertions, the prologue (at the start of line 1; after a
 *    `#!` line or a "use strict" directive) and the registration payload (a
 *    hoisted function appended after the last line) into the source with
 *    magic-string, which also gives the source map back to the original.
 *
 * No line is added before or between the original lines, so reported lines
 * are the lines of `source`.
 */
import * as Result from "effect/Result"
import MagicString from "magic-string"
import { createHash } from "node:crypto"
import { statSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Instrument from "../../core/Instrument.ts"
import { Globals } from "../../core/Probe.ts"
import * as Config from "../record/Config.ts"
import * as Recorder from "../record/Recorder.ts"
import { type Registration, RUNTIME_KEY } from "./Runtime.ts"

/** The module-level variable that holds the file's slot base in the running thread. */
export const BASE = "__lp$b"
/** The hoisted function that returns the file's registration payload. */
const PAYLOAD = "__lp$p"

/** How one runner's emitted code reaches the runtime. */
export interface PortableOptions {
  /** Absolute path of the file (what the report's `File:` shows). */
  readonly file: string
  readonly format: Instrument.LoadFormat
  /** Absolute path of the Runtime module to `require` in the thread that runs the code. */
  readonly runtimePath: string
}

export interface PortableResult {
  readonly code: string
  /** Source map (v3) from `code` back to the source given. */
  readonly map: ReturnType<MagicString["generateMap"]>
  /** Slots the file takes in each thread that runs it. */
  readonly slotCount: number
}

/** Probe text that carries a slot: `__lp$l=N,` (sync hit and move) and `__lp$H(__lp$f,N` (frame hit, move, suspendAt). */
const SLOT_LITERAL = /(__lp\$l=|__lp\$[HMW]\(__lp\$f,)(\d+)/g

/**
 * The instrumented module, or undefined when it has no function to profile
 * (the runner then keeps its code). Throws `Instrument.InstrumentError` when
 * the source does not parse.
 */
export const instrument = (source: string, options: PortableOptions): PortableResult | undefined => {
  const result = Instrument.instrumentSource(source, { file: options.file, format: options.format, slotBase: 1 })
  if (result.functions.length === 0) return undefined
  const magic = new MagicString(source)
  const seen = new Set<number>()
  const { code, insertions } = result
  for (let k = 0; k < insertions.length; k += 3) {
    const start = insertions[k]!
    const end = insertions[k + 1]!
    const originalPos = start - (insertions[k + 2]! - (end - start))
    const text = code.slice(start, end).replace(SLOT_LITERAL, (whole, head: string, slot: string) => {
      // Slot 0 is the sink (the `let __lp$l=0` of a sync function's prologue), the same in every thread.
      if (slot === "0") return whole
      seen.add(Number(slot))
      return `${head}${BASE}+${Number(slot) - 1}`
    })
    magic.appendLeft(originalPos, text)
  }
  // Every slot of every function must have been rewritten: a literal slot left behind would count into another file's.
  for (const fn of result.functions) {
    for (const slot of fn.slots) {
      if (!seen.has(slot)) throw new Error(`${options.file}: lineprof could not make slot ${slot} portable (probe text changed?)`)
    }
  }
  const typeScript = options.format === "module-typescript" || options.format === "commonjs-typescript"
  const registration: Registration = {
    file: options.file,
    fileHash: createHash("sha1").update(source).digest("hex"),
    sourceText: source,
    slotCount: result.slotCount,
    functions: result.functions.map((fn) => ({ ...fn, slots: fn.slots.map((slot) => slot - 1) }))
  }
  const path = JSON.stringify(options.runtimePath)
  // The Runtime already loaded in this thread (see Runtime's RUNTIME_KEY), else Node's own require from
  // `process.getBuiltinModule`: vitest's module runner and jest's module registry would load a second
  // Runtime (and recorder) of their own.
  const builtin = (id: string) => `globalThis.process.getBuiltinModule(${JSON.stringify(id)})`
  const load = `(${builtin("node:worker_threads")}[Symbol.for(${JSON.stringify(RUNTIME_KEY)})]??${builtin("node:module")}.createRequire(${path})(${path}))`
  const declarations = typeScript
    ? `declare var ${Object.values(Globals).map((name) => `${name}:any`).join(",")};`
    : ""
  const prologue = `${declarations}var ${BASE}${typeScript ? ":number" : ""}=${load}.register(${PAYLOAD}(),globalThis);`
  const directives = DIRECTIVES.exec(source.startsWith("#!") ? source.slice(firstLineEnd(source)) : source)
  const at = (source.startsWith("#!") ? firstLineEnd(source) : 0) + (directives === null ? 0 : directives[0].length)
  magic.appendLeft(at, `${directives === null ? "" : ";"}${prologue}`)
  magic.append(`\nfunction ${PAYLOAD}()${typeScript ? ":any" : ""}{return ${JSON.stringify(registration)}}\n`)
  return {
    code: magic.toString(),
    map: magic.generateMap({ source: options.file, includeContent: true, hires: "boundary" }),
    slotCount: result.slotCount
  }
}

/** A leading "use strict" directive (with the comments before it): the prologue goes after it, or it would stop being one. */
const DIRECTIVES = /^(?:\s|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*(["'])use strict\1/

/** Where the second line starts (after the `#!` line and its line break). */
const firstLineEnd = (source: string): number => {
  const match = /\r\n?|[\n\u2028\u2029]/.exec(source)
  return match === null ? source.length : match.index + match[0].length
}

// ---------------------------------------------------------------------------
// What a runner plugin instruments

/** The load format of a file that a runner hands over, by its extension; undefined for what is not instrumented (JSX, other languages). */
export const formatOf = (file: string): Instrument.LoadFormat | undefined => {
  const extension = /\.([cm]?[jt]s)$/.exec(file)?.[1]
  switch (extension) {
    case "ts":
    case "mts":
      return "module-typescript"
    case "cts":
      return "commonjs-typescript"
    case "js":
    case "mjs":
      return "module"
    case "cjs":
      return "commonjs"
    default:
      return undefined
  }
}

/** lineprof's own source folder (src/ or dist/): never instrumented. */
const ownSourceDir = fileURLToPath(new URL("../../", import.meta.url))

/** Whether lineprof is recording in this process: its preload ran, or LINEPROF_* settings are in the environment. */
export const isRecording = (env: NodeJS.ProcessEnv = process.env): boolean =>
  Recorder.isInstalled() || Object.values(Config.Variables).some((name) => (env[name] ?? "").trim() !== "")

/**
 * The files to instrument when lineprof is recording: the LINEPROF_INCLUDE /
 * LINEPROF_EXCLUDE selection (see Config), lineprof's own files left out.
 * Undefined when lineprof is not recording; a bad setting is thrown (a
 * `Config.ConfigError`, one line).
 */
export const selection = (env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ((file: string) => boolean) | undefined => {
  if (!isRecording(env)) return undefined
  const config = Config.fromEnv(env, cwd)
  if (Result.isFailure(config)) throw config.failure
  const matches = Config.makeMatcher(config.success)
  return (file) => !file.startsWith(ownSourceDir) && matches(file)
}

/** ".ts" when running from src/, ".js" from a build: sibling modules take the same one. */
const ownExtension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"

/** The Runtime module beside this one (src/*.ts or dist/*.js, as this module). */
export const runtimePath = fileURLToPath(new URL(`./Runtime${ownExtension}`, import.meta.url))

/**
 * What the instrumented text depends on besides the source: the Runtime it
 * loads and the instrumenter (its file's size and time, so a rebuilt
 * lineprof never reuses a module instrumented by the previous build).
 */
export const cacheKey: string = (() => {
  const instrumenter = fileURLToPath(new URL(`../../core/Instrument${ownExtension}`, import.meta.url))
  const stamp = statSync(instrumenter, { throwIfNoEntry: false })
  return `lineprof:${runtimePath}:${stamp?.size}:${stamp?.mtimeMs}`
})()
