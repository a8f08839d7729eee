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
import * as Data from "effect/Data"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import * as Profile from "../../core/Profile.ts"
import * as Config from "../record/Config.ts"
import * as Hooks from "../record/Hooks.ts"
import * as Locate from "./Locate.ts"
import * as Recorder from "../record/Recorder.ts"

/** What `profileCall` succeeds with. */
export interface Profiled<A> {
  /** What the call returned (awaited when it returned a promise). */
  readonly result: A
  /** The lines that ran during the call: their hits, time and wait. */
  readonly profile: Profile.Profile
}

/** The function's module could not be loaded again through the hooks. */
export class ModuleLoadError extends Data.TaggedError("ModuleLoadError")<{
  readonly moduleUrl: string
  readonly reason: string
}> {
  constructor(args: { readonly moduleUrl: string; readonly reason: string }) {
    super(args)
    this.message = `cannot load ${args.moduleUrl} for profiling: ${args.reason}`
  }
}

/** The profiled call threw or rejected; `profile` holds what ran until then. */
export class CallFailedError extends Data.TaggedError("CallFailedError")<{
  readonly functionName: string
  readonly error: unknown
  readonly profile: Profile.Profile
}> {
  constructor(args: { readonly functionName: string; readonly error: unknown; readonly profile: Profile.Profile }) {
    super({ ...args, cause: args.error } as typeof args)
    const reason = args.error instanceof Error ? `${args.error.name}: ${args.error.message}` : String(args.error)
    this.message = `${args.functionName} failed: ${reason.split("\n")[0]}`
  }
}

// ---------------------------------------------------------------------------
// Profile difference

const lineKey = (fnKey: string, lineNo: number): string => `${fnKey}\u0000${lineNo}`

/**
 * `after - before` for two snapshots of the same recorder (counters only
 * grow): the functions and lines whose counters changed, with the increase.
 */
export const difference = (after: Profile.Profile, before: Profile.Profile): Profile.Profile => {
  const earlier = new Map<string, Profile.LineStats>()
  for (const fn of before.functions) {
    const key = Profile.keyOf(fn)
    for (const line of fn.lines) earlier.set(lineKey(key, line.lineNo), line)
  }
  const functions: Array<Profile.FunctionProfile> = []
  for (const fn of after.functions) {
    const key = Profile.keyOf(fn)
    const lines: Array<Profile.LineStats> = []
    for (const line of fn.lines) {
      const was = earlier.get(lineKey(key, line.lineNo))
      const hits = line.hits - (was?.hits ?? 0n)
      const timeNs = line.timeNs - (was?.timeNs ?? 0n)
      const waitNs = line.waitNs - (was?.waitNs ?? 0n)
      if (hits !== 0n || timeNs !== 0n || waitNs !== 0n) {
        lines.push(Profile.makeLine(line.lineNo, { hits, timeNs: timeNs < 0n ? 0n : timeNs, waitNs: waitNs < 0n ? 0n : waitNs }))
      }
    }
    if (lines.length > 0) functions.push({ ...fn, lines })
  }
  return Profile.make(functions, functions.length === 0 ? undefined : timingDifference(after, before))
}

/** The timing of `after - before`: a sampled recorder's samples since `before`; exact otherwise. */
const timingDifference = (after: Profile.Profile, before: Profile.Profile): Profile.Timing => {
  const now = Profile.timingOf(after)
  const then = Profile.timingOf(before)
  if (now?.mode !== "sampled") return Profile.exactTiming
  const samples = now.samples - (then?.mode === "sampled" ? then.samples : 0n)
  return { ...now, samples: samples < 0n ? 0n : samples }
}

// ---------------------------------------------------------------------------
// Fresh, instrumented instances of modules

/** Fresh module instances by module URL: loaded once, reused. */
const freshModules = new Map<string, Record<string, unknown>>()
let freshCount = 0

const loadFresh = (moduleUrl: string): Effect.Effect<Record<string, unknown>, ModuleLoadError> =>
  Effect.suspend(() => {
    const cached = freshModules.get(moduleUrl)
    if (cached !== undefined) return Effect.succeed(cached)
    const file = fileURLToPath(moduleUrl)
    Recorder.install()
    Hooks.install(selectionFor(file))
    const require = createRequire(moduleUrl)
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
            try: () => Locate.nativeImport(`${moduleUrl}${moduleUrl.includes("?") ? "&" : "?"}lineprof-call=${++freshCount}`),
            catch: fail
          })
    return Effect.tap(load, (namespace) => Effect.sync(() => freshModules.set(moduleUrl, namespace)))
  })

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as any).then === "function"

/** Options of `profileCallWith`. */
export interface CallOptions {
  /**
   * "exact" (a clock read at each line event) or "sampled" (a sampler thread
   * credits time; hits stay exact). Default: the mode this thread's recorder
   * already has, else exact. The thread's recorder switches between calls.
   */
  readonly timing?: "exact" | "sampled" | undefined
}

/**
 * Profiles one call of an exported function: succeeds with its result and the
 * profile of the call. Fails with `NotExportedError` (fn cannot be loaded by
 * name), `ModuleLoadError`, or `CallFailedError` (it threw or rejected).
 */
export const profileCall = <Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  ...args: Args
): Effect.Effect<Profiled<Awaited<R>>, Locate.NotExportedError | ModuleLoadError | CallFailedError> => profileCallWith({})(fn, ...args)

/** `profileCall` with options: `profileCallWith({ timing: "sampled" })(fn, ...args)`. */
export const profileCallWith = (options: CallOptions) => <Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  ...args: Args
): Effect.Effect<Profiled<Awaited<R>>, Locate.NotExportedError | ModuleLoadError | CallFailedError> =>
  Effect.gen(function* () {
    const location = yield* Locate.locate(fn)
    if (options.timing !== undefined) Recorder.install({ timing: options.timing })
    const namespace = yield* loadFresh(location.moduleUrl)
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
      new CallFailedError({ functionName, error, profile: difference(Recorder.snapshot(), before) })
    const returned = yield* Effect.try({ try: () => (fresh as (...a: Args) => R)(...args), catch: failed })
    const result = isThenable(returned)
      ? yield* Effect.tryPromise({ try: () => Promise.resolve(returned as Awaited<R>), catch: failed })
      : (returned as Awaited<R>)
    return { result, profile: difference(Recorder.snapshot(), before) }
  })

/** `profileCall` as a promise: resolves with `{ result, profile }`, rejects with the same typed errors. */
export const profileCallPromise = <Args extends ReadonlyArray<unknown>, R>(
  fn: (...args: Args) => R,
  ...args: Args
): Promise<Profiled<Awaited<R>>> => Effect.runPromise(profileCall(fn, ...args))

/** The configuration `profileCall` installs the hooks with for `file`: exactly that file. */
export const selectionFor = (file: string): Config.Options => ({ include: [Config.escapeGlob(file)], exclude: [] })
