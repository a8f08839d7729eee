/**
 * The runner side of lineprof on Effect Cluster: the `LineprofRunner` entity
 * and the layers that host it. A runner runs each chunk it receives on its own
 * local pool (shell/pool's worker slots: threads or processes, the child
 * loaded through lineprof's instrumentation) and replies with the chunk's
 * outcomes, its profile delta and the runner's address.
 *
 * - `layerEntity(options)`: the entity alone, for a user's own runner app that
 *   already builds `Sharding` (e.g. with `NodeClusterSocket.layer`).
 * - `layer(options)`: a whole runner: the entity, `NodeClusterSocket` on
 *   `listen`, and PostgreSQL storage through `@effect/sql-pg`. `lineprof
 *   runner --listen HOST:PORT --postgres URL` launches it.
 *
 * Each run (its `runId`) gets its own workers, started at its first chunk and
 * ended after `idleTimeToLive` without a chunk: a worker sends a function's
 * source once, with its first delta, so workers must not outlive the run whose
 * profile holds that delta. A worker that dies under a chunk is replaced and
 * the chunk's tasks run again one at a time, so the task that kills it fails
 * alone (kind "workerDied"), as in the local pool. A chunk sent with a
 * deadline (`timeout` on the client) runs each task under it: a task past it
 * fails (kind "timeout") and its worker is ended and replaced, as locally.
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Entity from "effect/cluster/Entity"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import type * as Duration from "effect/Duration"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as RcMap from "effect/RcMap"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import * as Profile from "../../core/Profile.ts"
import * as StatsFile from "../../core/StatsFile.ts"
import { describeExit, endWorkerAndWait, makeSlot, runOnWorker, timedOutMessage, workerDiedMessage, type Slot, type WorkerHandle } from "../pool/Pool.ts"
import type { ChunkOutput, Isolation, Task, TaskOutcome, WorkerConfig } from "../pool/PoolProtocol.ts"
import { LineprofRunner, RunnerLoadError } from "./Protocol.ts"

/** How a runner runs its chunks. */
export interface RunnerPoolOptions {
  /** Workers of the runner's local pool; default `os.availableParallelism()`. */
  readonly concurrency?: number | undefined
  /** "thread" (default) or "process". */
  readonly isolation?: Isolation | undefined
  /** How long a run's workers stay after its last chunk; default 10 s. */
  readonly idleTimeToLive?: Duration.Input | undefined
}

/** A standalone runner: where it listens and where the cluster's storage is. */
export interface RunnerOptions extends RunnerPoolOptions {
  readonly host: string
  readonly port: number
  /** PostgreSQL connection URL, e.g. `postgres://user:pass@db:5432/lineprof`. */
  readonly postgresUrl: string
  /** Overrides of the cluster's sharding settings (shared with the client: see `fastSharding`). */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
}

/**
 * Sharding settings lineprof uses on runners and clients: a runner that
 * disappears is noticed within about two seconds (Effect's defaults take up to
 * a minute), and a chunk entity leaves memory 10 s after its reply.
 */
export const fastSharding: Partial<ShardingConfig.ShardingConfig["Service"]> = {
  refreshAssignmentsInterval: "1 second",
  runnerHealthCheckInterval: "1 second",
  shardLockRefreshInterval: "2 seconds",
  shardLockExpiration: "6 seconds",
  sendRetryInterval: "50 millis",
  entityMaxIdleTime: "10 seconds",
  entityTerminationTimeout: "2 seconds"
}

/**
 * The real clock for the cluster's own loops (shard refresh, retries, health
 * checks), even when the layer is built where a test clock is installed.
 */
export const layerRealClock = Layer.succeed(Clock.Clock)(Clock.Clock.defaultValue())

/** One run's local pool on this runner. */
interface RunPool {
  readonly slots: ReadonlyArray<Slot>
  readonly free: Queue.Queue<Slot>
}

const addressText = (address: RunnerAddress.RunnerAddress): string => `${address.host}:${address.port}`

/** Why the module cannot load here, when that can be told before a worker starts. */
const missingModule = (moduleUrl: string): string | undefined =>
  moduleUrl.startsWith("file:") && !existsSync(fileURLToPath(moduleUrl)) ? "no such file on this runner" : undefined

const makeRunPool = (config: WorkerConfig, size: number): Effect.Effect<RunPool, never, Scope.Scope> =>
  Effect.gen(function* () {
    const live = new Set<WorkerHandle>()
    const slots = yield* Effect.forEach(Array.from({ length: size }, (_, id) => id), (id) => makeSlot(id, config, live), {
      concurrency: "unbounded"
    })
    // As in the local pool: end the workers at once instead of asking busy ones to close.
    yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all([...live].map(endWorkerAndWait))))
    const free = yield* Queue.unbounded<Slot>()
    yield* Queue.offerAll(free, slots)
    return { slots, free }
  })

/** A task that did not finish: its worker died or ran past the deadline (and was ended); as the local pool reports it. */
const unfinished = (task: Task, kind: "workerDied" | "timeout", errorName: string, errorMessage: string): TaskOutcome =>
  ({ index: task.index, ok: false, kind, errorName, errorMessage, errorStack: "", taskProfile: Profile.empty }) as unknown as TaskOutcome

/** How a chunk runs on a runner: its slot, its failure mode and deadline, and the error when the child cannot load. */
interface ChunkRun {
  readonly slot: Slot
  readonly stopOnFailure: boolean
  readonly timeoutMs: number | undefined
  readonly loadError: (detail: string) => RunnerLoadError
}

/**
 * Runs a chunk on one slot. A dead worker is replaced and the chunk's tasks
 * run again one at a time. With a deadline (`timeoutMs`), every task runs
 * alone under it, counted from when the worker is ready; a task past it fails
 * (kind "timeout") and its worker is ended and replaced, as in the local pool.
 */
const runOnSlot = (chunk: ChunkRun, tasks: ReadonlyArray<Task>): Effect.Effect<ChunkOutput, RunnerLoadError> =>
  Effect.gen(function* () {
    const { slot, stopOnFailure, timeoutMs, loadError } = chunk
    if (timeoutMs !== undefined && tasks.length > 1) return yield* runEach(chunk, tasks)
    const ran = yield* runOnWorker(slot, tasks, stopOnFailure, timeoutMs)
    switch (ran._tag) {
      case "Done":
        return ran.output
      case "StartFailed":
        return yield* loadError(`its worker exited before it was ready (${describeExit(ran.exit)}; see the runner's stderr)`)
      case "TimedOut":
        return { outcomes: [unfinished(tasks[0]!, "timeout", "TimeoutError", timedOutMessage(timeoutMs!))], profile: undefined }
      case "Died":
        if (tasks.length > 1) return yield* runEach(chunk, tasks)
        return { outcomes: [unfinished(tasks[0]!, "workerDied", "WorkerDied", workerDiedMessage(ran.exit))], profile: undefined }
    }
  })

/** The tasks of a chunk one at a time (stopping at the first failure with `stopOnFailure`), their outputs as one. */
const runEach = (chunk: ChunkRun, tasks: ReadonlyArray<Task>): Effect.Effect<ChunkOutput, RunnerLoadError> =>
  Effect.gen(function* () {
    const outcomes: Array<TaskOutcome> = []
    const profiles: Array<Profile.Profile> = []
    for (const task of tasks) {
      const single = yield* runOnSlot(chunk, [task])
      outcomes.push(...single.outcomes)
      if (single.profile !== undefined) profiles.push(single.profile)
      if (chunk.stopOnFailure && single.outcomes.some((each) => !each.ok)) break
    }
    return { outcomes, profile: profiles.length > 0 ? Profile.ProfileReducer.combineAll(profiles) : undefined }
  })

const encodeOutcome = (outcome: TaskOutcome): unknown =>
  outcome.ok ? outcome : { ...outcome, taskProfile: StatsFile.encode(outcome.taskProfile) }

/**
 * The `LineprofRunner` entity, for a runner app that provides `Sharding`
 * itself. Chunks of all runs share the runner; each run has its own workers.
 */
export const layerEntity = (options: RunnerPoolOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const size = options.concurrency ?? availableParallelism()
      const isolation = options.isolation ?? "thread"
      const pools = yield* RcMap.make({
        lookup: (key: string) => {
          const { config } = JSON.parse(key) as { runId: string; config: WorkerConfig }
          return makeRunPool({ ...config, isolation }, size)
        },
        idleTimeToLive: options.idleTimeToLive ?? "10 seconds"
      })
      return LineprofRunner.toLayer(
        Effect.gen(function* () {
          const runner = addressText(yield* Entity.CurrentRunnerAddress)
          return LineprofRunner.of({
            RunChunk: ({ payload }) =>
              Effect.scoped(
                Effect.gen(function* () {
                  const config = payload.config as WorkerConfig
                  const loadError = (detail: string) => new RunnerLoadError({ moduleUrl: config.moduleUrl, runner, detail })
                  const missing = missingModule(config.moduleUrl)
                  if (missing !== undefined) return yield* loadError(missing)
                  const pool = yield* RcMap.get(pools, JSON.stringify({ runId: payload.runId, config }))
                  const slot = yield* Effect.acquireRelease(Queue.take(pool.free), (taken) => Queue.offer(pool.free, taken))
                  const output = yield* runOnSlot(
                    { slot, stopOnFailure: payload.stopOnFailure, timeoutMs: payload.timeoutMs, loadError },
                    payload.tasks as ReadonlyArray<Task>
                  )
                  return {
                    runner,
                    outcomes: output.outcomes.map(encodeOutcome),
                    profile: output.profile === undefined ? null : StatsFile.encode(output.profile)
                  }
                })
              )
          })
        }),
        { concurrency: 1, maxIdleTime: "10 seconds" }
      )
    })
  )

/** A PostgreSQL client layer for the cluster's storage. */
export const layerPostgres = (url: string) => PgClient.layer({ url: Redacted.make(url) })

/** A whole runner: the entity on a `NodeClusterSocket` runner listening on `host:port`, storage in PostgreSQL. */
export const layer = (options: RunnerOptions) =>
  layerEntity(options).pipe(
    Layer.provide(
      NodeClusterSocket.layer({
        storage: "sql",
        shardingConfig: {
          ...fastSharding,
          ...options.shardingConfig,
          runnerAddress: Option.some(RunnerAddress.make(options.host, options.port))
        }
      })
    ),
    Layer.provide(layerPostgres(options.postgresUrl)),
    Layer.provide(layerRealClock)
  )
