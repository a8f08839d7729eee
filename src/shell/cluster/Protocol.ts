/**
 * lineprof's cluster entity: the one message a runner serves (`RunChunk`: run
 * the child on a chunk of inputs on the runner's own local pool and reply with
 * the outcomes, the chunk's profile delta and the runner's address), and the
 * error a runner answers when it cannot load the child's module.
 *
 * Profiles cross as stats-file JSON (`StatsFile.encode`): their counters are
 * bigints, which the cluster's msgpack serialization does not carry. Inputs
 * and results cross as they are (`Schema.Any`), so they must be plain values
 * msgpack can hold (numbers, strings, arrays, plain objects, Uint8Arrays).
 */
import * as Entity from "effect/cluster/Entity"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"

/** The runner could not load the child's module (missing on that machine, or it threw on import). */
export class RunnerLoadError extends Schema.TaggedError<RunnerLoadError>()("RunnerLoadError", {
  moduleUrl: Schema.String,
  runner: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `lineprof runner ${this.runner}: cannot load ${this.moduleUrl}: ${this.detail}`
  }
}

/**
 * One chunk of one run. `runId` keeps the runs of different callers apart
 * (each run gets fresh workers on every runner, see RunnerPool); `config` is
 * the pool's `WorkerConfig` (module URL, export, include / exclude globs);
 * `timeoutMs` is the longest each task may run on the runner (absent: no
 * deadline). The deadline is part of the message, so a chunk sent again to
 * another runner keeps it.
 */
export const RunChunk = Rpc.make("RunChunk", {
  payload: {
    runId: Schema.String,
    chunkId: Schema.Number,
    config: Schema.Any,
    tasks: Schema.Any,
    stopOnFailure: Schema.Boolean,
    timeoutMs: Schema.optional(Schema.Number)
  },
  success: Schema.Struct({
    /** host:port of the runner that ran the chunk. */
    runner: Schema.String,
    /** The pool's TaskOutcome list, each failed outcome's `taskProfile` as stats-file JSON. */
    outcomes: Schema.Any,
    /** The delta of the chunk's successful tasks as stats-file JSON (null when not profiling). */
    profile: Schema.NullOr(Schema.String)
  }),
  error: RunnerLoadError
})

/** The entity every lineprof runner hosts; one entity id per chunk, so shards (and runners) share the chunks. */
export const LineprofRunner = Entity.make("LineprofRunner", [RunChunk])

/** The entity id of a chunk: unique per run, spread over the shards by the cluster's hash. */
export const entityIdOf = (runId: string, chunkId: number): string => `${runId}/${chunkId}`
