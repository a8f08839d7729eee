/**
 * profileAll / profileStream on a real cluster: runner processes (`lineprof
 * runner`, one worker each) on 127.0.0.1, storage in a PostgreSQL database
 * made for this file. The last two tests kill a runner with SIGKILL mid-run.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import type * as Duration from "effect/Duration"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { existsSync, readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { join } from "node:path"
import * as Profile from "../../../src/core/Profile.ts"
import * as Cluster from "../../../src/shell/cluster/Cluster.ts"
import { entityIdOf, LineprofRunner } from "../../../src/shell/cluster/Protocol.ts"
import { layerRealClock } from "../../../src/shell/cluster/Runner.ts"
import * as Locate from "../../../src/shell/pool/Locate.ts"
import * as Pool from "../../../src/shell/pool/Pool.ts"
import type { Nap, Napped } from "../../fixtures/cluster/sleepers.ts"
import { makeTempDir } from "../../support/TempDir.ts"
import { createDatabase, repoRoot, startRunner, waitFor, waitUntilServing, type RunnerProcess } from "./support.ts"

const seedUrl = pathToFileURL(join(repoRoot, "examples", "power3.ts")).href
const childrenUrl = pathToFileURL(join(repoRoot, "test", "fixtures", "pool", "children.ts")).href
const sleepersUrl = pathToFileURL(join(repoRoot, "test", "fixtures", "cluster", "sleepers.ts")).href
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

/** Sharding as a client only, for sending the entity's message directly (in real time, as profileAll does). */
const clusterClient = () =>
  NodeClusterSocket.layer({ clientOnly: true, storage: "sql", shardingConfig: Cluster.fastSharding }).pipe(
    Layer.provide(Cluster.layerPostgres(database.url)),
    Layer.provideMerge(layerRealClock)
  )

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

  describe("timeout", () => {
    const sleeper: Pool.Child<Nap, Napped> = { moduleUrl: sleepersUrl, exportName: "sleepThenSquare" }
    /** `count` inputs; those in `sleeping` sleep a minute (far past any deadline here), marking their worker in `markDir`. */
    const naps = (count: number, sleeping: ReadonlyArray<number>, markDir: string): Array<Nap> =>
      range(count).map((num) => (sleeping.includes(num) ? { num, sleepMs: 60_000, markDir } : { num, sleepMs: 0 }))
    const failureFields = (failures: ReadonlyArray<Pool.TaskFailure>) =>
      failures.map((failure) => [failure.index, failure.kind, failure.errorName, failure.errorMessage, failure.errorStack, hitsOf(failure.taskProfile)])
    const squares = (results: ReadonlyArray<{ readonly square: number } | undefined>) => results.map((result) => result?.square)

    it.effect("tasks past the deadline fail as on the local pool; the others complete; the runner's worker is replaced", () =>
      Effect.gen(function* () {
        const sleeping = [0, 1, 2]
        const options = { timeout: "300 millis", failures: "collect" } as const
        const local = yield* Pool.profileAll<Nap, Napped>(sleeper, naps(30, sleeping, makeTempDir("cltimeout-local")), { ...options, concurrency: 2 })
        const markDir = makeTempDir("cltimeout")
        // One chunk at a time, in input order: every task after a sleeper runs after its timeout.
        const remote = yield* onCluster(Pool.profileAll<Nap, Napped>(sleeper, naps(30, sleeping, markDir), options), 1)
        assert.deepStrictEqual(failureFields(remote.failures), failureFields(local.failures))
        assert.deepStrictEqual(failureFields(remote.failures), sleeping.map((index) =>
          [index, "timeout", "TimeoutError", "the task ran longer than 300 ms; its worker was ended", "", []]
        ))
        assert.deepStrictEqual(squares(remote.results), squares(local.results))
        assert.deepStrictEqual(squares(remote.results), range(30).map((k) => (sleeping.includes(k) ? undefined : k * k)))
        assert.strictEqual(remote.completed, 27)
        assert.strictEqual(local.completed, 27)
        // The profiles count the 27 completed tasks alike (`if` 27 hits, the sleeps none).
        assert.deepStrictEqual(hitsOf(remote.profile), hitsOf(local.profile))
        const fn = remote.profile.functions.find((candidate) => candidate.name === "sleepThenSquare")!
        assert.strictEqual(fn.lines.find((line) => line.lineNo === fn.firstLine + 2)!.hits, 27n)
        // Each sleeper's runner (thread workers: pid = the runner's) ran later tasks, on a new worker.
        for (const index of sleeping) {
          const ended = readFileSync(join(markDir, String(index)), "utf8")
          const runnerPid = ended.split("/")[0]!
          const later = remote.results.slice(index + 1).filter((result) => result !== undefined && result.worker.split("/")[0] === runnerPid)
          assert.isTrue(later.length > 0, `no task ran on runner pid ${runnerPid} after input ${index} timed out`)
          assert.isTrue(later.every((result) => result!.worker !== ended), `the worker ${ended} still ran tasks after its timeout`)
        }
      }), 120_000)

    it.effect("failures: 'fail': the same TaskError as on the local pool, with the profile of what completed", () =>
      Effect.gen(function* () {
        const options = { timeout: "300 millis" } as const
        const local = yield* Effect.flip(Pool.profileAll<Nap, Napped>(sleeper, naps(6, [2], makeTempDir("cltimeout-local")), { ...options, concurrency: 2 }))
        const remote = yield* Effect.flip(onCluster(Pool.profileAll<Nap, Napped>(sleeper, naps(6, [2], makeTempDir("cltimeout")), options)))
        const fields = (error: { readonly _tag: string; readonly message: string }) =>
          error instanceof Pool.TaskError ? [error._tag, error.index, error.kind, error.errorName, error.message] : [error._tag, error.message]
        assert.deepStrictEqual(fields(remote), fields(local))
        assert.deepStrictEqual(fields(remote), ["TaskError", 2, "timeout", "TimeoutError", "input 2: TimeoutError: the task ran longer than 300 ms; its worker was ended"])
        if (remote._tag !== "TaskError") return
        const fn = remote.profile.functions.find((candidate) => candidate.name === "sleepThenSquare")
        assert.strictEqual(fn === undefined ? 0n : fn.lines.find((line) => line.lineNo === fn.firstLine + 2)!.hits, BigInt(remote.completed))
      }), 120_000)

    it.effect("a RunChunk message of several tasks with a deadline: the runner gives each task the deadline", () =>
      Effect.gen(function* () {
        const plan = yield* Pool.makePlan(sleeper, {})
        const tasks = naps(4, [1], makeTempDir("cltimeout-message")).map((input, index) => ({ index, input }))
        const clientFor = yield* LineprofRunner.client
        const runId = crypto.randomUUID()
        const reply = yield* clientFor(entityIdOf(runId, 0)).RunChunk({
          runId,
          chunkId: 0,
          config: plan.config,
          tasks,
          stopOnFailure: false,
          timeoutMs: 300
        })
        const outcomes = reply.outcomes as ReadonlyArray<Record<string, unknown>>
        assert.deepStrictEqual(outcomes.map((outcome) => [outcome["index"], outcome["ok"], outcome["kind"], outcome["errorMessage"]]), [
          [0, true, undefined, undefined],
          [1, false, "timeout", "the task ran longer than 300 ms; its worker was ended"],
          [2, true, undefined, undefined],
          [3, true, undefined, undefined]
        ])
        // The tasks after the timeout ran on the worker that replaced the ended one.
        const workers = outcomes.map((outcome) => (outcome["ok"] === true ? (outcome["result"] as Napped).worker : undefined))
        assert.notStrictEqual(workers[2], workers[0])
        assert.strictEqual(workers[3], workers[2])
      }).pipe(Effect.provide(clusterClient())), 120_000)

    it.effect("a bad timeout, or a chunkSize over 1 with one, is the local pool's PoolOptionError", () =>
      Effect.gen(function* () {
        const { child } = yield* seed
        const refused: ReadonlyArray<Pool.PoolOptions> = [{ timeout: 0 }, { timeout: "soon" as Duration.Input }, { timeout: "1 second", chunkSize: 4 }]
        for (const options of refused) {
          const local = yield* Effect.flip(Pool.profileAll(child, range(3), options))
          const remote = yield* Effect.flip(onCluster(Pool.profileAll(child, range(3), options)))
          assert.strictEqual(remote._tag, "PoolOptionError")
          assert.deepStrictEqual([remote._tag, remote.message], [local._tag, local.message])
        }
      }), 120_000)
  })

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

describe("a runner killed while a timed task runs on it", () => {
  it.effect("its chunk runs again on another runner, under the same deadline", () =>
    Effect.gen(function* () {
      const alive = runners.filter((runner) => runner.process.exitCode === null && runner.process.signalCode === null)
      assert.isAtLeast(alive.length, 2)
      const markDir = makeTempDir("cltimeout-resend")
      const run = yield* onCluster(
        Pool.profileAll({ moduleUrl: sleepersUrl, exportName: "sleepThenSquare" }, [{ num: 0, sleepMs: 60_000, markDir }], {
          timeout: "1 second",
          failures: "collect"
        })
      ).pipe(Effect.forkChild)
      // The runner whose worker marks the task first is killed, well before the deadline.
      const marker = join(markDir, "0")
      // A marker caught between its creation and its write reads empty: wait for a whole `pid/threadId`.
      const first = yield* Effect.promise(() =>
        waitFor(() => {
          const text = existsSync(marker) ? readFileSync(marker, "utf8") : ""
          return /^\d+\/\d+$/.test(text) ? text : undefined
        })
      )
      const victim = alive.find((runner) => String(runner.process.pid) === first.split("/")[0])!
      yield* Effect.promise(victim.kill)
      const { failures, completed } = yield* Fiber.join(run)
      assert.deepStrictEqual(failures.map((failure) => [failure.index, failure.kind, failure.errorMessage]), [
        [0, "timeout", "the task ran longer than 1000 ms; its worker was ended"]
      ])
      assert.strictEqual(completed, 0)
      // It slept again on another runner, whose deadline ended it.
      const second = readFileSync(marker, "utf8").split("/")[0]!
      assert.notStrictEqual(second, first.split("/")[0])
      assert.isTrue(alive.some((runner) => runner !== victim && String(runner.process.pid) === second))
    }), 120_000)
})
