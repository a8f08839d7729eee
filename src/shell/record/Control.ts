/**
 * Control: what `lineprof run` and the profiled processes say to each other
 * through the stats folder, with plain synchronous node:fs calls (it runs in
 * preloads and in signal handlers, before and after any Effect runtime).
 *
 * - `requestStop(statsDir, signal)`: run asks every profiled process of the
 *   run to stop by `signal` (a sentinel file). A process whose main thread is
 *   busy cannot run a signal listener; its keeper thread sees the sentinel,
 *   writes the final stats of every thread and makes the process die of the
 *   signal (see Keeper). A process that handled the signal itself, or whose
 *   program listens for it, is left alone.
 * - `markAlive` / `unmarkAlive` / `livePids`: each profiled process marks
 *   itself in the folder while it lives, so run can say how many it leaves behind.
 * - `checkFolder`: the folder rule. Run's folder (`RUN_DIR_ENV` set) is never
 *   created by a process; stats go only into a folder of this user that group
 *   and others cannot write.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs"
import * as path from "node:path"
import { writeFileAtomicSync } from "../files/AtomicWrite.ts"

/** Set to "1" by `lineprof run` in the program's environment: LINEPROF_DIR is run's own folder, made for this run. */
export const RUN_DIR_ENV = "LINEPROF_RUN_DIR"

/** The environment `run` adds for its programs (besides Config.toEnv). */
export const runEnv: Readonly<Record<string, string>> = { [RUN_DIR_ENV]: "1" }

/** Whether this process's LINEPROF_DIR is run's folder. */
export const isRunDir = (env: Readonly<Record<string, string | undefined>> = process.env): boolean => env[RUN_DIR_ENV] === "1"

/** The sentinel file of `requestStop`: "<signal> <unique>". Dot files are not stats files. */
export const STOP_FILE = ".lineprof-stop"
const ALIVE_PREFIX = ".lineprof-alive-"

/** The signals a stop may name: those lineprof's own listener handles. */
export const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const
export type StopSignal = (typeof stopSignals)[number]

let stopCount = 0

/**
 * Asks every profiled process of the run whose stats go to `statsDir` to stop
 * by `signal` (sync; for run, when it receives or forwards a signal). Written
 * atomically; a later request replaces an earlier one. Returns false when the
 * folder is gone.
 */
export const requestStop = (statsDir: string, signal: StopSignal): boolean => {
  try {
    writeFileAtomicSync(path.join(statsDir, STOP_FILE), `${signal} ${process.pid}-${++stopCount}-${Date.now()}`, { mode: 0o600 })
    return true
  } catch {
    return false
  }
}

/** The current stop request in `statsDir`: its signal and its text (which tells requests apart). */
export const readStop = (statsDir: string): { readonly signal: StopSignal; readonly text: string } | undefined => {
  let text: string
  try {
    text = readFileSync(path.join(statsDir, STOP_FILE), "utf8")
  } catch {
    return undefined
  }
  const signal = text.split(" ")[0] as StopSignal
  return stopSignals.includes(signal) ? { signal, text } : undefined
}

/** Marks process `pid` alive in `statsDir` (O_EXCL); false when it cannot. */
export const markAlive = (statsDir: string, pid: number = process.pid): boolean => {
  try {
    closeSync(openSync(path.join(statsDir, `${ALIVE_PREFIX}${pid}`), "wx", 0o600))
    return true
  } catch {
    return false
  }
}

/** Removes the mark of `markAlive`. */
export const unmarkAlive = (statsDir: string, pid: number = process.pid): void => {
  try {
    rmSync(path.join(statsDir, `${ALIVE_PREFIX}${pid}`), { force: true })
  } catch {
    // The folder is gone: nothing to unmark.
  }
}

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, and belongs to someone else (a pid reused by another user's process counts as alive).
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * The profiled processes of `statsDir` still running (marked alive and
 * answering `kill(pid, 0)`): after the program exited, those it left behind.
 */
export const livePids = (statsDir: string): ReadonlyArray<number> => {
  let names: Array<string>
  try {
    names = readdirSync(statsDir)
  } catch {
    return []
  }
  return names
    .filter((name) => name.startsWith(ALIVE_PREFIX))
    .map((name) => Number(name.slice(ALIVE_PREFIX.length)))
    .filter((pid) => Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid))
    .sort((a, b) => a - b)
}

/**
 * Whether stats may be written into `dir`; undefined when they may, else why
 * not (part of one line). Run's folder (`runDir`) must exist, be a real
 * folder (not a link) of this user, and be closed to group and others; it is
 * never created here. Any other folder must belong to this user; a missing
 * one is made (with its missing parents) with mode 0700.
 */
export const checkFolder = (dir: string, runDir: boolean): string | undefined => {
  const uid = process.getuid?.()
  let stats
  try {
    stats = lstatSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== "ENOENT") return `cannot use the stats folder ${dir}: ${code ?? String(error)}`
    if (runDir) return `the stats folder ${dir} of lineprof run is gone (the run ended?); stats are not written`
    try {
      makeFolderSync(dir)
      return undefined
    } catch (made) {
      return `cannot make the stats folder ${dir}: ${String((made as Error)?.message ?? made).split("\n")[0]}`
    }
  }
  if (stats.isSymbolicLink() && !runDir) {
    // A link to a folder is fine outside run; judge the folder it names.
    try {
      stats = lstatSync(realpathSync(dir))
    } catch {
      return `the stats folder ${dir} is a broken link`
    }
  }
  if (!stats.isDirectory()) return `the stats folder ${dir} is not a folder`
  if (uid !== undefined && stats.uid !== uid) return `the stats folder ${dir} belongs to another user (uid ${stats.uid}); stats are not written`
  if (runDir && (stats.mode & 0o022) !== 0) return `the stats folder ${dir} of lineprof run is writable by others; stats are not written`
  return undefined
}

/**
 * `mkdir -p` one level at a time, mode 0700. Not `mkdirSync(dir, { recursive: true })`:
 * that spins forever on a path it cannot create under /proc (seen on Node 24).
 */
const makeFolderSync = (dir: string): void => {
  try {
    mkdirSync(dir, 0o700)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "EEXIST") return
    if (code !== "ENOENT" || path.dirname(dir) === dir) throw error
    makeFolderSync(path.dirname(dir))
    mkdirSync(dir, 0o700)
  }
}
