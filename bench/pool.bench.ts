/**
 * The pool's figures (issue 4):
 * 1. per-task overhead on trivial tasks (identity), lineprof's pool against
 *    piscina on the same number of worker threads, profiling off and on;
 *    lineprof with its default chunks and with one task a message (piscina
 *    sends one task a message);
 * 2. scaling of a CPU-bound child (30 000 square roots a task) from 1 to 2 workers.
 *    Target: at least 1.8 times the throughput (these machines have 2 cores;
 *    on a machine busy with other work the figure says more about the load).
 *
 * Worker start-up is left out of per-task figures: a run is timed from its
 * first result to its last (profileStream gives each result as it arrives),
 * after a warm-up tenth of the tasks; piscina's pool is warmed the same way.
 * Start-up (call to first result) is printed on its own.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { availableParallelism, loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { Piscina } from "piscina"
import * as Locate from "../src/shell/pool/Locate.ts"
import { profileStream, type PoolOptions } from "../src/shell/pool/Pool.ts"

const fixture = (name: string): string => fileURLToPath(new URL(`../test/fixtures/pool/${name}`, import.meta.url))
const trivial = await Locate.nativeImport(new URL(`file://${fixture("trivial.ts")}`).href)
const cpu = await Locate.nativeImport(new URL(`file://${fixture("cpu.ts")}`).href)
const identity = trivial["identity"] as (num: number) => number
const spin = cpu["spin"] as (seed: number) => number

const range = (count: number): Array<number> => Array.from({ length: count }, (_, k) => k)

interface Timing {
  /** From the call to the first result (worker start-up included). */
  readonly startupMs: number
  /** Per task after the warm-up tenth. */
  readonly perTaskUs: number
  /** Tasks a second after the warm-up tenth. */
  readonly tasksPerSecond: number
}

const timeStream = async (child: Function, count: number, options: PoolOptions): Promise<Timing> => {
  const { stream } = profileStream(child as (num: number) => number, range(count), options)
  const started = performance.now()
  const arrivals: Array<number> = []
  await Effect.runPromise(Stream.runForEach(stream, () => Effect.sync(() => void arrivals.push(performance.now()))))
  const warm = Math.floor(count / 10)
  const spanMs = arrivals[count - 1]! - arrivals[warm]!
  return { startupMs: arrivals[0]! - started, perTaskUs: (spanMs * 1000) / (count - 1 - warm), tasksPerSecond: ((count - 1 - warm) * 1000) / spanMs }
}

const timePiscina = async (count: number, workers: number): Promise<Timing> => {
  const started = performance.now()
  const pool = new Piscina({ filename: fixture("trivial.ts"), minThreads: workers, maxThreads: workers })
  await Promise.all(range(workers * 4).map((k) => pool.run(k)))
  const startupMs = performance.now() - started
  const warm = Math.floor(count / 10)
  await Promise.all(range(warm).map((k) => pool.run(k)))
  const t0 = performance.now()
  await Promise.all(range(count - warm).map((k) => pool.run(k)))
  const spanMs = performance.now() - t0
  await pool.destroy()
  return { startupMs, perTaskUs: (spanMs * 1000) / (count - warm), tasksPerSecond: ((count - warm) * 1000) / spanMs }
}

/** The median run of a few, by per-task time: one busy moment on a shared machine does not decide a figure. */
const median = async (runs: number, measure: () => Promise<Timing>): Promise<Timing> => {
  const timings: Array<Timing> = []
  for (let k = 0; k < runs; k++) timings.push(await measure())
  timings.sort((a, b) => a.perTaskUs - b.perTaskUs)
  return timings[Math.floor(runs / 2)]!
}

const workers = 2
const tasks = 40_000
const load = loadavg()[0]!.toFixed(1)

const piscina = await median(3, () => timePiscina(tasks, workers))
const rows: Array<[string, Timing]> = [["piscina (one task a message)", piscina]]
for (const profile of [false, true]) {
  for (const chunkSize of [undefined, 1]) {
    const name = `lineprof pool, profiling ${profile ? "on" : "off"}, ${chunkSize === undefined ? "default chunks" : "one task a message"}`
    rows.push([name, await median(3, () => timeStream(identity, chunkSize === 1 ? tasks / 4 : tasks, { concurrency: workers, profile, chunkSize }))])
  }
}

console.log(`Trivial tasks (identity) on ${workers} worker threads; ${availableParallelism()} CPUs, load average ${load} at start.\n`)
console.log("| runner | µs per task | tasks/s | vs piscina | start-up ms |")
console.log("|---|---:|---:|---:|---:|")
for (const [name, timing] of rows) {
  console.log(
    `| ${name} | ${timing.perTaskUs.toFixed(2)} | ${Math.round(timing.tasksPerSecond)} | ${(timing.perTaskUs / piscina.perTaskUs).toFixed(2)}x | ${timing.startupMs.toFixed(0)} |`
  )
}

const cpuTasks = 300
console.log(`\nScaling: a CPU-bound child (30 000 square roots a task), ${cpuTasks} tasks, profiling on. Target: 2 workers >= 1.8x the throughput of 1.\n`)
console.log("| isolation | 1 worker tasks/s | 2 workers tasks/s | speed-up |")
console.log("|---|---:|---:|---:|")
for (const isolation of ["thread", "process"] as const) {
  const one = await median(3, () => timeStream(spin, cpuTasks, { concurrency: 1, isolation }))
  const two = await median(3, () => timeStream(spin, cpuTasks, { concurrency: 2, isolation }))
  console.log(`| ${isolation} | ${one.tasksPerSecond.toFixed(0)} | ${two.tasksPerSecond.toFixed(0)} | ${(two.tasksPerSecond / one.tasksPerSecond).toFixed(2)}x |`)
}
console.log(`\n(load average ${loadavg()[0]!.toFixed(1)} at the end)`)
