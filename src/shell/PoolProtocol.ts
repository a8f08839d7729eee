/**
 * The pool's wire protocol and its errors: the one RPC a pool worker serves
 * (`RunTask`: run the child on one input, return its result and the profile
 * delta of that task), the worker's start-up configuration, and the typed
 * errors that `profileAll` / `profileStream` fail with or collect.
 *
 * Inputs, results and profiles cross as they are (`Schema.Any`): the worker
 * protocols of effect/rpc move messages by structured clone (threads) or
 * Node's advanced serialization (processes), so bigint counters, Maps, Dates
 * and typed arrays arrive intact without a JSON round trip. Whether a value
 * can cross is checked before it is sent (see `checkCloneable`), so a value
 * that cannot is an error naming its input index instead of a broken worker.
 */
import * as Rpc from "effect/rpc/Rpc"
import * as RpcGroup from "effect/rpc/RpcGroup"
import * as Schema from "effect/Schema"
import type * as Profile from "../core/Profile.ts"

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
  /** The directory relative globs are resolved against. */
  readonly cwd: string
  /** "thread" or "process": decides how a result's cloneability is checked. */
  readonly isolation: Isolation
}

/** Where the tasks run: worker_threads or child processes. */
export type Isolation = "thread" | "process"

/** Exit code of a pool worker that could not start (hooks, recorder or module import failed). */
export const STARTUP_FAILED_EXIT_CODE = 86

/** What went wrong with one task. */
export type TaskFailureKind = "threw" | "workerDied" | "timeout" | "notCloneable"

/**
 * The failure of a task as reported by its worker: the child threw (kind
 * "threw"), or its result could not be sent back (kind "notCloneable").
 * `taskProfile` is what the failed task ran before it failed.
 */
export class RemoteTaskError extends Schema.TaggedError<RemoteTaskError>()("RemoteTaskError", {
  index: Schema.Number,
  kind: Schema.Literals(["threw", "notCloneable"]),
  errorName: Schema.String,
  errorMessage: Schema.String,
  errorStack: Schema.String,
  taskProfile: Schema.Any
}) {
  override get message(): string {
    return `input ${this.index}: ${this.errorName}: ${this.errorMessage}`
  }
}

/** The task RPC: run the child on `input` (the input at `index`). */
export const RunTask = Rpc.make("RunTask", {
  payload: { index: Schema.Number, input: Schema.Any },
  success: Schema.Struct({ result: Schema.Any, profile: Schema.Any }),
  error: RemoteTaskError
})

/** The group a pool worker serves. */
export class PoolRpcs extends RpcGroup.make(RunTask) {}

/** The success of `RunTask`: the child's result and the task's profile (undefined when not profiling). */
export interface TaskOutput {
  readonly result: unknown
  readonly profile: Profile.Profile | undefined
}

/**
 * One failed task, as collected with `failures: "collect"`:
 * - `threw`: the child threw or rejected; `errorName`, `errorMessage` and
 *   `errorStack` are the original error's, `taskProfile` what ran before it.
 * - `workerDied`: the worker exited (process.exit, crash, out of memory,
 *   a signal) while the task was in flight; the worker was replaced.
 * - `timeout`: the task ran longer than the `timeout` option; its worker was
 *   ended and replaced.
 * - `notCloneable`: its input or its result cannot cross to or from a worker.
 */
export class TaskFailure extends Schema.Class<TaskFailure>("TaskFailure")({
  index: Schema.Number,
  kind: Schema.Literals(["threw", "workerDied", "timeout", "notCloneable"]),
  errorName: Schema.String,
  errorMessage: Schema.String,
  errorStack: Schema.String,
  taskProfile: Schema.Any
}) {
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
  index: Schema.Number,
  kind: Schema.Literals(["threw", "workerDied", "timeout", "notCloneable"]),
  errorName: Schema.String,
  errorMessage: Schema.String,
  errorStack: Schema.String,
  taskProfile: Schema.Any,
  profile: Schema.Any,
  workerProfiles: Schema.Any,
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
export class PoolOptionError extends Schema.TaggedError<PoolOptionError>()("PoolOptionError", {
  option: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `lineprof pool: option ${this.option}: ${this.problem}`
  }
}
