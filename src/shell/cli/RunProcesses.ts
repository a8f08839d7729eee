/**
 * What `lineprof run` knows about the processes of a run beside the one it
 * spawned, through record/Control: every profiled process marks itself alive
 * in the run's stats folder once its keeper thread is up, and watches the
 * folder for stop requests (the keeper then writes its stats and stops it,
 * even when its main thread is busy). A process whose keeper is not up yet
 * is found by its environment, which names the run's folder (Linux's /proc).
 * `requestStop` is synchronous: signal handlers call it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { constants as osConstants } from "node:os"
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

/**
 * What Linux's /proc says of a process and `signal` (see `witnessSaw`):
 * "got" when the signal is pending (a sleeping process that was sent a
 * signal is woken at once, so this is seen until it acts on it), "dead" for
 * a zombie or an exiting process, "clean" for a process asleep with nothing
 * pending and not exiting (it was not sent a signal), "busy" otherwise, and
 * "unknown" without /proc.
 */
export type SignalState = "got" | "dead" | "clean" | "busy" | "unknown"

/** PF_EXITING of /proc/<pid>/stat's flags: the process has begun to exit. */
const PF_EXITING = 0x4

/**
 * The pure reading of /proc/<pid>/stat and /proc/<pid>/status for `signalNo`.
 * stat's fields after the command name (which may hold spaces and
 * parentheses, hence the last ")") start with the state; flags is the 9th
 * field. status's SigPnd (the thread's) and ShdPnd (the process's) are hex
 * masks whose bit n - 1 stands for signal n.
 */
export const signalStateOf = (stat: string, status: string, signalNo: number): SignalState => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const state = fields[0]
  const flags = Number(fields[6])
  const pending = ["SigPnd", "ShdPnd"].map((name) => new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1])
  if (state === undefined || Number.isNaN(flags) || pending.some((mask) => mask === undefined)) return "unknown"
  const masks = pending.map((mask) => BigInt(`0x${mask}`))
  if (masks.some((mask) => (mask >> BigInt(signalNo - 1)) & 1n)) return "got"
  if (state === "Z" || state === "X" || (flags & PF_EXITING) !== 0) return "dead"
  if (state === "S" && masks.every((mask) => mask === 0n)) return "clean"
  return "busy"
}

/** `signalStateOf` for a live pid ("unknown" when /proc cannot be read, "dead" when the pid is gone). */
export const signalState = (pid: number, signal: NodeJS.Signals): SignalState => {
  const signalNo = osConstants.signals[signal]
  try {
    return signalStateOf(readFileSync(`/proc/${pid}/stat`, "utf8"), readFileSync(`/proc/${pid}/status`, "utf8"), signalNo)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" && existsSync("/proc/self/stat") ? "dead" : "unknown"
  }
}
