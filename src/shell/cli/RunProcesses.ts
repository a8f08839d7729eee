/**
 * What `lineprof run` knows about the processes of a run beside the one it
 * spawned, through record/Control: every profiled process marks itself alive
 * in the run's stats folder once its keeper thread is up, and watches the
 * folder for stop requests (the keeper then writes its stats and stops it,
 * even when its main thread is busy). A process whose keeper is not up yet
 * is found by its environment, which names the run's folder (Linux's /proc).
 * `requestStop` is synchronous: signal handlers call it.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Config from "../record/Config.ts"
import * as Control from "../record/Control.ts"

/** What run adds to the program's environment so that its processes know LINEPROF_DIR is run's own folder. */
export const runEnv: Readonly<Record<string, string>> = Control.runEnv

/** Asks every profiled process of the run to write its stats and stop, as `signal` would. */
export const requestStop = (statsDir: string, signal: NodeJS.Signals): void => {
  if ((Control.stopSignals as ReadonlyArray<string>).includes(signal)) Control.requestStop(statsDir, signal as Control.StopSignal)
}

/** How long run waits, after the program exited, for its other profiled processes to finish their final writes. */
export const settleMs = 1000

/**
 * The profiled processes of the run still alive once the program exited,
 * after waiting up to `settleMs` for those that are only finishing their
 * final writes (a child that got the same signal, a worker pool closing).
 */
export const leftBehind = (statsDir: string): Effect.Effect<ReadonlyArray<number>> =>
  Effect.gen(function*() {
    const deadline = Date.now() + settleMs
    let alive = livePids(statsDir)
    while (alive.length > 0 && Date.now() < deadline) {
      yield* Effect.sleep("20 millis")
      alive = livePids(statsDir)
    }
    return alive
  })

/** The run's processes alive now: those marked alive in the folder, and those whose environment names it. */
export const livePids = (statsDir: string): ReadonlyArray<number> =>
  [...new Set([...Control.livePids(statsDir), ...pidsWithEnvironment(statsDir)])].sort((a, b) => a - b)

/**
 * The processes (other than lineprof) whose environment names `statsDir` as
 * LINEPROF_DIR, from Linux's /proc (none elsewhere). A zombie's environment
 * reads empty, so it is not counted.
 */
const pidsWithEnvironment = (statsDir: string): ReadonlyArray<number> => {
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return []
  }
  const wanted = `${Config.Variables.dir}=${statsDir}`
  const pids: Array<number> = []
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(wanted)) pids.push(Number(entry))
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids
}
