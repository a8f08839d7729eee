/**
 * profileAll / profileStream on a real cluster: runner processes (`lineprof
 * runner`, one worker each) on 127.0.0.1, storage in a PostgreSQL database
 * made for this file. The last test kills a runner with SIGKILL mid-run.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { pathToFileURL } from "node:url"
import { join } from "node:path"
import * as Profile from "../../../src/core/Profile.ts"
import * as Cluster from "../../../src/shell/cluster/Cluster.ts"
import * as Locate from "../../../src/shell/pool/Locate.ts"
import * as Pool from "../../../src/shell/pool/Pool.ts"
import { createDatabase, repoRoot, startRunner, waitUntilServing, type RunnerProcess } from "./support.ts"

const seedUrl = pathToFileURL(join(repoRoot, "examples", "power3.ts")).href
const childrenUrl = pathToFileURL(join(repoRoot, "test", "fixtures", "pool", "children.ts")).href
const seed = Effect.promise(() => Locate.nativeImport(seedUrl)) as Effect.Effect<{ child: (n: number) => number }>

const range = (count: number): Array<number> => Array.from({ length: count }, (_, k) => k)

/** [name, lineNo, hits] of every line, in profile order. */
const hitsOf = (profile: Profile.Profile): Array<[string, number, bigint]> =>
  profile.functions.flatMap((fn) => fn.lines.map((line): [string, number, bigint] => [fn.name, line.lineNo, line.hits]))

/** The seed's body lines (power3: 8; child: 12-14), each with `hits`. */
const seedHits = (hits: bigint): Array<[string, number, bigint]> => [
  ["power3", 8, hits],
  ["child", 12, hits],
  ["child", 13, hits],
  ["child", 14, hits]
]

let database: Awaited<ReturnType<typeof createDatabase>>
let runners: Array<RunnerProcess> = []

beforeAll(async () => {
  database = await createDatabase()
  // One after another: three runners starting at once on two cores race for their first shard locks.
  for (let k = 0; k < 3; k++) runners.push(await startRunner(database.url))
  await waitUntilServing(database.url, 3)
}, 300_000)

afterAll(async () => {
  await Promise.all(runners.map((runner) => runner.kill()))
  await database?.drop()
}, 60_000)

const onCluster = <A, E>(effect: Effect.Effect<A, E>, inFlight?: number) =>
  effect.pipe(Effect.provide(Cluster.layerClient({ postgresUrl: database.url, inFlight })))

describe("profileAll on three runners", () => {
  it.effect("the seed over 30,000 inputs: results equal the plain run, every body line exactly 30,000 hits, every runner busy", () =>
    Effect.gen(function* () {
      const { child } = yield* seed
      const inputs = range(30_000)
      const run = yield* onCluster(Pool.profileAll(child, inputs))
      assert.deepStrictEqual(run.results, inputs.map(child))
      assert.strictEqual(run.completed, 30_000)
      assert.deepStrictEqual(run.failures, [])
      assert.deepStrictEqual(Profile.check(run.profile), [])
      assert.deepStrictEqual(hitsOf(run.profile), seedHits(30_000n))
      // One profile per runner, each with work, adding up to the whole.
      assert.strictEqual(run.workerProfiles.length, 3)
      for (const each of run.workerProfiles) assert.isTrue(each.functions.length > 0 && each.functions[0]!.lines[0]!.hits > 0n)
      assert.deepStrictEqual(hitsOf(Profile.ProfileReducer.combineAll(run.workerProfiles)), hitsOf(run.profile))
      // Sources travel with the deltas, as from the local pool.
      assert.isTrue(run.profile.functions.every((fn) => fn.source !== undefined && fn.source.length > 0))
    }), 120_000)

  it.effect("profileStream: every task once, in completion order; the summary counts each once", () =>
    Effect.gen(function* () {
      const { child } = yield* seed
      const inputs = range(2_000)
      const { stream, summary } = Pool.profileStream(child, inputs, { chunkSize: 50 })
      const seen = yield* onCluster(Stream.runCollect(stream))
      const { profile, completed } = yield* summary
      assert.deepStrictEqual([...seen].map((task) => task.index).sort((a, b) => a - b), inputs)
      for (const task of seen) assert.strictEqual(task.result, child(task.input))
      assert.strictEqual(completed, 2_000)
      assert.deepStrictEqual(hitsOf(profile), seedHits(2_000n))
    }), 120_000)

  it.effect("failures: 'collect' lists the task that threw; the others complete and count", () =>
    Effect.gen(function* () {
      const run = yield* onCluster(
        Pool.profileAll({ moduleUrl: childrenUrl, exportName: "throwsAt7" }, range(40), { failures: "collect", chunkSize: 4 })
      )
      assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind, failure.errorName, failure.errorMessage]), [
        [7, "threw", "RangeError", "boom at 7"]
      ])
      assert.strictEqual(run.completed, 39)
      assert.deepStrictEqual(run.results.map((result, k) => (k === 7 ? result : result === k * k)), range(40).map((k) => (k === 7 ? undefined : true)))
      const fn = run.profile.functions.find((candidate) => candidate.name === "throwsAt7")!
      // `if` ran for the 39 completed tasks only; the failed task's lines are in its taskProfile.
      assert.strictEqual(fn.lines.find((line) => line.lineNo === fn.firstLine + 1)!.hits, 39n)
    }), 120_000)

  it.effect("a child that throws fails the run with TaskError by default", () =>
    Effect.gen(function* () {
      const error = yield* onCluster(Pool.profileAll({ moduleUrl: childrenUrl, exportName: "throwsAt7" }, range(10), { chunkSize: 1 })).pipe(
        Effect.flip
      )
      assert.strictEqual(error._tag, "TaskError")
      assert.strictEqual(error.message, "input 7: RangeError: boom at 7")
    }), 120_000)

  it.effect("a worker that dies on a runner: that task fails (workerDied), the rest of its chunk runs again and counts once", () =>
    Effect.gen(function* () {
      const run = yield* onCluster(
        Pool.profileAll({ moduleUrl: childrenUrl, exportName: "exitsAt5" }, range(12), { failures: "collect", chunkSize: 4 })
      )
      assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind]), [[5, "workerDied"]])
      assert.strictEqual(run.completed, 11)
      assert.deepStrictEqual(Array.from(run.results, (result) => result === undefined), range(12).map((k) => k === 5))
      const fn = run.profile.functions.find((candidate) => candidate.name === "exitsAt5")!
      assert.strictEqual(fn.lines.find((line) => line.lineNo === fn.firstLine + 1)!.hits, 11n)
    }), 120_000)

  it.effect("a timeout is refused on a cluster with PoolOptionError", () =>
    Effect.gen(function* () {
      const { child } = yield* seed
      const error = yield* onCluster(Pool.profileAll(child, range(3), { timeout: "1 second" })).pipe(Effect.flip)
      assert.strictEqual(error._tag, "PoolOptionError")
      assert.strictEqual(error.message, "lineprof pool: option timeout: not supported on a cluster (runners give no task a deadline)")
    }), 120_000)

  const unloadable = [
    {
      what: "a module missing on the runners",
      path: ["pool", "nowhere.ts"],
      detail: /^lineprof pool: a worker could not load file:\/\/\S+\/nowhere\.ts: runner (127\.0\.0\.1:\d+): no such file on this runner$/
    },
    {
      what: "a module that throws on import",
      path: ["cluster", "throwsOnImport.ts"],
      detail:
        /^lineprof pool: a worker could not load file:\/\/\S+\/throwsOnImport\.ts: runner (127\.0\.0\.1:\d+): its worker exited before it was ready \(the worker exited with code 86; see the runner's stderr\)$/
    }
  ]
  for (const { what, path, detail } of unloadable) {
    it.effect(`${what}: one line naming the module and the runner`, () =>
      Effect.gen(function* () {
        const moduleUrl = pathToFileURL(join(repoRoot, "test", "fixtures", ...path)).href
        const error = yield* onCluster(Pool.profileAll({ moduleUrl, exportName: "child" }, range(3))).pipe(Effect.flip)
        assert.strictEqual(error._tag, "WorkerStartError", error.message)
        const match = detail.exec(error.message)
        assert.isNotNull(match, error.message)
        assert.isTrue(runners.some((runner) => runner.address === match![1]))
      }), 120_000)
  }
})

describe("a runner killed with SIGKILL mid-run", () => {
  it.effect("the seed over 100,000 inputs: its chunks run again elsewhere; results equal, every body line exactly 100,000 hits", () =>
    Effect.gen(function* () {
      const { child } = yield* seed
      const inputs = range(100_000)
      // A random moment: after between 5% and 60% of the tasks completed.
      const killAfter = Math.floor(5_000 + Math.random() * 55_000)
      const victim = runners[Math.floor(Math.random() * runners.length)]!
      let received = 0
      const results = new Array<number>(inputs.length)
      const { stream, summary } = Pool.profileStream(child, inputs, { chunkSize: 100 })
      yield* onCluster(
        Stream.runForEach(stream, (task) =>
          Effect.gen(function* () {
            results[task.index] = task.result
            if (++received === killAfter) yield* Effect.promise(victim.kill)
          })
        ),
        16
      )
      const run = yield* summary
      assert.strictEqual(victim.process.signalCode, "SIGKILL", `the victim was killed after ${killAfter} results`)
      assert.strictEqual(received, 100_000)
      assert.deepStrictEqual(results, inputs.map(child))
      assert.strictEqual(run.completed, 100_000)
      assert.deepStrictEqual(hitsOf(run.profile), seedHits(100_000n))
      assert.deepStrictEqual(hitsOf(Profile.ProfileReducer.combineAll(run.workerProfiles)), hitsOf(run.profile))
      // The victim's chunks answered before the kill count (once); the rest ran on the other two.
      assert.strictEqual(run.workerProfiles.length, 3)
    }), 240_000)
})
