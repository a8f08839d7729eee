/**
 * The calling side of lineprof on Effect Cluster: `layer({ postgresUrl })`
 * makes `profileAll` / `profileStream` send their chunks to the runners of a
 * cluster (shell/cluster/Runner) instead of local workers. The call and its
 * result are the same; `workerProfiles` holds one profile per runner, sorted
 * by runner address.
 *
 * ```ts
 * const { results, profile } = await Effect.runPromise(
 *   profileAll(child, inputs).pipe(Effect.provide(Cluster.layerClient({ postgresUrl })))
 * )
 * ```
 *
 * Nothing lost, nothing counted twice:
 * - every chunk is one entity (`runId/chunkId`), so the cluster's shards spread
 *   chunks over the runners; up to `inFlight` chunks are out at once;
 * - a chunk goes out as a volatile message: when its runner dies, the
 *   cluster's client sends it again to the shard's next owner, where it runs
 *   again from the start;
 * - a chunk's outcomes and profile delta are recorded once, when its reply is
 *   first accepted (a set of accepted chunk ids), so a chunk that ran twice
 *   counts once and a killed runner's partial work never counts;
 * - `timeout` travels with each chunk: the runner that runs it (the first, or
 *   the one it is sent to again) gives each task that deadline.
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Profile from "../../core/Profile.ts"
import * as StatsFile from "../../core/StatsFile.ts"
import * as ChunkScheduler from "../pool/ChunkScheduler.ts"
import {
  cloneCheck,
  failureOf,
  record,
  RemoteRunners,
  tasksOf,
  type Plan,
  type ProfileBucket,
  type RemoteTarget,
  type RunContext,
  type RunState
} from "../pool/Pool.ts"
import { WorkerStartError, type ChunkOutput, type TaskOutcome } from "../pool/PoolProtocol.ts"
import { entityIdOf, LineprofRunner } from "./Protocol.ts"
import { fastSharding, layerPostgres, layerRealClock } from "./Runner.ts"

/** Where the cluster is, and how many chunks may be out at once. */
export interface ClientOptions {
  /** PostgreSQL URL of the cluster's storage (the same the runners use). */
  readonly postgresUrl: string
  /** Chunks out at once over all runners; default 32. */
  readonly inFlight?: number | undefined
  /** Overrides of the sharding settings (keep them the runners'). */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
}

/** The wire form of a reply back to the pool's `ChunkOutput`. */
const decodeProfile = (json: string, what: string): Profile.Profile => {
  const decoded = StatsFile.decode(json, what)
  if (decoded._tag === "Failure") throw new Error(decoded.failure)
  return decoded.success
}

const decodeOutput = (reply: { readonly outcomes: unknown; readonly profile: string | null }, runner: string): ChunkOutput => ({
  outcomes: (reply.outcomes as ReadonlyArray<any>).map((outcome): TaskOutcome =>
    outcome.ok ? outcome : { ...outcome, taskProfile: decodeProfile(outcome.taskProfile, `a task profile from ${runner}`) }
  ),
  profile: reply.profile === null ? undefined : decodeProfile(reply.profile, `a chunk profile from ${runner}`)
})

/** The default chunk size: enough chunks for every runner, at most 256 tasks a message. */
export const autoChunkSize = (inputCount: number, inFlight: number): number =>
  Math.max(1, Math.min(256, Math.floor(inputCount / (inFlight * 4))))

const makeTarget = (inFlight: number) =>
  Effect.gen(function* () {
    const clientFor = yield* LineprofRunner.client
    const runTasks: RemoteTarget["runTasks"] = (plan: Plan, inputs: ReadonlyArray<unknown>, state: RunState, onResult) =>
      Effect.gen(function* () {
        const runId = crypto.randomUUID()
        // Timed tasks go one a chunk, as on the local pool (makePlan refuses a larger chunkSize with a timeout).
        const chunkSize = plan.chunkSize ?? (plan.timeoutMs === undefined ? autoChunkSize(inputs.length, inFlight) : 1)
        const chunks: Array<ReadonlyArray<number>> = []
        for (let schedule = ChunkScheduler.make(inputs.length, chunkSize); ;) {
          const step = ChunkScheduler.next(schedule)
          if (step.chunk === undefined) break
          chunks.push(step.chunk)
          schedule = step.schedule
        }
        const buckets = new Map<string, ProfileBucket>()
        const bucketOf = (runner: string): ProfileBucket => {
          let bucket = buckets.get(runner)
          if (bucket === undefined) {
            bucket = { pending: [], profile: Profile.empty }
            buckets.set(runner, bucket)
            state.slots = [...buckets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, each]) => each)
          }
          return bucket
        }
        const run: RunContext = {
          plan,
          inputs,
          state,
          onResult,
          checkInput: cloneCheck("thread"),
          schedule: ChunkScheduler.make(0, 1)
        }
        const accepted = new Set<number>()
        const sendChunk = (chunkId: number) =>
          Effect.gen(function* () {
            const tasks = yield* tasksOf(run, chunks[chunkId]!)
            if (tasks.length === 0) return
            const reply = yield* clientFor(entityIdOf(runId, chunkId))
              .RunChunk({ runId, chunkId, config: plan.config, tasks, stopOnFailure: !plan.collect, timeoutMs: plan.timeoutMs })
              .pipe(
                Effect.retry({
                  while: (error) => error._tag !== "RunnerLoadError",
                  schedule: Schedule.spaced("100 millis")
                }),
                Effect.mapError((error) =>
                  error._tag === "RunnerLoadError"
                    ? new WorkerStartError({ moduleUrl: error.moduleUrl, detail: `runner ${error.runner}: ${error.detail}` })
                    : new WorkerStartError({ moduleUrl: plan.config.moduleUrl, detail: `the cluster failed: ${String(error)}` })
                )
              )
            // Once per chunk: a chunk that ran again after its runner died counts once.
            if (accepted.has(chunkId)) return
            accepted.add(chunkId)
            const output = yield* Effect.try({
              try: () => decodeOutput(reply, reply.runner),
              catch: (error) => new WorkerStartError({ moduleUrl: plan.config.moduleUrl, detail: `runner ${reply.runner}: ${String(error)}` })
            })
            yield* record(run, bucketOf(reply.runner), output)
          })
        yield* Effect.forEach(chunks.keys(), sendChunk, { concurrency: inFlight, discard: true })
      })
    return { runTasks } satisfies RemoteTarget
  })

/** A cluster client for profileAll / profileStream (client-only sharding; it hosts no entity). */
export const layer = (options: ClientOptions) => {
  const inFlight = options.inFlight ?? 32
  return Layer.effect(RemoteRunners)(makeTarget(inFlight)).pipe(
    Layer.provide(
      NodeClusterSocket.layer({
        clientOnly: true,
        storage: "sql",
        shardingConfig: { ...fastSharding, ...options.shardingConfig }
      })
    ),
    Layer.provide(layerPostgres(options.postgresUrl)),
    Layer.provide(layerRealClock)
  )
}
