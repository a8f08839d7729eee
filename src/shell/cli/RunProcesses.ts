/**
 * What `lineprof run` knows about the processes of a run beside the one it
 * spawned: how to tell every one of them to stop, and which were left
 * running when the program exited. Synchronous: signal handlers call it.
 *
 * `runEnv`, `requestStop` and `livePids` are the adapter over record/Control (the
 * signals work: every profiled process marks itself alive in the stats folder
 * and watches it for stop requests). Until that module is wired here,
 * `requestStop` does nothing and `livePids` finds the processes whose
 * environment names the run's stats folder.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as Config from "../record/Config.ts"

/** What run adds to the program's environment so that its processes know LINEPROF_DIR is run's own folder (record/Control.runEnv once wired). */
export const runEnv: Readonly<Record<string, string>> = { LINEPROF_RUN_DIR: "1" }

/** Asks every profiled process of the run to write its stats and stop (record/Control.requestStop once wired; a no-op until then). */
export const requestStop = (_statsDir: string, _signal: NodeJS.Signals): void => {}

/**
 * The processes of the run still alive (other than lineprof): those whose
 * environment names `statsDir` as LINEPROF_DIR, from Linux's /proc (none
 * elsewhere), until record/Control.livePids is wired here. A zombie's
 * environment reads empty, so it is not counted.
 */
export const livePids = (statsDir: string): ReadonlyArray<number> => {
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
