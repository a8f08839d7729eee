/**
 * The pool's wire protocol and its errors: the one RPC a pool worker serves
 * (`RunChunk`: run the child on a few inputs, return their outcomes and the
 * profile delta of the tasks that succeeded), the worker's start-up
 * configuration, and the typed errors that `profileAll` / `profileStream`
 * fail with or collect.
 *
 * Inputs, results and profiles cross as they are (`Schema.Any`): the worker
 * protocols of effect/rpc move messages by structured clone (threads) or
 * Node's advanced serialization (processes), so bigint counters, Maps, Dates
 * and typed arrays arrive intact without a JSON round trip. Whether a value
 * can cross is checked before it is sent (inputs by Pool's `cloneCheck`,
 * results by PoolWorker's `checkCloneable`), so a value that cannot is an
 * error naming its input index instead of a broken worker.
 */
import * as Rpc from "effect/rpc/Rpc"
import * as RpcGroup from "effect/rpc/RpcGroup"
import * as Schema from "effect/Schema"
import type * as Profile from "../../core/Profile.ts"

/** How a worker runs: the child's module and export, and what to instrument. */
export interface WorkerConfig {
  /** file: URL of the module that exports the child. */
  readonly moduleUrl: string
  /** The export that holds the child function ("default" for a default export). */
  readonly exportName: string
  /** false: no recorder, no hooks; tasks return no profile. */
  readonly profile: boolean
  /** Globs (absolute or relative to `cwd`) of the files to instrument. */
  readonly include: ReadonlyArray<string>
  /** Globs of files never instrumented, even when included. */
  readonly exclude: ReadonlyArray<string>
  /** Globs of qualified function names to instrument; empty: every function. */
  readonly functions?: ReadonlyArray<string> | undefined
  /** false: files with a source map are reported as their generated code. */
  readonly sourceMaps?: boolean | undefined
  /** The directory relative globs are resolved against. */
  readonly cwd: string
  /** "thread" or "process": decides how a result's cloneability is checked. */
  readonly isolation: Isolation
  /** How the recorder measures line times (see Recorder.TimingMode), and the sampled mode's mean interval. */
  readonly timing: "exact" | "sampled"
  readonly sampleIntervalNs: number
}

/**
 * A profile held as it is (these errors live in the parent, they are not
 * encoded): checked for its shape, typed as `Profile`.
 */
export const ProfileValue = Schema.declare(
  (value: unknown): value is Profile.Profile =>
    typeof value === "object" && value !== null && Array.isArray((value as Profile.Profile).functions)
)

/** Where the tasks run: worker_threads or child processes. */
export type Isolation = "thread" | "process"

/** Exit code of a pool worker that could not start (hooks, recorder or module import failed). */
export const STARTUP_FAILED_EXIT_CODE = 86

const TaskFailureKindSchema = Schema.Literals(["threw", "workerDied", "timeout", "notCloneable"])

/** What went wrong with one task. */
export type TaskFailureKind = typeof TaskFailureKindSchema.Type

/** One task of a chunk: the input at `index`. */
export interface Task {
  readonly index: number
  readonly input: unknown
}

/**
 * What became of one task of a chunk: its result, or how it failed (the child
 * threw or rejected: kind "threw"; its result cannot be sent back: kind
 * "notCloneable"), with the profile of what the failed task ran.
 */
export type TaskOutcome =
  | { readonly index: number; readonly ok: true; readonly result: unknown }
  | {
    readonly index: number
    readonly ok: false
    readonly kind: "threw" | "notCloneable"
    readonly errorName: string
    readonly errorMessage: string
    readonly errorStack: string
    readonly taskProfile: Profile.Profile
  }

/** The success of `RunChunk`: one outcome a task run, and the profile of the tasks that succeeded. */
export interface ChunkOutput {
  /** In the order of the chunk; shorter than the chunk when it stopped at a failure. */
  readonly outcomes: ReadonlyArray<TaskOutcome>
  /** Exactly the successful tasks' lines (undefined when not profiling). */
  readonly profile: Profile.Profile | undefined
}

/**
 * The task RPC: run the child on each task of a chunk, one after another.
 * With `stopOnFailure` the worker stops at the first failed task. Chunks
 * amortise the cost of a round trip over many small tasks, as the `chunksize`
 * of Python's `Pool.map` does.
 */
export const RunChunk = Rpc.make("RunChunk", {
  payload: { tasks: Schema.Any, stopOnFailure: Schema.Boolean },
  success: Schema.Any
})

/** The group a pool worker serves. */
export class PoolRpcs extends RpcGroup.make(RunChunk) {}

/** The fields of a failed task, shared by `TaskFailure` and `TaskError`. */
const taskFailureFields = {
  index: Schema.Number,
  kind: TaskFailureKindSchema,
  errorName: Schema.String,
  errorMessage: Schema.String,
  errorStack: Schema.String,
  taskProfile: ProfileValue
}

/**
 * One failed task, as collected with `failures: "collect"`:
 * - `threw`: the child threw or rejected; `errorName`, `errorMessage` and
 *   `errorStack` are the original error's, `taskProfile` what the task ran until it failed.
 * - `workerDied`: the worker exited (process.exit, crash, out of memory,
 *   a signal) while the task was in flight; the worker was replaced.
 * - `timeout`: the task ran longer than the `timeout` option; its worker was
 *   ended and replaced.
 * - `notCloneable`: its input or its result cannot cross to or from a worker.
 */
export class TaskFailure extends Schema.Class<TaskFailure>("TaskFailure")(taskFailureFields) {
  /** One line: `input 7: Error: boom`. */
  get summary(): string {
    return `input ${this.index}: ${this.errorName}: ${this.errorMessage}`
  }
}

/**
 * A task failed (the default, `failures: "fail"`): the run stops, every
 * worker is ended, and this error carries the failure (`index`, `kind`, the
 * original `errorName` / `errorMessage` / `errorStack`), the profile of every
 * task that completed before (`profile`, and per worker `workerProfiles`),
 * and the profile of the failed task itself (`taskProfile`, kept apart so
 * that `profile` covers exactly the completed tasks).
 */
export class TaskError extends Schema.TaggedError<TaskError>()("TaskError", {
  ...taskFailureFields,
  profile: ProfileValue,
  workerProfiles: Schema.Array(ProfileValue),
  completed: Schema.Number
}) {
  override get message(): string {
    return `input ${this.index}: ${this.errorName}: ${this.errorMessage}`
  }
}

/** A worker could not start: the hooks, the recorder or the child's module failed to load. */
export class WorkerStartError extends Schema.TaggedError<WorkerStartError>()("WorkerStartError", {
  moduleUrl: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `lineprof pool: a worker could not load ${this.moduleUrl}: ${this.detail}`
  }
}

/** A bad option (concurrency, timeout, isolation). */
/** This Node cannot run lineprof: `message` is the one line that says so. */
export class NodeVersionError extends Schema.TaggedError<NodeVersionError>()("NodeVersionError", {
  problem: Schema.String
}) {
  override get message(): string {
    return this.problem
  }
}

export class PoolOptionError extends Schema.TaggedError<PoolOptionError>()("PoolOptionError", {
  option: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `lineprof pool: option ${this.option}: ${this.problem}`
  }
}
