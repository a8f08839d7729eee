/**
 * The sampler thread's code (see Sampler): one per process. `samplerMain`
 * runs in an eval worker as the text of this function, so that the thread
 * starts without resolving or compiling any module (and without lineprof's
 * preload): it must use only its argument and the globals.
 *
 * It sleeps with `Atomics.wait` for a jittered interval (uniform in 0.5 to 1.5
 * times the mean: a fixed interval aliases with periodic work), then, for
 * each attached thread whose stack holds a profiled line, adds the ns since
 * its previous sample to the `timeNs` of each distinct slot on the stack (a
 * recursive line counts once a sample) and counts the sample in `hits[0]`
 * (the timing header, see Recorder; a thread whose header interval is 0, a
 * recorder switched to exact timing, is skipped). Every few ms it returns to its event
 * loop, where attachments, reallocated counters and closed ports (ended
 * threads) arrive; every 100 ms it folds each thread's hot hit counters into
 * its totals (HotCounts.fold, passed in as its source text).
 */
import type * as WorkerThreads from "node:worker_threads"
import type * as HotCounts from "./HotCounts.ts"

export const samplerMain = (threads: typeof WorkerThreads, fold: typeof HotCounts.fold): void => {
  const { intervalNs, stats, stackSlots, foldEveryMs } = threads.workerData as {
    readonly intervalNs: number
    readonly stats: Float64Array
    readonly stackSlots: number
    readonly foldEveryMs: number
  }
  /** Time spent sampling before the loop returns to the event loop. */
  const roundNs = 5e6

  interface Thread {
    readonly stack: Int32Array
    hits: Float64Array
    timeNs: Float64Array
    hot: HotCounts.HotCounts
    /** The sample in which each slot was last credited. */
    seen: Uint32Array
    /**
     * When this thread was last sampled; at first, when the sampler heard of it. Not when the thread attached:
     * crediting the sampler's start-up (tens of ms) to the line on the stack at the first sample misattributes it.
     */
    lastNs: number
  }
  interface Attach {
    readonly _tag: string
    readonly port: WorkerThreads.MessagePort
    readonly stack: Int32Array
    readonly hits: Float64Array
    readonly timeNs: Float64Array
    readonly hot: HotCounts.HotCounts
  }

  const attached = new Set<Thread>()
  /** Epoch-based, so that a time taken in another thread compares with it. */
  const nowNs = (): number => (performance.timeOrigin + performance.now()) * 1e6
  const header = (hits: Float64Array, timeNs: Float64Array): void => {
    timeNs[0] = intervalNs
    if (!(hits[0]! >= 1)) hits[0] = 1
  }

  const attach = (message: Attach): void => {
    if (message._tag !== "Attach") return
    const thread: Thread = {
      stack: message.stack,
      hits: message.hits,
      timeNs: message.timeNs,
      hot: message.hot,
      seen: new Uint32Array(message.timeNs.length),
      lastNs: nowNs()
    }
    header(thread.hits, thread.timeNs)
    attached.add(thread)
    message.port.on("message", (update: Omit<Attach, "port" | "stack">) => {
      // No header here: the recorder copies its own into the new counters (exact mode keeps it at 0).
      if (update._tag !== "Buffers") return
      thread.hits = update.hits
      thread.timeNs = update.timeNs
      thread.hot = update.hot
      thread.seen = new Uint32Array(update.timeNs.length)
    })
    message.port.on("close", () => attached.delete(thread))
  }
  process.on("workerMessage", attach)
  threads.parentPort?.on("message", attach)
  // Ready: other threads may now attach with postMessageToThread (before this listener existed, they were refused).
  stats[3] = intervalNs

  let sample = 0
  let samples = 0
  let nextFoldNs = 0
  const startNs = nowNs()
  /** CPU the thread used before its first sample (starting up): not the sampler's running cost. */
  const startCpu = process.threadCpuUsage()
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  const meanMs = intervalNs / 1e6

  const sampleThread = (thread: Thread, now: number): void => {
    const elapsedNs = now - thread.lastNs
    thread.lastNs = now
    // A thread whose recorder switched to exact timing (header interval 0) is not sampled: its
    // inline-probed code still keeps the stack, but an exact profile takes no sampled time.
    if (!(thread.timeNs[0]! > 0)) return
    const stack = thread.stack
    const depth = Math.min(stack[0]!, stackSlots)
    if (depth <= 0) return
    const { seen, timeNs } = thread
    const marker = sample >>> 0
    for (let k = 1; k <= depth; k++) {
      const slot = stack[k]!
      if (slot > 0 && slot < seen.length && seen[slot] !== marker) {
        seen[slot] = marker
        timeNs[slot]! += elapsedNs
      }
    }
    thread.hits[0]!++
    samples++
  }

  const round = (): void => {
    const endNs = nowNs() + roundNs
    let now: number
    do {
      Atomics.wait(sleeper, 0, 0, meanMs * (0.5 + Math.random()))
      now = nowNs()
      sample++
      for (const thread of attached) sampleThread(thread, now)
    } while (now < endNs)
    const cpu = process.threadCpuUsage()
    if (now >= nextFoldNs) {
      nextFoldNs = now + foldEveryMs * 1e6
      for (const thread of attached) fold(thread.hot, thread.hits)
    }
    stats[0] = samples
    stats[1] = cpu.user + cpu.system - startCpu.user - startCpu.system
    stats[2] = now - startNs
    stats[3] = intervalNs
    setImmediate(round)
  }
  round()
}
