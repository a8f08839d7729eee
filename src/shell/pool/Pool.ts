/**
 * `profileAll` and `profileStream`: run an exported function over many inputs
 * on a pool of worker threads or child processes, every worker loading the
 * function's module through lineprof's instrumentation, and merge what each
 * worker measured into one profile.
 *
 * Contract:
 * - Results come back in input order (`profileAll`) or in completion order
 *   (`profileStream`); each task's profile delta travels with its result, so
 *   the merged profile covers exactly the tasks that completed, whatever
 *   happens to the workers afterwards.
 * - A failed task (it threw, its worker died, it timed out, its input or
 *   result cannot cross) fails the run with `TaskError` (index, original
 *   message and stack, profile of what completed), or, with
 *   `failures: "collect"`, is listed in `failures` while the run goes on.
 * - A worker that dies is replaced; the task it was running is the failed one
 *   (the other tasks of its chunk run again, one a chunk, so the one that
 *   kills a worker again is found; their lost deltas never count).
 * - Anything that cannot run in a worker (a closure, a built-in, a function
 *   that is not exported) fails with `NotExportedError` before any worker starts.
 * - Interruption, a failure or the end of the run ends every worker at once.
 *
 * How:
 * 1. locate the child (module URL + export name) and build the workers' config
 * 2. start `concurrency` slots; each slot is one worker behind its own
 *    effect/rpc client (`RpcClient.layerProtocolWorker({ size: 1 })` over
 *    `NodeWorker.layer`). One client per worker, not one client over a pool of
 *    workers: effect/rpc fails every in-flight call of a client when one of its
 *    workers dies, and here only the dead worker's task may fail. A slot
 *    whose worker died or timed out gets a new client and worker at once.
 * 3. each slot takes the next chunk of input indices from a shared cursor,
 *    so fast workers take more; a chunk is one message each way (the round
 *    trip to an idle worker costs tens of µs), its outcomes and profile delta
 *    are recorded as they arrive.
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as RpcClient from "effect/rpc/RpcClient"
import * as Scope from "effect/Scope"
import * as ScopedRef from "effect/ScopedRef"
import * as Stream from "effect/Stream"
import { fork, type ChildProcess } from "node:child_process"
import { availableParallelism } from "node:os"
import { extname } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { serialize } from "node:v8"
import { Worker } from "node:worker_threads"
import * as Profile from "../../core/Profile.ts"
import * as Config from "../record/Config.ts"
import * as NodeVersion from "../record/NodeVersion.ts"
import * as Delivery from "../record/Delivery.ts"
import * as ChunkScheduler from "./ChunkScheduler.ts"
import { locate, type FunctionLocation, type NotExportedError } from "./Locate.ts"
import {
  NodeVersionError,
  PoolOptionError,
  PoolRpcs,
  STARTUP_FAILED_EXIT_CODE,
  TaskError,
  TaskFailure,
  WorkerStartError,
  type Isolation,
  type TaskFailureKind,
  type ChunkOutput,
  type Task,
  type WorkerConfig
} from "./PoolProtocol.ts"

export {
  NodeVersionError,
  PoolOptionError,
  TaskError,
  TaskFailure,
  WorkerStartError,
  type Isolation,
  type TaskFailureKind
} from "./PoolProtocol.ts"
export { NotExportedError, type FunctionLocation } from "./Locate.ts"

/** Options of `profileAll` and `profileStream`. */
export interface PoolOptions {
  /** Number of workers; default `os.availableParallelism()` (never more than there are inputs). */
  readonly concurrency?: number | undefined
  /** "thread" (worker_threads, the default) or "process" (child processes, Node's advanced serialization). */
  readonly isolation?: Isolation | undefined
  /**
   * Globs of the files to instrument, absolute or relative to the current
   * directory. Default: the child's own file and every file it imports under
   * the current directory, outside node_modules.
   */
  readonly include?: ReadonlyArray<string> | undefined
  /** Globs of files never instrumented (they win over include). Default: `**\/node_modules/**` without `include`, else none. */
  readonly exclude?: ReadonlyArray<string> | undefined
  /**
   * Globs of qualified function names to instrument (`Parser.parseStatement`,
   * `*Token*`): the rest of the code runs at full speed. Default: every function.
   */
  readonly functions?: ReadonlyArray<string> | undefined
  /** false: files with a source map are reported as their generated code. Default true. */
  readonly sourceMaps?: boolean | undefined
  /** Longest a task may run; a task over it fails (kind "timeout") and its worker is ended and replaced. */
  readonly timeout?: Duration.Input | undefined
  /**
   * Inputs sent to a worker in one message (Python's `chunksize`). Default:
   * 1 with a timeout, else about 1/16 of a worker's share, at most 64. A
   * worker runs a chunk's tasks one after another and answers per task.
   */
  readonly chunkSize?: number | undefined
  /** false: run the same pool without instrumentation (profiles stay empty). Default true. */
  readonly profile?: boolean | undefined
  /** "fail" (default): the first failed task fails the run. "collect": failures are listed and the run goes on. */
  readonly failures?: "fail" | "collect" | undefined
  /**
   * How line times are measured in the workers: "exact" (a clock read at
   * each line event) or "sampled" (a sampler thread; hits stay exact).
   * Default: `LINEPROF_TIMING`, else "exact".
   */
  readonly timing?: "exact" | "sampled" | undefined
  /** Sampled timing: the mean interval between samples. Default: `LINEPROF_SAMPLE_INTERVAL_US`, else 1 ms. */
  readonly sampleInterval?: Duration.Input | undefined
}

/** The child: an exported function, or where to load it from when it is not at hand. */
export type Child<I, O> = ((input: I) => O) | FunctionLocation

/** What a run measured: the merged profile and its parts. */
export interface PoolSummary {
  /** All workers' profiles merged: exactly the tasks that completed. */
  readonly profile: Profile.Profile
  /** One profile per worker slot (a replaced worker's successor adds to its slot). */
  readonly workerProfiles: ReadonlyArray<Profile.Profile>
  /** Failed tasks, sorted by input index (only with `failures: "collect"`; otherwise the run failed). */
  readonly failures: ReadonlyArray<TaskFailure>
  /** How many tasks completed. */
  readonly completed: number
}

/** What `profileAll` succeeds with. */
export interface PoolResult<O> extends PoolSummary {
  /** Results in input order; with `failures: "collect"`, `undefined` at a failed input. */
  readonly results: ReadonlyArray<O>
}

/** One completed task, as `profileStream` emits it. */
export interface TaskResult<I, O> {
  readonly index: number
  readonly input: I
  readonly result: O
}

/**
 * `profileStream`'s value: the stream of completed tasks and the summary.
 * `summary` waits until a run of `stream` ends (all done, failed, or stopped
 * early by the consumer, e.g. `Stream.take`) and then gives the profile of the
 * tasks that completed in that run. Run `stream` once.
 */
export interface ProfiledStream<I, O, E> {
  readonly stream: Stream.Stream<TaskResult<I, O>, E>
  readonly summary: Effect.Effect<PoolSummary>
}

/** Errors every run may fail with, whatever `failures` says. */
export type PoolError = NotExportedError | WorkerStartError | PoolOptionError | NodeVersionError

type CollectOptions = PoolOptions & { readonly failures: "collect" }

// ---------------------------------------------------------------------------
// Plan: everything decided before any worker starts

/** This module's extension: the worker entry is a sibling with the same one, so running from src (.ts) and from dist (.js) both work. */
const ownExtension = extname(fileURLToPath(import.meta.url))
const workerEntry = new URL(`./PoolWorker${ownExtension}`, import.meta.url)

export interface Plan {
  readonly config: WorkerConfig
  readonly concurrency: number
  readonly chunkSize: number | undefined
  readonly timeoutMs: number | undefined
  readonly collect: boolean
}

const isLocation = (child: unknown): child is FunctionLocation =>
  typeof child === "object" && child !== null && typeof (child as FunctionLocation).moduleUrl === "string" &&
  typeof (child as FunctionLocation).exportName === "string"

export const makePlan = (child: Child<any, any>, options: PoolOptions): Effect.Effect<Plan, PoolError> =>
  Effect.gen(function* () {
    const tooOld = NodeVersion.problem()
    if (tooOld !== undefined) return yield* new NodeVersionError({ problem: tooOld })
    const concurrency = options.concurrency ?? availableParallelism()
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      return yield* new PoolOptionError({ option: "concurrency", problem: `expected a positive integer, got ${String(concurrency)}` })
    }
    const isolation = options.isolation ?? "thread"
    if (isolation !== "thread" && isolation !== "process") {
      return yield* new PoolOptionError({ option: "isolation", problem: `expected "thread" or "process", got ${String(isolation)}` })
    }
    let timeoutMs: number | undefined
    if (options.timeout !== undefined) {
      const duration = Duration.fromInput(options.timeout)
      timeoutMs = Option.isSome(duration) ? Duration.toMillis(duration.value) : Number.NaN
      if (!(timeoutMs > 0)) {
        return yield* new PoolOptionError({ option: "timeout", problem: `expected a positive duration, got ${String(options.timeout)}` })
      }
    }
    const chunkSize = options.chunkSize
    if (chunkSize !== undefined && (!Number.isSafeInteger(chunkSize) || chunkSize < 1)) {
      return yield* new PoolOptionError({ option: "chunkSize", problem: `expected a positive integer, got ${String(chunkSize)}` })
    }
    if (chunkSize !== undefined && chunkSize > 1 && timeoutMs !== undefined && timeoutMs !== Number.POSITIVE_INFINITY) {
      return yield* new PoolOptionError({ option: "chunkSize", problem: "a per-task timeout needs chunkSize 1 (leave chunkSize out)" })
    }
    const timingFromEnv = Config.timingFromEnv(process.env)
    const timing = options.timing ?? (Result.isSuccess(timingFromEnv) ? timingFromEnv.success.timing : "exact")
    if (timing !== "exact" && timing !== "sampled") {
      return yield* new PoolOptionError({ option: "timing", problem: `expected "exact" or "sampled", got ${String(timing)}` })
    }
    let sampleIntervalNs = Result.isSuccess(timingFromEnv) ? timingFromEnv.success.sampleIntervalNs : Config.defaultSampleIntervalNs
    if (options.sampleInterval !== undefined) {
      const duration = Duration.fromInput(options.sampleInterval)
      sampleIntervalNs = Option.isSome(duration) ? Duration.toMillis(duration.value) * 1e6 : Number.NaN
      if (!(sampleIntervalNs > 0) || !Number.isFinite(sampleIntervalNs)) {
        return yield* new PoolOptionError({ option: "sampleInterval", problem: `expected a positive duration, got ${String(options.sampleInterval)}` })
      }
    }
    const location = isLocation(child) ? child : yield* locate(child)
    const cwd = process.cwd()
    const childFile = location.moduleUrl.startsWith("file:") ? fileURLToPath(location.moduleUrl) : location.moduleUrl
    return {
      concurrency,
      chunkSize,
      timeoutMs: timeoutMs === Number.POSITIVE_INFINITY ? undefined : timeoutMs,
      collect: options.failures === "collect",
      config: {
        moduleUrl: location.moduleUrl,
        exportName: location.exportName,
        profile: options.profile ?? true,
        include: options.include ?? [Config.escapeGlob(cwd), Config.escapeGlob(childFile)],
        exclude: options.exclude ?? (options.include === undefined ? Config.defaultExclude : []),
        functions: options.functions,
        sourceMaps: options.sourceMaps,
        cwd,
        isolation,
        timing,
        sampleIntervalNs
      }
    }
  })

// ---------------------------------------------------------------------------
// Workers and slots

export type WorkerHandle = Worker | ChildProcess

const isThread = (worker: WorkerHandle): worker is Worker => "terminate" in worker

/** Workers the pool itself ended (a timeout, the end of the run): their exit is no start failure. */
const endedByPool = new WeakSet<WorkerHandle>()

/** Ends a worker now: no graceful close, the run is over or the worker is stuck. */
const endWorker = (worker: WorkerHandle): void => {
  endedByPool.add(worker)
  if (isThread(worker)) void worker.terminate()
  else if (worker.exitCode === null && worker.signalCode === null) worker.kill("SIGKILL")
}

/** Ends a worker and resolves once it has exited, so that "the run is over" means "no worker is left". */
export const endWorkerAndWait = (worker: WorkerHandle): Promise<void> =>
  new Promise((resolve) => {
    worker.once("exit", () => resolve())
    if (isThread(worker) ? worker.threadId < 0 : worker.exitCode !== null || worker.signalCode !== null) resolve()
    else endWorker(worker)
  })

/**
 * lineprof's preload (`--import <lineprof>/register`, how `lineprof run`
 * profiles a program) is kept from the workers: a worker installs its own
 * recorder and hooks and resets the counters after each chunk, so the
 * preload's stats files of a worker would hold partial counts. Their work
 * reaches `lineprof run`'s stats all the same: every delta the pool merges is
 * also given to `Delivery.contribute`, which adds it to the stats file of the
 * thread that runs the pool (and does nothing without the preload).
 */
const preloadFiles = ["register", "preload"].map((name) => fileURLToPath(new URL(`../record/${name}${ownExtension}`, import.meta.url)))
const isLineprofPreload = (value: string): boolean => {
  const unquoted = value.replace(/^(["'])(.*)\1$/, "$2")
  return unquoted === "lineprof/register" || preloadFiles.some((file) => unquoted === file || unquoted === pathToFileURL(file).href)
}

/** Node flags for the workers: the parent's, minus lineprof's preload. */
const workerExecArgv = (): Array<string> => {
  const out: Array<string> = []
  const argv = process.execArgv
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]!
    if ((arg === "--import" || arg === "--require" || arg === "-r") && isLineprofPreload(argv[k + 1] ?? "")) {
      k++
      continue
    }
    const joined = /^--(?:import|require)=(.*)$/.exec(arg)
    if (joined !== null && isLineprofPreload(joined[1]!)) continue
    out.push(arg)
  }
  return out
}

/** The parent's environment, with lineprof's preload taken out of NODE_OPTIONS. */
const workerEnv = (): NodeJS.ProcessEnv => {
  const nodeOptions = process.env["NODE_OPTIONS"]
  if (nodeOptions === undefined) return process.env
  const kept = nodeOptions.replace(
    /(^|\s)--(?:import|require)(?:=|\s+)("[^"]*"|'[^']*'|\S+)/g,
    (flag, _space: string, value: string) => (isLineprofPreload(value) ? "" : flag)
  )
  return { ...process.env, NODE_OPTIONS: kept.trim() }
}

const spawnWorker = (config: WorkerConfig): WorkerHandle => {
  const argv = [JSON.stringify(config)]
  if (config.isolation === "thread") {
    return new Worker(workerEntry, { argv, execArgv: workerExecArgv(), env: workerEnv() })
  }
  return fork(fileURLToPath(workerEntry), argv, {
    serialization: "advanced",
    execArgv: workerExecArgv(),
    env: workerEnv(),
    stdio: ["inherit", "inherit", "inherit", "ipc"]
  })
}

export interface ExitInfo {
  readonly code: number | null
  readonly signal: string | null
}

/** Where a run keeps the profile deltas of one worker slot (or one cluster runner). */
export interface ProfileBucket {
  /** Profile deltas not yet folded into `profile` (folded in batches: merging is linear in the profile's size). */
  pending: Array<Profile.Profile>
  profile: Profile.Profile
}

/** One worker position of the pool: its rpc client, its current worker, its profile. */
export interface Slot extends ProfileBucket {
  readonly id: number
  run: (tasks: ReadonlyArray<Task>, stopOnFailure: boolean) => Effect.Effect<ChunkOutput, RpcClientFailure>
  /**
   * Replaces the slot's worker now: closes its rpc client and worker
   * protocol (ending the worker if it still runs) and starts a new one.
   * effect/rpc would start a dead worker again by itself, but only after a
   * second; this is as fast as a worker starts.
   */
  replace: Effect.Effect<void>
  current: WorkerHandle | undefined
  lastExit: ExitInfo | undefined
  /**
   * Open while the current worker is up and serving. A task waits for it
   * before its timeout starts, so a task sent while a worker is being
   * replaced is neither lost to the dying worker nor charged for the restart.
   */
  readonly ready: Latch.Latch
  /** Set when a worker exited before it was ready: it cannot start, and starting it again would loop. */
  startFailure: ExitInfo | undefined
}

interface RpcClientFailure {
  readonly _tag: "RpcClientError"
  readonly message: string
}

export const makeSlot = (id: number, config: WorkerConfig, live: Set<WorkerHandle>): Effect.Effect<Slot, never, Scope.Scope> =>
  Effect.gen(function* () {
    const slot: Slot = {
      id,
      run: () => Effect.die("the slot's client is not acquired yet"),
      replace: Effect.void,
      current: undefined,
      lastExit: undefined,
      ready: Latch.makeUnsafe(false),
      startFailure: undefined,
      pending: [],
      profile: Profile.empty
    }
    const spawn = (): WorkerHandle => {
      const worker = spawnWorker(config)
      slot.current = worker
      slot.ready.closeUnsafe()
      live.add(worker)
      // effect/workers' handshake: a worker posts [0] once it serves requests.
      let wasReady = false
      worker.on("message", (message: unknown) => {
        if (Array.isArray(message) && message[0] === 0 && slot.current === worker) {
          wasReady = true
          slot.ready.openUnsafe()
        }
      })
      worker.on("exit", (code: number | null, signal?: string | null) => {
        live.delete(worker)
        slot.lastExit = { code, signal: signal ?? null }
        if (slot.current !== worker) return
        slot.current = undefined
        if (!wasReady && !endedByPool.has(worker)) {
          // Let the tasks waiting for this worker see why it will never serve.
          slot.startFailure = slot.lastExit
          slot.ready.openUnsafe()
        } else slot.ready.closeUnsafe()
      })
      // A thread's uncaught error is also reported on "exit"; this keeps it from being rethrown here.
      worker.on("error", () => {})
      return worker
    }
    const layer = RpcClient.layerProtocolWorker({ size: 1 }).pipe(Layer.provide(NodeWorker.layer(spawn)))
    // The client of the slot's current worker, in a scope of its own that a replacement closes.
    const acquireClient = Effect.gen(function* () {
      const context = yield* Layer.build(layer).pipe(Effect.orDie)
      const client = yield* RpcClient.make(PoolRpcs, { disableTracing: true }).pipe(Effect.provideContext(context))
      return (tasks: ReadonlyArray<Task>, stopOnFailure: boolean) => client.RunChunk({ tasks, stopOnFailure })
    })
    const client = yield* ScopedRef.fromAcquire(acquireClient)
    slot.run = (tasks, stopOnFailure) => Effect.flatMap(ScopedRef.get(client), (run) => run(tasks, stopOnFailure))
    slot.replace = Effect.suspend(() => {
      // End the old worker first: closing its client asks it to close and waits up to 5 s for a busy one.
      // Whatever worker the old protocol holds is then ended by the pool, not failing to start.
      if (slot.current !== undefined) endWorker(slot.current)
      return ScopedRef.set(client, acquireClient)
    })
    return slot
  })

const foldPending = (slot: ProfileBucket): Profile.Profile => {
  if (slot.pending.length > 0) {
    slot.profile = Profile.ProfileReducer.combineAll([slot.profile, ...slot.pending])
    slot.pending = []
  }
  return slot.profile
}

// ---------------------------------------------------------------------------
// The run

/** What a run has gathered so far; read on success, on failure and when a stream stops early. */
export interface RunState {
  slots: Array<ProfileBucket>
  readonly failures: Array<TaskFailure>
  completed: number
}

export const summarize = (state: RunState): PoolSummary => {
  const workerProfiles = state.slots.map(foldPending)
  return {
    profile: Profile.ProfileReducer.combineAll(workerProfiles),
    workerProfiles,
    failures: [...state.failures].sort((a, b) => a.index - b.index),
    completed: state.completed
  }
}

export const failureOf = (
  index: number,
  kind: TaskFailureKind,
  errorName: string,
  errorMessage: string,
  errorStack = "",
  taskProfile: Profile.Profile = Profile.empty
): TaskFailure => new TaskFailure({ index, kind, errorName, errorMessage, errorStack, taskProfile })

/** The message of a task over the timeout: the same from the local pool and from a cluster runner. */
export const timedOutMessage = (timeoutMs: number): string => `the task ran longer than ${timeoutMs} ms; its worker was ended`

/** The message of a task whose worker died under it: the same from the local pool and from a cluster runner. */
export const workerDiedMessage = (exit: ExitInfo | undefined): string => `${describeExit(exit)} while running this task; it was replaced`

/** How tasks sent to a slot's worker ended (see `runOnWorker`). */
export type WorkerRun =
  | { readonly _tag: "Done"; readonly output: ChunkOutput }
  /** The worker exited before it was ready: it cannot start. */
  | { readonly _tag: "StartFailed"; readonly exit: ExitInfo }
  /** The deadline passed; the worker was ended and replaced. */
  | { readonly _tag: "TimedOut" }
  /** The worker died under the tasks and was replaced. */
  | { readonly _tag: "Died"; readonly exit: ExitInfo | undefined }

/**
 * Runs tasks on a slot's worker once it is ready, under `timeoutMs` when
 * given (counted from then, in real time), and replaces a worker that died
 * or ran past the deadline: the one mechanism of the local pool
 * (`runChunk`) and a cluster runner.
 */
export const runOnWorker = (
  slot: Slot,
  tasks: ReadonlyArray<Task>,
  stopOnFailure: boolean,
  timeoutMs: number | undefined
): Effect.Effect<WorkerRun> =>
  Effect.gen(function* () {
    yield* slot.ready.await
    if (slot.startFailure !== undefined) return { _tag: "StartFailed", exit: slot.startFailure } as const
    const call = slot.run(tasks, stopOnFailure)
    const outcome = yield* Effect.result(
      timeoutMs === undefined
        ? Effect.map(call, Option.some)
        : Effect.provideService(Effect.timeoutOption(call, timeoutMs), Clock.Clock, Clock.Clock.defaultValue())
    )
    if (outcome._tag === "Success") {
      if (Option.isSome(outcome.success)) return { _tag: "Done", output: outcome.success.value } as const
      // A sync loop never yields to an interrupt: only ending the worker stops it.
      slot.ready.closeUnsafe()
      yield* slot.replace
      return { _tag: "TimedOut" } as const
    }
    const exit = slot.lastExit
    if (slot.startFailure !== undefined) return { _tag: "StartFailed", exit: slot.startFailure } as const
    yield* slot.replace
    return { _tag: "Died", exit } as const
  })

export const describeExit = (exit: ExitInfo | undefined): string => {
  if (exit === undefined) return "the worker stopped"
  if (exit.signal !== null) return `the worker was killed by ${exit.signal}`
  return `the worker exited with code ${exit.code}`
}

export const cloneCheck = (isolation: Isolation): ((value: unknown) => string | undefined) => (value) => {
  try {
    if (isolation === "process") serialize(value)
    else structuredClone(value)
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

// -- bookkeeping: what a run records as chunks come back ---------------------

/**
 * A failed task: listed when collecting, else the run fails with a
 * `TaskError` that carries everything completed so far.
 */
export const fail = (plan: Plan, state: RunState, failure: TaskFailure): Effect.Effect<void, TaskError> => {
  if (plan.collect) {
    state.failures.push(failure)
    return Effect.void
  }
  const summary = summarize(state)
  return Effect.fail(
    new TaskError({
      index: failure.index,
      kind: failure.kind,
      errorName: failure.errorName,
      errorMessage: failure.errorMessage,
      errorStack: failure.errorStack,
      taskProfile: failure.taskProfile,
      profile: summary.profile,
      workerProfiles: summary.workerProfiles,
      completed: summary.completed
    })
  )
}

/** A chunk's output: its profile delta into the slot (and `lineprof run`'s stats), then each outcome. */
export const record = (
  run: RunContext,
  slot: ProfileBucket,
  output: ChunkOutput
): Effect.Effect<void, TaskError> => {
  // The delta first: a failure below reports a profile that includes this chunk's successes.
  if (output.profile !== undefined && output.profile.functions.length > 0) {
    slot.pending.push(output.profile)
    Delivery.contribute(output.profile)
    if (slot.pending.length >= 256) foldPending(slot)
  }
  for (const outcome of output.outcomes) if (outcome.ok) run.state.completed++
  return Effect.forEach(
    output.outcomes,
    (outcome) =>
      outcome.ok
        ? run.onResult(outcome.index, outcome.result)
        : fail(
          run.plan,
          run.state,
          failureOf(outcome.index, outcome.kind, outcome.errorName, outcome.errorMessage, outcome.errorStack, outcome.taskProfile)
        ),
    { discard: true }
  )
}

// -- the run: slots drive chunks until the schedule is empty -----------------

/** One run of the pool: its plan, inputs, schedule and what it recorded. */
export interface RunContext {
  readonly plan: Plan
  readonly inputs: ReadonlyArray<unknown>
  readonly state: RunState
  readonly onResult: (index: number, result: unknown) => Effect.Effect<void>
  readonly checkInput: (value: unknown) => string | undefined
  schedule: ChunkScheduler.ChunkSchedule
}

/** The tasks of a chunk whose input can cross; the others fail (kind "notCloneable"). */
export const tasksOf = (run: RunContext, indices: ReadonlyArray<number>): Effect.Effect<Array<Task>, TaskError> =>
  Effect.gen(function* () {
    const tasks = indices.map((index) => ({ index, input: run.inputs[index] }))
    // One check for the whole chunk; only a chunk that fails is checked input by input.
    if (run.checkInput(tasks) === undefined) return tasks
    const good: Array<Task> = []
    for (const task of tasks) {
      const problem = run.checkInput(task.input)
      if (problem === undefined) good.push(task)
      else {
        yield* fail(run.plan, run.state, failureOf(task.index, "notCloneable", "DataCloneError", `the input cannot be sent to a worker (${problem})`))
      }
    }
    return good
  })

const startError = (plan: Plan, exit: ExitInfo): Effect.Effect<never, WorkerStartError> =>
  Effect.fail(
    new WorkerStartError({
      moduleUrl: plan.config.moduleUrl,
      detail: exit.code === STARTUP_FAILED_EXIT_CODE
        ? "see the worker's error above (stderr)"
        : `${describeExit(exit)} before it was ready`
    })
  )

/**
 * Runs one chunk on a slot's worker. A timed-out task ends and replaces the
 * worker; a worker that dies under a chunk of several tasks is replaced and
 * the chunk's tasks go back to the schedule to run one by one.
 */
const runChunk = (run: RunContext, slot: Slot, indices: ReadonlyArray<number>): Effect.Effect<void, TaskError | WorkerStartError> =>
  Effect.gen(function* () {
    const { plan } = run
    const tasks = yield* tasksOf(run, indices)
    if (tasks.length === 0) return
    // Chunks are single tasks when there is a timeout (see ChunkScheduler.autoChunkSize).
    const ran = yield* runOnWorker(slot, tasks, !plan.collect, plan.timeoutMs)
    switch (ran._tag) {
      case "Done":
        return yield* record(run, slot, ran.output)
      case "StartFailed":
        return yield* startError(plan, ran.exit)
      case "TimedOut":
        return yield* fail(plan, run.state, failureOf(tasks[0]!.index, "timeout", "TimeoutError", timedOutMessage(plan.timeoutMs!)))
      case "Died":
        // Which task of a chunk killed the worker is unknown: run each again alone.
        if (tasks.length > 1) {
          run.schedule = ChunkScheduler.requeue(run.schedule, tasks.map((task) => task.index))
          return
        }
        return yield* fail(plan, run.state, failureOf(tasks[0]!.index, "workerDied", "WorkerDied", workerDiedMessage(ran.exit)))
    }
  })

/** A slot takes the next chunk until none is left. */
const drive = (run: RunContext, slot: Slot): Effect.Effect<void, TaskError | WorkerStartError> =>
  Effect.suspend(() => {
    const step = ChunkScheduler.next(run.schedule)
    run.schedule = step.schedule
    if (step.chunk === undefined) return Effect.void
    return Effect.flatMap(runChunk(run, slot, step.chunk), () => drive(run, slot))
  })

/**
 * Runs every input; calls `onResult` for each completed task, in completion
 * order. Fails with `TaskError` at the first failed task unless collecting.
 */
const runTasks = <I>(
  plan: Plan,
  inputs: ReadonlyArray<I>,
  state: RunState,
  onResult: (index: number, result: unknown) => Effect.Effect<void>
): Effect.Effect<void, TaskError | WorkerStartError | PoolOptionError, Scope.Scope> =>
  Effect.gen(function* () {
    if (inputs.length === 0) return
    const remote = yield* RemoteRunners
    if (remote !== undefined) return yield* remote.runTasks(plan, inputs, state, onResult)
    const live = new Set<WorkerHandle>()
    const size = Math.min(plan.concurrency, inputs.length)
    const slots = yield* Effect.forEach(Array.from({ length: size }, (_, id) => id), (id) => makeSlot(id, plan.config, live), {
      concurrency: "unbounded"
    })
    state.slots = slots
    // Added after the slots, so it runs before their own finalizers, which
    // would first ask each worker to close and wait up to 5 s for a busy one.
    yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all([...live].map(endWorkerAndWait))))
    const chunkSize = plan.chunkSize ?? ChunkScheduler.autoChunkSize(inputs.length, size, plan.timeoutMs)
    const run: RunContext = {
      plan,
      inputs,
      state,
      onResult,
      checkInput: cloneCheck(plan.config.isolation),
      schedule: ChunkScheduler.make(inputs.length, chunkSize)
    }
    yield* Effect.forEach(slots, (slot) => drive(run, slot), { concurrency: "unbounded", discard: true })
  }).pipe(
    // Workers run in real time: the task timeout and effect/rpc's restart of a
    // dead worker must not wait on a test clock the caller may have installed.
    Effect.provideService(Clock.Clock, Clock.Clock.defaultValue())
  )

/**
 * Where `profileAll` / `profileStream` send their chunks instead of local
 * workers (shell/cluster's client layer provides it); undefined: the local pool.
 */
export interface RemoteTarget {
  readonly runTasks: (
    plan: Plan,
    inputs: ReadonlyArray<unknown>,
    state: RunState,
    onResult: (index: number, result: unknown) => Effect.Effect<void>
  ) => Effect.Effect<void, TaskError | WorkerStartError | PoolOptionError, Scope.Scope>
}

export const RemoteRunners = Context.Reference<RemoteTarget | undefined>("lineprof/pool/RemoteRunners", {
  defaultValue: () => undefined
})

const toArray = <I>(inputs: Iterable<I>): ReadonlyArray<I> => (Array.isArray(inputs) ? inputs : Array.from(inputs))

const newState = (): RunState => ({ slots: [], failures: [], completed: 0 })

/**
 * Runs `child(input)` for every input on a pool of workers and profiles it.
 * Succeeds with the results in input order, the merged profile and the
 * profile of each worker.
 *
 * ```ts
 * import { child } from "./work.ts"
 * const { results, profile } = await Effect.runPromise(profileAll(child, inputs, { concurrency: 4 }))
 * ```
 */
export function profileAll<I, O>(
  child: Child<I, O>,
  inputs: Iterable<I>,
  options: CollectOptions
): Effect.Effect<PoolResult<Awaited<O> | undefined>, PoolError>
export function profileAll<I, O>(
  child: Child<I, O>,
  inputs: Iterable<I>,
  options?: PoolOptions
): Effect.Effect<PoolResult<Awaited<O>>, TaskError | PoolError>
export function profileAll<I, O>(
  child: Child<I, O>,
  inputs: Iterable<I>,
  options: PoolOptions = {}
): Effect.Effect<PoolResult<Awaited<O>>, TaskError | PoolError> {
  return Effect.gen(function* () {
    const plan = yield* makePlan(child, options)
    const list = toArray(inputs)
    const results = new Array<Awaited<O>>(list.length)
    const state = newState()
    yield* Effect.scoped(
      runTasks(plan, list, state, (index, result) =>
        Effect.sync(() => {
          results[index] = result as Awaited<O>
        })
      )
    )
    return { results, ...summarize(state) }
  })
}

/**
 * The same work as `profileAll`, as a stream of `{ index, input, result }` in
 * completion order (Python's `imap_unordered`). `summary` gives the merged
 * profile once the stream has ended (see `ProfiledStream`).
 *
 * ```ts
 * const { stream, summary } = profileStream(child, inputs)
 * yield* Stream.runForEach(stream, ({ index, result }) => Console.log(index, result))
 * const { profile } = yield* summary
 * ```
 */
export function profileStream<I, O>(
  child: Child<I, O>,
  inputs: Iterable<I>,
  options: CollectOptions
): ProfiledStream<I, Awaited<O>, PoolError>
export function profileStream<I, O>(
  child: Child<I, O>,
  inputs: Iterable<I>,
  options?: PoolOptions
): ProfiledStream<I, Awaited<O>, TaskError | PoolError>
export function profileStream<I, O>(
  child: Child<I, O>,
  inputs: Iterable<I>,
  options: PoolOptions = {}
): ProfiledStream<I, Awaited<O>, TaskError | PoolError> {
  const done = Deferred.makeUnsafe<PoolSummary>()
  let state = newState()
  const stream = Stream.callback<TaskResult<I, Awaited<O>>, TaskError | PoolError>((queue) =>
    Effect.gen(function* () {
      state = newState()
      const plan = yield* makePlan(child, options)
      const list = toArray(inputs)
      yield* runTasks(plan, list, state, (index, result) =>
        Effect.asVoid(Queue.offer(queue, { index, input: list[index]!, result: result as Awaited<O> }))
      )
      yield* Queue.end(queue)
    }).pipe(Effect.catch((error) => Queue.fail(queue, error)))
  ).pipe(Stream.onExit(() => Deferred.done(done, Exit.succeed(summarize(state)))))
  return { stream, summary: Deferred.await(done) }
}
