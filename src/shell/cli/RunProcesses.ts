/**
 * What `lineprof run` knows about the processes of a run beside the one it
 * spawned, through record/Control: every profiled process marks itself alive
 * in the run's stats folder and watches it for stop requests (its keeper
 * thread then writes its stats and stops it, even when its main thread is
 * busy). `requestStop` is synchronous: signal handlers call it.
 */
import * as Effect from "effect/Effect"
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
    let alive = Control.livePids(statsDir)
    while (alive.length > 0 && Date.now() < deadline) {
      yield* Effect.sleep("20 millis")
      alive = Control.livePids(statsDir)
    }
    return alive
  })
