/**
 * The module for `node --import lineprof/register app.js` (dist/shell/record/register.js;
 * `lineprof run` gives the absolute path of the one beside its own Cli module,
 * register.ts under src/), also through `NODE_OPTIONS`, so that it reaches
 * worker threads (they inherit execArgv) and child processes (they inherit the
 * environment). Importing it
 * profiles the current thread: it reads the LINEPROF_* settings once, installs
 * the recorder, starts the delivery of this thread's stats file and installs
 * the load hooks, in that order, before any of the program's code loads.
 *
 * In the main thread the settings are then written back to the environment
 * with absolute paths and globs (`Config.toEnv`), so a child process started
 * in another directory profiles the same files into the same folder.
 * A bad setting prints one line on stderr and leaves the program unprofiled:
 * the program itself still runs as it would without lineprof.
 */
import * as Result from "effect/Result"
import { isMainThread } from "node:worker_threads"
import * as Config from "./Config.ts"
import * as Delivery from "./Delivery.ts"
import * as Hooks from "./Hooks.ts"
import * as Recorder from "./Recorder.ts"

const config = Config.fromEnv()
if (Result.isFailure(config)) {
  if (isMainThread) process.stderr.write(`lineprof: ${config.failure.message}; profiling is off\n`)
} else {
  Recorder.install({ compensate: config.success.compensate, timing: config.success.timing, sampleIntervalNs: config.success.sampleIntervalNs })
  Delivery.start(config.success)
  Hooks.install(config.success)
  if (isMainThread) Object.assign(process.env, Config.toEnv(config.success))
}
