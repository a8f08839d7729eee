/**
 * The entry of a pool worker (a worker thread or a child process started by
 * shell/Pool). It owns one worker's life:
 *
 * 1. read its `WorkerConfig` (JSON in `process.argv[2]`)
 * 2. when profiling, install the recorder and the load hooks with the
 *    include / exclude globs, before anything of the user's is loaded
 * 3. import the child's module (through the hooks, so it is instrumented) and
 *    find the child by its export name
 * 4. serve `RunChunk` over effect/rpc until the pool closes it: run the child
 *    on each input of a chunk, then return the outcomes with the profile
 *    delta of the tasks that succeeded (snapshot, then reset), so that the
 *    parent's merged profile covers exactly the tasks it got results for.
 *
 * A worker runs one task at a time (the pool sends the next chunk only when
 * the previous one answered, and a chunk's tasks run one after another), so a
 * delta belongs to its tasks even when the child is async. Function sources
 * travel once per worker: a function's `source` is sent with the first delta
 * that holds it and left out afterwards (`Profile.combine` keeps the side
 * that has it).
 *
 * If step 2 or 3 fails the worker prints why on stderr and exits with
 * `STARTUP_FAILED_EXIT_CODE`; the pool reports that as `WorkerStartError`
 * instead of starting it again.
 */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RpcServer from "effect/rpc/RpcServer"
import { serialize } from "node:v8"
import * as Delta from "../../core/Delta.ts"
import * as Profile from "../../core/Profile.ts"
import * as HotCounts from "../record/HotCounts.ts"
import { nativeImport, resolveExport } from "./Locate.ts"
import {
  PoolRpcs,
  STARTUP_FAILED_EXIT_CODE,
  type ChunkOutput,
  type Task,
  type TaskOutcome,
  type WorkerConfig
} from "./PoolProtocol.ts"

type Child = (input: unknown) => unknown

const config = JSON.parse(process.argv[2] ?? "null") as WorkerConfig

/** The recorder, loaded only when profiling: an unprofiled pool loads none of lineprof's instrumentation. */
let Recorder: typeof import("../record/Recorder.ts") | undefined
/** The recorder's live counter arrays (replaced when they grow). */
let counters: { hits: Float64Array; timeNs: Float64Array; waitNs: Float64Array; hot: HotCounts.HotCounts } | undefined

const loadChild = async (): Promise<Child> => {
  if (config.profile) {
    Recorder = await import("../record/Recorder.ts")
    const Hooks = await import("../record/Hooks.ts")
    Recorder.install({ timing: config.timing, sampleIntervalNs: config.sampleIntervalNs })
    Hooks.install({ include: config.include, exclude: config.exclude, cwd: config.cwd, functions: config.functions, sourceMaps: config.sourceMaps })
    Recorder.subscribe((event) => {
      if (event._tag === "Buffers") counters = { hits: event.hits, timeNs: event.timeNs, waitNs: event.waitNs, hot: event.hot }
    })
  }
  const namespace = await nativeImport(config.moduleUrl)
  const child = resolveExport(namespace, config.exportName)
  if (typeof child !== "function") {
    throw new Error(`export ${config.exportName} of ${config.moduleUrl} is not a function (it is ${typeof child})`)
  }
  Recorder?.reset() // what the module's top level ran is not a task's
  return child as Child
}

// ---------------------------------------------------------------------------
// Profile deltas

/** A copy of the used part of the counters, taken before a task of a chunk. */
interface Mark {
  readonly hits: Float64Array
  readonly timeNs: Float64Array
  readonly waitNs: Float64Array
}

const takeMark = (): Mark | undefined => {
  if (Recorder === undefined || counters === undefined) return undefined
  const used = Recorder.nextSlot()
  HotCounts.fold(counters.hot, counters.hits)
  return { hits: counters.hits.slice(0, used), timeNs: counters.timeNs.slice(0, used), waitNs: counters.waitNs.slice(0, used) }
}

const profileOf = (mark: Mark): Profile.Profile => Recorder!.profileFrom(Recorder!.registrations(), mark.hits, mark.timeNs, mark.waitNs)

/** The counters now minus `mark`: what ran since the mark. */
const sinceMark = (mark: Mark | undefined): Mark | undefined => {
  const now = takeMark()
  if (now === undefined || mark === undefined) return now
  for (let slot = 0; slot < mark.hits.length; slot++) {
    now.hits[slot]! -= mark.hits[slot]!
    now.timeNs[slot]! -= mark.timeNs[slot]!
    now.waitNs[slot]! -= mark.waitNs[slot]!
  }
  if (config.timing === "sampled") {
    // Slot 0 is the sampled-mode header (see Recorder): 1 + the samples since the mark, and the interval.
    now.hits[0]! += 1
    now.timeNs[0] = counters!.timeNs[0]!
  }
  return now
}

/** Keys of the functions whose source this worker already sent. */
const sourceSent = new Set<string>()

/** Leaves out sources already sent (see Delta.withoutSentSources); marks the others as sent. Only for deltas that go back with results. */
const withoutSentSources = (delta: Profile.Profile): Profile.Profile => {
  const { profile, newlySent } = Delta.withoutSentSources(delta, sourceSent)
  for (const key of newlySent) sourceSent.add(key)
  return profile
}

// ---------------------------------------------------------------------------
// Tasks

const describe = (error: unknown): { errorName: string; errorMessage: string; errorStack: string } => {
  if (error instanceof Error) {
    return { errorName: error.name, errorMessage: error.message, errorStack: error.stack ?? `${error.name}: ${error.message}` }
  }
  let text: string
  try {
    text = typeof error === "string" ? error : JSON.stringify(error) ?? String(error)
  } catch {
    text = String(error)
  }
  return { errorName: "NonErrorThrown", errorMessage: text, errorStack: "" }
}

/** Throws (DataCloneError) when `value` cannot be posted back to the parent. */
const checkCloneable: (value: unknown) => void =
  config.isolation === "process" ? (value) => void serialize(value) : (value) => void structuredClone(value)

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as any).then === "function"

/** Thrown from `runOne` to tell a result that cannot be sent back from an error of the child. */
class NotCloneable {
  readonly cause: unknown
  constructor(cause: unknown) {
    this.cause = cause
  }
}

/** `result` itself when it can be sent back; else throws `NotCloneable`. */
const cloneableResult = (result: unknown): unknown => {
  try {
    checkCloneable(result)
  } catch (error) {
    throw new NotCloneable(error)
  }
  return result
}

/** Runs one task; sync children stay sync (no await, no microtask between tasks). */
const runOne = (child: Child, input: unknown): unknown => {
  const value = child(input)
  return isPromiseLike(value) ? Promise.resolve(value).then(cloneableResult) : cloneableResult(value)
}

/**
 * Runs a chunk's tasks one after another. Before each task but the first the
 * counters are marked, so that when a task fails, the tasks before it (the
 * profile at the mark) and the failed task (the counters since the mark) are
 * told apart; the counters are then reset and the chunk goes on (or stops).
 */
const runChunk = async (child: Child, tasks: ReadonlyArray<Task>, stopOnFailure: boolean): Promise<ChunkOutput> => {
  const outcomes: Array<TaskOutcome> = []
  const succeeded: Array<Profile.Profile> = []
  let mark: Mark | undefined
  for (let k = 0; k < tasks.length; k++) {
    const { index, input } = tasks[k]!
    mark = k === 0 ? undefined : takeMark()
    try {
      let result = runOne(child, input)
      if (isPromiseLike(result)) result = await result
      outcomes.push({ index, ok: true, result })
    } catch (thrown) {
      const failed = sinceMark(mark)
      if (mark !== undefined) succeeded.push(profileOf(mark))
      Recorder?.reset()
      const kind = thrown instanceof NotCloneable ? "notCloneable" : "threw"
      const details = describe(thrown instanceof NotCloneable ? thrown.cause : thrown)
      outcomes.push({
        index,
        ok: false,
        kind,
        ...details,
        ...(kind === "notCloneable"
          ? { errorMessage: `the result cannot be sent back from the worker (${details.errorMessage})`, errorStack: "" }
          : {}),
        taskProfile: failed === undefined ? Profile.empty : profileOf(failed)
      })
      if (stopOnFailure) break
    }
  }
  if (Recorder === undefined) return { outcomes, profile: undefined }
  succeeded.push(Recorder.snapshot())
  Recorder.reset()
  return { outcomes, profile: withoutSentSources(Profile.ProfileReducer.combineAll(succeeded)) }
}

const serve = (child: Child) => {
  const handlers = PoolRpcs.toLayer({
    RunChunk: ({ tasks, stopOnFailure }) => Effect.promise(() => runChunk(child, tasks as ReadonlyArray<Task>, stopOnFailure))
  })
  return RpcServer.layer(PoolRpcs, { disableTracing: true }).pipe(
    Layer.provide(handlers),
    Layer.provide(RpcServer.layerProtocolWorkerRunner),
    Layer.provide(NodeWorkerRunner.layer)
  )
}

loadChild().then(
  (child) => Effect.runFork(Layer.launch(serve(child))),
  (error: unknown) => {
    const { errorMessage, errorStack } = describe(error)
    process.stderr.write(`lineprof pool worker: ${errorStack || errorMessage}\n`)
    process.exit(STARTUP_FAILED_EXIT_CODE)
  }
)
