/**
 * The cluster's figures (issue 13), on runner processes (`lineprof runner`,
 * one worker each) on 127.0.0.1 with storage in a PostgreSQL database made
 * for the run (the server .ci/postgres starts):
 * 1. throughput of a CPU-bound child (30 000 square roots a task) on 1, 2
 *    and 3 runners. This machine has 2 cores shared by the caller, the
 *    runners, their workers and PostgreSQL: 2 runners can show the scaling
 *    the cluster gets from a second core, 3 runners can show only that a third
 *    one costs little when no core is left for it (the ratio cannot exceed 2);
 * 2. per-task overhead on trivial tasks (identity), one runner against the
 *    local pool with one worker, both with the same chunk size;
 * 3. how a chunk's profile delta (what a runner sends back, stats-file JSON)
 *    grows with the child's size: generated children of 10, 100 and 1000
 *    statement lines, the first delta of a worker (with the functions' source)
 *    and the later ones (without).
 *
 * Runs are timed from their first result to their last after a warm-up tenth
 * (profileStream gives each result as it arrives); start-up (call to first
 * result: each run starts fresh workers on every runner) is printed apart.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Profile from "../src/core/Profile.ts"
import * as StatsFile from "../src/core/StatsFile.ts"
import * as Cluster from "../src/shell/cluster/Cluster.ts"
import * as Locate from "../src/shell/pool/Locate.ts"
import { profileAll, profileStream, type PoolOptions } from "../src/shell/pool/Pool.ts"
import { createDatabase, startRunner, type RunnerProcess } from "../test/shell/cluster/support.ts"

const fixtureUrl = (name: string): string => pathToFileURL(fileURLToPath(new URL(`../test/fixtures/pool/${name}`, import.meta.url))).href
const spin = (await Locate.nativeImport(fixtureUrl("cpu.ts")))["spin"] as (seed: number) => number
const identity = (await Locate.nativeImport(fixtureUrl("trivial.ts")))["identity"] as (num: number) => number

const range = (count: number): Array<number> => Array.from({ length: count }, (_, k) => k)

interface Timing {
  readonly startupMs: number
  readonly perTaskUs: number
  readonly tasksPerSecond: number
}

const timeStream = async (
  child: (num: number) => number,
  count: number,
  options: PoolOptions,
  postgresUrl: string | undefined
): Promise<Timing> => {
  const { stream } = profileStream(child, range(count), options)
  const started = performance.now()
  const arrivals: Array<number> = []
  const drain = Stream.runForEach(stream, () => Effect.sync(() => void arrivals.push(performance.now())))
  await Effect.runPromise(postgresUrl === undefined ? drain : drain.pipe(Effect.provide(Cluster.layerClient({ postgresUrl }))))
  const warm = Math.floor(count / 10)
  const spanMs = arrivals[count - 1]! - arrivals[warm]!
  return { startupMs: arrivals[0]! - started, perTaskUs: (spanMs * 1000) / (count - 1 - warm), tasksPerSecond: ((count - 1 - warm) * 1000) / spanMs }
}

const median = async (runs: number, measure: () => Promise<Timing>): Promise<Timing> => {
  const timings: Array<Timing> = []
  for (let k = 0; k < runs; k++) timings.push(await measure())
  timings.sort((a, b) => a.perTaskUs - b.perTaskUs)
  return timings[Math.floor(runs / 2)]!
}

const database = await createDatabase()
const runners: Array<RunnerProcess> = []
const scratch = mkdtempSync(join(tmpdir(), "lineprof-cluster-bench-"))
try {
  console.log(`${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(1)} at start; each runner has one worker thread.\n`)

  // 1. throughput on 1, 2, 3 runners
  const cpuTasks = 600
  console.log(`Throughput: a CPU-bound child (30 000 square roots a task), ${cpuTasks} tasks, profiling on, chunks of 10.\n`)
  console.log("| runners | tasks/s | vs 1 runner | start-up ms |")
  console.log("|---:|---:|---:|---:|")
  let oneRunner: Timing | undefined
  for (let count = 1; count <= 3; count++) {
    runners.push(await startRunner(database.url))
    // Let the shards settle on the new runner (assignments refresh every second).
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    const timing = await median(3, () => timeStream(spin, cpuTasks, { chunkSize: 10 }, database.url))
    oneRunner ??= timing
    console.log(`| ${count} | ${timing.tasksPerSecond.toFixed(0)} | ${(timing.tasksPerSecond / oneRunner.tasksPerSecond).toFixed(2)}x | ${timing.startupMs.toFixed(0)} |`)
  }
  await Promise.all(runners.splice(1).map((runner) => runner.kill()))
  await new Promise((resolve) => setTimeout(resolve, 4_000))

  // 2. per-task overhead: one runner against the local pool
  const trivialTasks = 40_000
  console.log(`\nPer-task overhead: trivial tasks (identity), ${trivialTasks} tasks, profiling on, one worker, chunks of 64.\n`)
  console.log("| where | µs per task | tasks/s | start-up ms |")
  console.log("|---|---:|---:|---:|")
  const local = await median(3, () => timeStream(identity, trivialTasks, { concurrency: 1, chunkSize: 64 }, undefined))
  const remote = await median(3, () => timeStream(identity, trivialTasks, { chunkSize: 64 }, database.url))
  for (const [name, timing] of [["local pool, 1 worker", local], ["cluster, 1 runner of 1 worker", remote]] as const) {
    console.log(`| ${name} | ${timing.perTaskUs.toFixed(2)} | ${timing.tasksPerSecond.toFixed(0)} | ${timing.startupMs.toFixed(0)} |`)
  }
  console.log(`\nThe cluster adds ${(remote.perTaskUs - local.perTaskUs).toFixed(2)} µs a task (${((remote.perTaskUs - local.perTaskUs) * 64).toFixed(0)} µs a chunk of 64).`)

  // 3. a chunk's delta against the child's size
  console.log("\nA chunk's profile delta (stats-file JSON, as a runner sends it) against the child's size; one chunk of 64 tasks.\n")
  console.log("| child's statement lines | first delta bytes (with source) | later delta bytes | later bytes per line |")
  console.log("|---:|---:|---:|---:|")
  for (const lines of [10, 100, 1000]) {
    const file = join(scratch, `child${lines}.mjs`)
    const body = range(lines).map((k) => `  total += num * ${k + 1}`).join("\n")
    writeFileSync(file, `export function child(num) {\n  let total = 0\n${body}\n  return total\n}\n`)
    const { profile } = await Effect.runPromise(
      profileAll({ moduleUrl: pathToFileURL(file).href, exportName: "child" }, range(64), { concurrency: 1, chunkSize: 64 }).pipe(
        Effect.provide(Cluster.layerClient({ postgresUrl: database.url }))
      )
    )
    const first = StatsFile.encode(profile).length
    const later = StatsFile.encode(Profile.make(profile.functions.map((fn) => ({ ...fn, source: undefined })))).length
    console.log(`| ${lines} | ${first} | ${later} | ${(later / lines).toFixed(1)} |`)
  }
  console.log(`\n(load average ${loadavg()[0]!.toFixed(1)} at the end)`)
} finally {
  await Promise.all(runners.map((runner) => runner.kill()))
  await database.drop()
  rmSync(scratch, { recursive: true, force: true })
}
