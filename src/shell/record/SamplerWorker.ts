/**
 * The sampler thread (see Sampler): one per process, started with
 * `workerData = { intervalNs, stats }`. It sleeps with `Atomics.wait` for a
 * jittered interval (uniform in 0.5 to 1.5 times the mean: a fixed interval
 * aliases with periodic work), then, for each attached thread whose stack
 * holds a profiled line, adds the ns since the previous sample to the
 * `timeNs` of each distinct slot on the stack (a recursive line counts once a
 * sample) and counts the sample in `hits[0]` (the timing header, see
 * core/Probe). Every few ms it returns to its event loop, where attachments,
 * reallocated counters and closed ports (ended threads) arrive.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads"
import type { SamplerMessage } from "./Sampler.ts"

const { intervalNs, stats } = workerData as { readonly intervalNs: number; readonly stats: Float64Array }

/** Entries of a shadow stack (see Sampler.STACK_SLOTS; repeated here so that this thread imports nothing of lineprof's). */
const STACK_SLOTS = 4096
/** Time spent sampling before the loop returns to the event loop. */
const ROUND_NS = 5e6

interface Thread {
  readonly stack: Int32Array
  hits: Float64Array
  timeNs: Float64Array
  /** The sample in which each slot was last credited. */
  seen: Uint32Array
}

const threads = new Set<Thread>()
const nowNs = (): number => performance.now() * 1e6

const attach = (message: Extract<SamplerMessage, { readonly _tag: "Attach" }>): void => {
  const thread: Thread = { stack: message.stack, hits: message.hits, timeNs: message.timeNs, seen: new Uint32Array(message.timeNs.length) }
  thread.timeNs[0] = intervalNs
  if (!(thread.hits[0]! >= 1)) thread.hits[0] = 1
  threads.add(thread)
  const port: MessagePort = message.port
  port.on("message", (update: SamplerMessage) => {
    if (update._tag !== "Buffers") return
    update.timeNs[0] = intervalNs
    if (!(update.hits[0]! >= 1)) update.hits[0] = 1
    thread.hits = update.hits
    thread.timeNs = update.timeNs
    thread.seen = new Uint32Array(update.timeNs.length)
  })
  port.on("close", () => threads.delete(thread))
}

process.on("workerMessage", (message: SamplerMessage) => {
  if (message._tag === "Attach") attach(message)
})
parentPort?.on("message", (message: SamplerMessage) => {
  if (message._tag === "Attach") attach(message)
})

let sample = 0
let samples = 0
let lastNs = nowNs()
const startNs = lastNs
/** CPU the thread used before its first sample (starting up): not the sampler's running cost. */
const startCpu = process.threadCpuUsage()
const sleeper = new Int32Array(new SharedArrayBuffer(4))
const meanMs = intervalNs / 1e6

const sampleThread = (thread: Thread, elapsedNs: number): void => {
  const stack = thread.stack
  const depth = Math.min(stack[0]!, STACK_SLOTS)
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
  const endNs = nowNs() + ROUND_NS
  let now: number
  do {
    Atomics.wait(sleeper, 0, 0, meanMs * (0.5 + Math.random()))
    now = nowNs()
    const elapsedNs = now - lastNs
    lastNs = now
    sample++
    for (const thread of threads) sampleThread(thread, elapsedNs)
  } while (now < endNs)
  const cpu = process.threadCpuUsage()
  stats[0] = samples
  stats[1] = cpu.user + cpu.system - startCpu.user - startCpu.system
  stats[2] = now - startNs
  stats[3] = intervalNs
  setImmediate(round)
}

round()
