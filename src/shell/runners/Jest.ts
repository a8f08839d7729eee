/**
 * `lineprof/jest`: a jest transform that profiles the files it transforms
 * and chains to the project's own transform (babel-jest by default, or
 * ts-jest, or any other, named by `transformer`). It does nothing but chain
 * unless lineprof is recording (under `lineprof run`, or with LINEPROF_* set).
 *
 * The file's original text is instrumented portably first (see Portable: the
 * instrumenter only inserts, so lines keep their numbers, and TypeScript
 * stays TypeScript), then handed to the chained transform; the two source
 * maps are composed, so stack traces and the report show the original lines.
 * jest runs each test file in a vm context of its own: the module's prologue
 * loads Runtime through Node's own require, outside jest's module registry,
 * and Runtime defines the probes on that context's global, so every context
 * of a worker counts into the worker's one recorder.
 *
 * jest caches transformed files on disk: the cache key is the chained
 * transform's key plus lineprof's state, so a profiled run never reuses a
 * plain file, nor a plain run an instrumented one.
 */
import remapping, { type SourceMapInput } from "@jridgewell/remapping"
import { createHash } from "node:crypto"
import { createRequire } from "node:module"
import * as path from "node:path"
import type { LoadFormat } from "../../core/Instrument.ts"
import * as Portable from "./Portable.ts"
// Loaded with the transform in every jest process and thread, so test code finds it (see Runtime's RUNTIME_KEY),
// also when its transformed files come from jest's cache.
import "./Runtime.ts"

/** The options of `["lineprof/jest", { … }]` in jest's `transform`. */
export interface JestOptions {
  /** The transform to chain to, resolved from the project's rootDir (default "babel-jest"). */
  readonly transformer?: string
  /** Its own options (what `["babel-jest", { … }]` would have given it). */
  readonly transformerConfig?: unknown
}

/** What jest gives a transform (the few fields used here) and what it takes back. */
interface TransformOptions {
  readonly config: { readonly rootDir: string }
  readonly configString?: string
  readonly [key: string]: unknown
}
type TransformedSource = string | { readonly code: string; readonly map?: unknown }
interface Transformer {
  readonly canInstrument?: boolean
  getCacheKey?(sourceText: string, sourcePath: string, options: TransformOptions): string
  getCacheKeyAsync?(sourceText: string, sourcePath: string, options: TransformOptions): Promise<string>
  process?(sourceText: string, sourcePath: string, options: TransformOptions): TransformedSource
  processAsync?(sourceText: string, sourcePath: string, options: TransformOptions): Promise<TransformedSource>
}
interface TransformerFactory {
  createTransformer(config?: unknown): Transformer | Promise<Transformer>
}

const warn = (line: string): void => {
  try {
    process.stderr.write(`lineprof: ${line}\n`)
  } catch {
    // stderr closed: nothing to do.
  }
}

/** The chained transform, loaded from the project (`rootDir`) as jest would load it. */
const loadTransformer = (name: string, config: unknown, rootDir: string): Transformer => {
  const loaded = createRequire(path.join(rootDir, "package.json"))(name)
  const factory = (loaded?.default ?? loaded) as Transformer & Partial<TransformerFactory>
  if (typeof factory.createTransformer === "function") {
    const made = factory.createTransformer(config)
    if (made instanceof Promise) throw new Error(`lineprof/jest: ${name}'s createTransformer is async; jest's transform chain needs it sync`)
    return made
  }
  return factory
}

/** The file's instrumented text, or undefined: not recording, not selected, not a JS/TS file, or does not parse. */
const instrumentFile = (
  selected: ((file: string) => boolean) | undefined,
  sourceText: string,
  sourcePath: string
): Portable.PortableResult | undefined => {
  const format = Portable.formatOf(sourcePath)
  if (selected === undefined || format === undefined || !selected(sourcePath)) return undefined
  // A .js file may be CommonJS that does not parse as a module (sloppy-mode syntax): then try it as CommonJS.
  const formats: ReadonlyArray<LoadFormat> = format === "module" ? ["module", "commonjs"] : [format]
  let failure: unknown
  for (const each of formats) {
    try {
      return Portable.instrument(sourceText, { file: sourcePath, format: each, runtimePath: Portable.runtimePath })
    } catch (error) {
      failure ??= error
    }
  }
  const message = String((failure as Error)?.message ?? failure).split("\n")[0]!
  warn(`${message.includes(sourcePath) ? message : `${sourcePath}: ${message}`} (loaded without profiling)`)
  return undefined
}

/** The chained transform's output with lineprof's map composed under its own. */
const compose = (output: TransformedSource, instrumented: Portable.PortableResult): { code: string; map: unknown } => {
  if (typeof output === "string") return { code: output, map: instrumented.map }
  if (output.map === undefined || output.map === null) return { code: output.code, map: instrumented.map }
  const map = remapping([output.map as SourceMapInput, instrumented.map as unknown as SourceMapInput], () => null)
  return { code: output.code, map }
}

/** jest calls this with the options of `["lineprof/jest", { … }]`. */
export const createTransformer = (options: JestOptions = {}): Transformer => {
  const name = options.transformer ?? "babel-jest"
  let inner: Transformer | undefined
  const innerFor = (transformOptions: TransformOptions): Transformer =>
    (inner ??= loadTransformer(name, options.transformerConfig, transformOptions.config.rootDir))
  let selectedState: { readonly selected: ((file: string) => boolean) | undefined } | undefined
  const selection = () => (selectedState ??= { selected: Portable.selection() }).selected
  /** lineprof's part of a file's cache key: whether and how it is instrumented. */
  const stateKey = (sourcePath: string): string => {
    const selected = selection()
    return selected !== undefined && Portable.formatOf(sourcePath) !== undefined && selected(sourcePath) ? Portable.cacheKey : "lineprof:off"
  }
  const withState = (innerKey: string, sourcePath: string): string =>
    createHash("sha1").update(innerKey).update("\0").update(stateKey(sourcePath)).digest("hex")
  const fallbackKey = (sourceText: string, sourcePath: string, transformOptions: TransformOptions): string =>
    createHash("sha1").update(sourceText).update("\0").update(sourcePath).update("\0").update(transformOptions.configString ?? "").digest("hex")

  return {
    // Coverage instrumentation is the chained transform's business (babel-jest can, ts-jest cannot).
    get canInstrument() {
      return inner?.canInstrument ?? name === "babel-jest"
    },
    getCacheKey(sourceText, sourcePath, transformOptions) {
      const transformer = innerFor(transformOptions)
      const innerKey = transformer.getCacheKey?.(sourceText, sourcePath, transformOptions) ?? fallbackKey(sourceText, sourcePath, transformOptions)
      return withState(innerKey, sourcePath)
    },
    async getCacheKeyAsync(sourceText, sourcePath, transformOptions) {
      const transformer = innerFor(transformOptions)
      const innerKey =
        (await transformer.getCacheKeyAsync?.(sourceText, sourcePath, transformOptions)) ??
        transformer.getCacheKey?.(sourceText, sourcePath, transformOptions) ??
        fallbackKey(sourceText, sourcePath, transformOptions)
      return withState(innerKey, sourcePath)
    },
    process(sourceText, sourcePath, transformOptions) {
      const transformer = innerFor(transformOptions)
      if (transformer.process === undefined) throw new Error(`lineprof/jest: ${name} has no synchronous process()`)
      const instrumented = instrumentFile(selection(), sourceText, sourcePath)
      if (instrumented === undefined) return transformer.process(sourceText, sourcePath, transformOptions)
      return compose(transformer.process(instrumented.code, sourcePath, transformOptions), instrumented)
    },
    async processAsync(sourceText, sourcePath, transformOptions) {
      const transformer = innerFor(transformOptions)
      const run = (text: string) =>
        transformer.processAsync !== undefined
          ? transformer.processAsync(text, sourcePath, transformOptions)
          : Promise.resolve(transformer.process!(text, sourcePath, transformOptions))
      const instrumented = instrumentFile(selection(), sourceText, sourcePath)
      if (instrumented === undefined) return run(sourceText)
      return compose(await run(instrumented.code), instrumented)
    }
  }
}

export default { createTransformer }
