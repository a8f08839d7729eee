/**
 * The in-thread half of portable instrumentation (see Portable): the prologue
 * of every module that a runner plugin instrumented calls `register` when the
 * module runs, in whatever thread or process runs it. `register` gives the
 * file its slots in this thread's recorder and returns the base.
 *
 * - The same file (same path and text) gets the same slots however often it
 *   is evaluated in the thread: vitest and jest evaluate a module once per
 *   test file, and the counts add up in one place.
 * - The probes are defined on the `global` the module runs against, when that
 *   is not this realm's `globalThis` (jest runs each test file in a vm context
 *   of its own): the module's calls reach this thread's recorder.
 * - Under `lineprof run` every thread already has the recorder and delivery
 *   (the preload). Without the preload, with only LINEPROF_* set, the first
 *   `register` of the thread installs both, as the register module would.
 *
 * Loaded through Node's own `require`, so it shares the thread's recorder
 * with the preload (one store a thread, see Recorder). Once loaded, it is
 * also found as `RUNTIME_KEY` on the thread's `node:worker_threads` module
 * object: jest hands test code its own `node:module` (whose require would
 * load a second Runtime inside the test's registry) but the real
 * `node:worker_threads`, so that is how code in a jest context reaches this one.
 */
import * as Result from "effect/Result"
import { createRequire } from "node:module"
import { isMainThread } from "node:worker_threads"
import { Globals, type InstrumentedFunction } from "../../core/Probe.ts"
import * as Config from "../record/Config.ts"
import * as Delivery from "../record/Delivery.ts"
import * as Recorder from "../record/Recorder.ts"

/** What the instrumented module hands over: its functions with slots counted from 0 in the file. */
export interface Registration {
  readonly file: string
  readonly fileHash: string
  readonly sourceText: string
  readonly slotCount: number
  readonly functions: ReadonlyArray<InstrumentedFunction>
}

/** This thread's slot base of each registered file, by path and hash (on `globalThis`: one table a thread, however many copies of this module). */
const BASES_KEY = Symbol.for("lineprof.runners.bases.v1")
const bases: Map<string, number> = ((globalThis as any)[BASES_KEY] ??= new Map())

/**
 * Installs the recorder and delivery in a thread that the preload did not
 * reach (lineprof recording through LINEPROF_* alone). The Vite plugin calls
 * it in the process that runs vitest, so that its main thread collects the
 * counts of worker threads that are terminate()d, as under the preload.
 */
export const ensureRecording = (): void => {
  if (Recorder.isInstalled()) return
  const config = Config.fromEnv()
  if (Result.isFailure(config)) {
    // The probes must exist whatever happens: the module calls them.
    Recorder.install({ compensate: false })
    if (isMainThread) process.stderr.write(`lineprof: ${config.failure.message}; profiling is off\n`)
    return
  }
  Recorder.install({ compensate: config.success.compensate, timing: config.success.timing, sampleIntervalNs: config.success.sampleIntervalNs })
  Delivery.start(config.success)
}

/**
 * Loads the stats-file encoder soon, while the thread is idle, rather than at
 * its first write: test runners end their workers with SIGTERM and SIGKILL
 * half a second later (vitest, jest-worker), and on a busy machine loading
 * the encoder in the signal handler took longer than that (files were lost).
 */
const warmEncoder = (): void => {
  if ((globalThis as any)[WARM_KEY] === true) return
  ;(globalThis as any)[WARM_KEY] = true
  setTimeout(() => {
    try {
      createRequire(import.meta.url)(`../../core/StatsFile${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`)
    } catch {
      // Delivery loads it itself when it writes.
    }
  }, 0).unref()
}
const WARM_KEY = Symbol.for("lineprof.runners.warm.v1")

/** Defines this realm's probes on another realm's global (a vm context's), once. */
const shareProbes = (global: object): void => {
  if (global === globalThis || Object.prototype.hasOwnProperty.call(global, Globals.hit)) return
  for (const name of Object.values(Globals)) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name)
    if (descriptor !== undefined) Object.defineProperty(global, name, descriptor)
  }
}

/** Registers a module's file in this thread (once per path and text) and returns its slot base. */
export const register = (registration: Registration, global: object = globalThis): number => {
  ensureRecording()
  shareProbes(global)
  const key = `${registration.file}\0${registration.fileHash}`
  const known = bases.get(key)
  if (known !== undefined) return known
  const base = Recorder.allocateSlots(registration.slotCount)
  bases.set(key, base)
  warmEncoder()
  Recorder.registerFile({
    file: registration.file,
    fileHash: registration.fileHash,
    sourceText: registration.sourceText,
    functions: registration.functions.map((fn) => ({ ...fn, slots: fn.slots.map((slot) => base + slot) }))
  })
  return base
}

/** The key of this module's API on `node:worker_threads` (see the module comment). */
export const RUNTIME_KEY = "lineprof.runtime.v1"

// The module object itself (what `getBuiltinModule` gives the prologue), not an ESM namespace, which cannot take a property.
const workerThreads: object = process.getBuiltinModule("node:worker_threads")
if (!Object.prototype.hasOwnProperty.call(workerThreads, Symbol.for(RUNTIME_KEY))) {
  Object.defineProperty(workerThreads, Symbol.for(RUNTIME_KEY), { value: { register }, enumerable: false })
}
