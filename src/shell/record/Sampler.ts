/**
 * The sampler of sampled timing, profiled-thread side. In sampled mode a line
 * event reads no clock: it counts its hit and writes its slot into the
 * thread's shadow line stack (`Stack`). One sampler thread per process
 * (SamplerWorker's code, started lazily by the first thread that attaches,
 * unref()ed, without lineprof's preload) reads every attached thread's stack at a
 * jittered interval and adds the nanoseconds since its previous sample, as
 * it measured them, to the `timeNs` of every distinct line on the stack.
 * Those counters are the recorder's own SharedArrayBuffers, so whatever
 * reads the recorder's buffers (Delivery, pool deltas, a terminated worker's
 * last file) sees the sampler's time with no change.
 *
 * Finding the process's sampler: the thread that starts it writes
 * `SAMPLER_ENV` (`<pid> <threadId>`) once the sampler listens; threads started afterwards inherit a
 * copy of the environment and attach to that thread with
 * `postMessageToThread`, handing it a MessagePort whose closing (at the
 * thread's end, terminate() included) tells the sampler to stop reading that
 * thread's stack. A thread that cannot reach it (started earlier, another
 * environment, its starter gone) starts its own.
 */
import * as HotCounts from "./HotCounts.ts"
import { MessageChannel, postMessageToThread, threadId, Worker, type MessagePort } from "node:worker_threads"
import { samplerMain } from "./SamplerWorker.ts"

/** The environment variable naming the process's sampler thread: `<pid> <threadId>`. */
export const SAMPLER_ENV = "LINEPROF_SAMPLER"

/**
 * The default mean interval between samples. Measured here (bench/sampled):
 * 1 ms costs the sampler about 2% of a core; 250 µs, about 7%.
 */
export const DEFAULT_INTERVAL_NS = 1_000_000

/** Entries of a shadow stack: `stack[0]` is the depth, `stack[1..depth]` the slots of the current lines, outermost first. */
export const STACK_SLOTS = 4096

/** What the sampler reads and writes for one thread. */
export interface Target {
  readonly stack: Int32Array
  readonly hits: Float64Array
  readonly timeNs: Float64Array
  /** Folded into `hits` every HotCounts.FOLD_EVERY_MS, so that no counter wraps twice between folds. */
  readonly hot: HotCounts.HotCounts
}

/** Messages to the sampler thread (over its `workerData` port, or `postMessageToThread`). */
export type SamplerMessage =
  | {
    readonly _tag: "Attach"
    readonly port: MessagePort
    readonly stack: Int32Array
    readonly hits: Float64Array
    readonly timeNs: Float64Array
    readonly hot: HotCounts.HotCounts
  }
  /** Sent on the thread's own port when its counters were reallocated. */
  | { readonly _tag: "Buffers"; readonly hits: Float64Array; readonly timeNs: Float64Array; readonly hot: HotCounts.HotCounts }

/** The sampler's own figures, written at the end of each of its rounds: [samples taken, thread CPU µs, wall ns since start, mean interval ns]. */
export type SamplerStats = Float64Array

const STATE_KEY = Symbol.for("lineprof.sampler.v1")

interface State {
  port: MessagePort | undefined
  started: { readonly worker: Worker; readonly stats: SamplerStats } | undefined
}
const state: State = ((globalThis as any)[STATE_KEY] ??= { port: undefined, started: undefined })

const startSampler = (intervalNs: number): { readonly worker: Worker; readonly stats: SamplerStats } => {
  const stats = new Float64Array(new SharedArrayBuffer(4 * Float64Array.BYTES_PER_ELEMENT))
  // An eval worker with no execArgv: lineprof's preload (`--import`, also from NODE_OPTIONS) does not run in it,
  // and it starts without loading a module.
  const worker = new Worker(`(${samplerMain.toString()})(require("node:worker_threads"), ${HotCounts.fold.toString()})`, {
    eval: true,
    execArgv: [],
    workerData: { intervalNs, stats, stackSlots: STACK_SLOTS, foldEveryMs: HotCounts.FOLD_EVERY_MS },
    stdout: false,
    stderr: false
  })
  worker.unref()
  // Name the sampler to the threads started from here only once it listens (it writes its interval into
  // stats[3]): a thread that attached before would be refused, and a busy thread only learns that when it
  // next returns to its event loop. A thread started before then starts its own sampler.
  const announce = setInterval(() => {
    if (stats[3]! > 0) {
      clearInterval(announce)
      process.env[SAMPLER_ENV] = `${process.pid} ${worker.threadId}`
    }
  }, 5)
  announce.unref()
  return { worker, stats }
}

const attachToOwn = (target: Target, intervalNs: number): void => {
  state.started ??= startSampler(intervalNs)
  const { port1, port2 } = new MessageChannel()
  port1.unref()
  state.port = port1
  const message: SamplerMessage = { _tag: "Attach", port: port2, ...target }
  state.started.worker.postMessage(message, [port2])
}

/**
 * Has the process's sampler read `target` from now on (starting it when there
 * is none). Call once per thread; `update` after the counters grow.
 */
export const attach = (target: Target, intervalNs: number = DEFAULT_INTERVAL_NS): void => {
  const [pid, owner] = (process.env[SAMPLER_ENV] ?? "").split(" ")
  const ownerThread = Number(owner)
  if (state.started === undefined && pid === String(process.pid) && Number.isInteger(ownerThread) && ownerThread !== threadId) {
    const { port1, port2 } = new MessageChannel()
    port1.unref()
    state.port = port1
    const message: SamplerMessage = { _tag: "Attach", port: port2, ...target }
    postMessageToThread(ownerThread, message, [port2]).catch(() => attachToOwn(target, intervalNs))
    return
  }
  attachToOwn(target, intervalNs)
}

/** Tells the sampler that this thread's counters were reallocated (the stack never is). */
export const update = (hits: Float64Array, timeNs: Float64Array, hot: HotCounts.HotCounts): void => {
  const message: SamplerMessage = { _tag: "Buffers", hits, timeNs, hot }
  state.port?.postMessage(message)
}

/** The figures of the sampler this thread started, or undefined when it started none. */
export const stats = (): { readonly samples: number; readonly cpuNs: number; readonly wallNs: number; readonly intervalNs: number } | undefined => {
  const shared = state.started?.stats
  if (shared === undefined) return undefined
  return { samples: shared[0]!, cpuNs: shared[1]! * 1000, wallNs: shared[2]!, intervalNs: shared[3]! }
}
