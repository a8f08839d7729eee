/**
 * lineprof's public API. The core (profiles, their merge, stats files and the
 * reports) is pure; the shell runs and records code. Importing this module has
 * no side effects: nothing is instrumented until `profileAll`, `profileCall` or
 * the register module (`node --import lineprof/register`) asks for it.
 */
export * as Profile from "./core/Profile.ts"
export * as StatsFile from "./core/StatsFile.ts"
export * as Text from "./core/render/Text.ts"
export * as Html from "./core/render/Html.ts"
export * as Pprof from "./core/render/Pprof.ts"
export * as PythonSource from "./core/python/PythonSource.ts"
export * as Lprof from "./core/python/Lprof.ts"
export * as Instrument from "./core/Instrument.ts"
export * as Recorder from "./shell/record/Recorder.ts"
export * as StatsFiles from "./shell/files/StatsFiles.ts"
export * as PprofFiles from "./shell/files/Pprof.ts"
export * as Merge from "./shell/files/Merge.ts"
export {
  profileAll,
  profileStream,
  NodeVersionError,
  NotExportedError,
  PoolOptionError,
  TaskError,
  TaskFailure,
  WorkerStartError
} from "./shell/pool/Pool.ts"
export type {
  Child,
  FunctionLocation,
  Isolation,
  PoolOptions,
  PoolResult,
  PoolSummary,
  ProfiledStream,
  TaskFailureKind,
  TaskResult
} from "./shell/pool/Pool.ts"
export { profileCall, profileCallPromise, profileCallWith } from "./shell/pool/ProfileCall.ts"
export type { CallOptions } from "./shell/pool/ProfileCall.ts"
export * as Cluster from "./shell/cluster/Cluster.ts"
