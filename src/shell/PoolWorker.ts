/**
 * The entry of a pool worker (a worker thread or a child process started by
 * shell/Pool). It owns one worker's life:
 *
 * 1. read its `WorkerConfig` (JSON in `process.argv[2]`)
 * 2. when profiling, install the recorder and the load hooks with the
 *    include / exclude globs, before anything of the user's is loaded
 * 3. import the child's module (through the hooks, so it is instrumented) and
 *    find the child by its export name
 * 4. serve `RunTask` over effect/rpc until the pool closes it: run the child
 *    on one input, then return its result with the profile delta of that task
 *    (snapshot, then reset), so that the parent's merged profile covers
 *    exactly the tasks it got results for.
 *
 * A worker runs one task at a time (the pool sends the next task only when
 * the previous one answered), so a delta belongs to one task even when the
 * child is async. Function sources travel once per worker: a function's
 * `source` is sent with the first successful delta that holds it and left
 * out afterwards (`Profile.combine` keeps the side that has it).
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
import * as Profile from "../core/Profile.ts"
import { nativeImport, resolveExport } from "./Locate.ts"
import { PoolRpcs, RemoteTaskError, STARTUP_FAILED_EXIT_CODE, type TaskOutput, type WorkerConfig } from "./PoolProtocol.ts"

type Child = (input: unknown) => unknown

/** The recorder, loaded only when profiling: an unprofiled pool loads none of lineprof's instrumentation. */
let Recorder: typeof import("./Recorder.ts") | undefined

const config = JSON.parse(process.argv[2] ?? "null") as WorkerConfig

const loadChild = async (): Promise<Child> => {
  if (config.profile) {
    Recorder = await import("./Recorder.ts")
    const Hooks = await import("./Hooks.ts")
    Recorder.install()
    Hooks.install({ include: config.include, exclude: config.exclude, cwd: config.cwd })
  }
  const namespace = await nativeImport(config.moduleUrl)
  const child = resolveExport(namespace, config.exportName)
  if (typeof child !== "function") {
    throw new Error(`export ${config.exportName} of ${config.moduleUrl} is not a function (it is ${typeof child})`)
  }
  Recorder?.reset() // what the module's top level ran is not a task's
  return child as Child
}

/** Keys of the functions whose source this worker already sent. */
const sourceSent = new Set<string>()

const takeDelta = (): Profile.Profile | undefined => {
  if (Recorder === undefined) return undefined
  const delta = Recorder.snapshot()
  Recorder.reset()
  return delta
}

/** Leaves out sources already sent; marks the others as sent. Only for deltas that go back with a result. */
const withoutSentSources = (delta: Profile.Profile | undefined): Profile.Profile | undefined => {
  if (delta === undefined) return undefined
  return {
    functions: delta.functions.map((fn) => {
      if (fn.source === undefined) return fn
      const key = Profile.keyOf(fn)
      if (!sourceSent.has(key)) {
        sourceSent.add(key)
        return fn
      }
      return { ...fn, source: undefined }
    })
  }
}

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

const finish = (index: number, result: unknown): Effect.Effect<TaskOutput, RemoteTaskError> => {
  try {
    checkCloneable(result)
  } catch (error) {
    const { errorName, errorMessage } = describe(error)
    return Effect.fail(
      new RemoteTaskError({
        index,
        kind: "notCloneable",
        errorName,
        errorMessage: `the result cannot be sent back from the worker (${errorMessage})`,
        errorStack: "",
        taskProfile: takeDelta() ?? Profile.empty
      })
    )
  }
  return Effect.succeed({ result, profile: withoutSentSources(takeDelta()) })
}

const threw = (index: number, error: unknown): Effect.Effect<never, RemoteTaskError> =>
  Effect.fail(new RemoteTaskError({ index, kind: "threw", ...describe(error), taskProfile: takeDelta() ?? Profile.empty }))

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as any).then === "function"

const serve = (child: Child) => {
  const handlers = PoolRpcs.toLayer({
    RunTask: ({ index, input }) =>
      Effect.suspend(() => {
        let value: unknown
        try {
          value = child(input)
        } catch (error) {
          return threw(index, error)
        }
        if (!isPromiseLike(value)) return finish(index, value)
        return Effect.callback<TaskOutput, RemoteTaskError>((resume) => {
          value.then(
            (result) => resume(finish(index, result)),
            (error) => resume(threw(index, error))
          )
        })
      })
  })
  return RpcServer.layer(PoolRpcs).pipe(
    Layer.provide(handlers),
    Layer.provide(RpcServer.layerProtocolWorkerRunner),
    Layer.provide(NodeWorkerRunner.layer)
  )
}

loadChild().then(
  (child) => Effect.runFork(Layer.launch(serve(child))),
  (error: unknown) => {
    process.stderr.write(`lineprof pool worker: ${describe(error).errorStack || describe(error).errorMessage}\n`)
    process.exit(STARTUP_FAILED_EXIT_CODE)
  }
)
