/**
 * Profile one call, in the spirit of line_profiler's `LineProfiler.runcall`:
 * `profileCall(fn, ...args)` succeeds with the call's result (awaited when it
 * is a promise) and the profile of what ran during the call.
 *
 * `fn` is a plain reference to a function exported by an ES module, a
 * CommonJS module or a TypeScript file (see `Locate`). Its module must run
 * instrumented, so the first call for a module:
 *
 * 1. installs the recorder and the load hooks in this thread if needed, the
 *    hooks selecting the module's own file;
 * 2. loads a fresh instance of the module through the hooks: an ES module is
 *    imported again under a cache-busting query; a CommonJS module is required
 *    again with its require-cache entry set aside (then put back), since Node
 *    serves CommonJS from that cache whatever the query. The fresh instance is
 *    kept and reused by later calls: the module's top level runs once more,
 *    once.
 *
 * Then it snapshots the recorder, calls the fresh export, and returns the
 * difference of the snapshots after and before. Other code of this thread
 * that runs during the call (other async tasks, timers) and is instrumented
 * counts too. Modules the function imports are not reloaded: they are
 * profiled only when they were loaded through the hooks already.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import * as Delta from "../../core/Delta.ts"
import * as Profile from "../../core/Profile.ts"
import * as Config from "../record/Config.ts"
import * as Hooks from "../record/Hooks.ts"
import * as Locate from "./Locate.ts"
import { ProfileValue } from "./PoolProtocol.ts"
import * as Recorder from "../record/Recorder.ts"

/** What `profileCall` succeeds with. */
export interface Profiled<A> {
  /** What the call returned (awaited when it returned a promise). */
  readonly result: A
  /** The lines that ran during the call: their hits, time and wait. */
  readonly profile: Profile.Profile
}

/** The function's module could not be loaded again through the hooks. */
export class ModuleLoadError extends Schema.TaggedError<ModuleLoadError>()("ModuleLoadError", {
  moduleUrl: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot load ${this.moduleUrl} for profiling: ${this.reason}`
  }
}

/** The profiled call threw or rejected; `profile` holds what ran until then. */
export class CallFailedError extends Schema.TaggedError<CallFailedError>()("CallFailedError", {
  functionName: Schema.String,
  /** What the call threw or rejected with, as it was (also the `cause`). */
  error: Schema.Unknown,
  profile: ProfileValue
}) {
  constructor(args: { readonly functionName: string; readonly error: unknown; readonly profile: Profile.Profile }) {
    super(args)
    Object.defineProperty(this, "cause", { value: args.error, configurable: true, writable: true })
  }
  override get message(): string {
    const reason = this.error instanceof Error ? `${this.error.name}: ${this.error.message}` : String(this.error)
    return `${this.functionName} failed: ${reason.split("\n")[0]}`
  }
}


// ---------------------------------------------------------------------------
// Fresh, instrumented instances of modules

/** How `profileCallWith` instruments the function's module. */
export interface CallOptions {
  /** Globs of qualified function names of the module to instrument (`Parser.parse*`); default: every function. */
  readonly functions?: ReadonlyArray<string> | undefined
  /** false: a module with a source map is reported as its generated code. Default true. */
  readonly sourceMaps?: boolean | undefined
  /**
   * "exact" (a clock read at each line event) or "sampled" (a sampler thread
   * credits time; hits stay exact). Default: the mode this thread's recorder
   * already has, else exact. The thread's recorder switches between calls.
   */
  readonly timing?: "exact" | "sampled" | undefined
}

/** Fresh module instances by module URL and options: loaded once, reused. */
const freshModules = new Map<string, Record<string, unknown>>()
let freshCount = 0

const loadFresh = (moduleUrl: string, options: CallOptions = {}): Effect.Effect<Record<string, unknown>, ModuleLoadError> =>
  Effect.suspend(() => {
    // Timing changes the probes, not the instrumented code: one instance serves both.
    const key = options.functions === undefined && options.sourceMaps === undefined
      ? moduleUrl
      : `${moduleUrl}\u0000${JSON.stringify({ functions: options.functions, sourceMaps: options.sourceMaps })}`
    const cached = freshModules.get(key)
    if (cached !== undefined) return Effect.succeed(cached)
    const file = fileURLToPath(moduleUrl)
    Recorder.install()
    Hooks.install(selectionFor(file))
    const require = createRequire(moduleUrl)
    const freshUrl = `${moduleUrl}${moduleUrl.includes("?") ? "&" : "?"}lineprof-call=${++freshCount}`
    let forget = (): void => {}
    try {
      forget = Hooks.chooseFor(require.cache[file] !== undefined ? moduleUrl : freshUrl, options)
    } catch (error) {
      return Effect.fail(new ModuleLoadError({ moduleUrl, reason: String((error as Error)?.message ?? error) }))
    }
    const fail = (error: unknown) =>
      new ModuleLoadError({ moduleUrl, reason: String((error as Error)?.message ?? error).split("\n")[0]! })
    const load: Effect.Effect<Record<string, unknown>, ModuleLoadError> =
      require.cache[file] !== undefined
        ? Effect.try({
            try: () => {
              // CommonJS: Node would serve the cached (uninstrumented) exports for any URL of this file.
              const saved = require.cache[file]
              delete require.cache[file]
              try {
                const exports = require(file) as unknown
                const namespace: Record<string, unknown> =
                  exports !== null && typeof exports === "object" ? { ...(exports as object) } : {}
                namespace["default"] = exports
                return namespace
              } finally {
                if (saved !== undefined) require.cache[file] = saved
              }
            },
            catch: fail
          })
        : Effect.tryPromise({
            try: () => Locate.nativeImport(freshUrl),
            catch: fail
          })
    return Effect.tap(load, (namespace) => Effect.sync(() => freshModules.set(key, namespace))).pipe(Effect.ensuring(Effect.sync(forget)))
  })

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as any).then === "function"

/** Options of `profileCallWith`. */

/**
 * Profiles one call of an exported function: succeeds with its result and the
 * profile of the call. Fails with `NotExportedError` (fn cannot be loaded by
 * name), `ModuleLoadError`, or `CallFailedError` (it threw or rejected).
 */
export const profileCall = <Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  ...args: Args
): Effect.Effect<Profiled<Awaited<R>>, Locate.NotExportedError | ModuleLoadError | CallFailedError> => profileCallWith({}, fn, ...args)

/**
 * `profileCall` with options: `functions` instruments only the functions of
 * the module named by those globs (the rest runs at full speed), `sourceMaps:
 * false` reports a module with a source map as its generated code, `timing`
 * picks exact or sampled timing. Each set of `functions`/`sourceMaps` gets its
 * own fresh instance of the module.
 */
export const profileCallWith = <Args extends ReadonlyArray<unknown>, R>(
  options: CallOptions,
  fn: (...args: Args) => R,
  ...args: Args
): Effect.Effect<Profiled<Awaited<R>>, Locate.NotExportedError | ModuleLoadError | CallFailedError> =>
  Effect.gen(function* () {
    const location = yield* Locate.locate(fn)
    if (options.timing !== undefined) Recorder.install({ timing: options.timing })
    const namespace = yield* loadFresh(location.moduleUrl, options)
    const fresh = Locate.resolveExport(namespace, location.exportName)
    if (typeof fresh !== "function") {
      return yield* new ModuleLoadError({
        moduleUrl: location.moduleUrl,
        reason: `its fresh instance has no function ${location.exportName}`
      })
    }
    const functionName = fn.name === "" ? location.exportName : fn.name
    const before = Recorder.snapshot()
    const failed = (error: unknown) =>
      new CallFailedError({ functionName, error, profile: Delta.difference(Recorder.snapshot(), before) })
    const returned = yield* Effect.try({ try: () => (fresh as (...a: Args) => R)(...args), catch: failed })
    const result = isThenable(returned)
      ? yield* Effect.tryPromise({ try: () => Promise.resolve(returned as Awaited<R>), catch: failed })
      : (returned as Awaited<R>)
    return { result, profile: Delta.difference(Recorder.snapshot(), before) }
  })

/** `profileCall` as a promise: resolves with `{ result, profile }`, rejects with the same typed errors. */
export const profileCallPromise = <Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  ...args: Args
): Promise<Profiled<Awaited<R>>> => Effect.runPromise(profileCall(fn, ...args))

/** The configuration `profileCall` installs the hooks with for `file`: exactly that file. */
export const selectionFor = (file: string): Config.Options => ({ include: [Config.escapeGlob(file)], exclude: [] })
