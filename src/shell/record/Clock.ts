/**
 * The recorder's clock: which monotonic clock the probes read, what one line
 * probe costs (calibration, for compensation), and the hand-off of both from
 * the first calibrated thread of a run to the threads and processes it starts
 * (`CALIBRATION_ENV`). Also the clock seam: `Recorder.install({ readNs })`
 * takes any `() => number`, so tests drive Wait and Time with a clock they
 * advance by hand instead of real timers.
 *
 * Nothing here touches the recorder's counters: calibration measures a probe
 * that the caller names (a global installed by the store) against the same
 * loop without it.
 */
import { SINK_SLOT } from "../../core/Probe.ts"

/** A clock the recorder can read: monotonic nanoseconds as a double. */
export interface ClockCandidate {
  readonly name: "performance.now" | "process.hrtime" | "process.hrtime.bigint"
  readonly readNs: () => number
}

/** The candidate clocks, all monotonic; `chooseClock` measures their line probes and keeps the cheapest. */
export const clockCandidates: ReadonlyArray<ClockCandidate> = [
  { name: "performance.now", readNs: () => performance.now() * 1e6 },
  {
    name: "process.hrtime",
    readNs: () => {
      const pair = process.hrtime()
      return pair[0] * 1e9 + pair[1]
    }
  },
  { name: "process.hrtime.bigint", readNs: () => Number(process.hrtime.bigint()) }
]

/** Mean ns per read of a clock over `reads` calls (median of `rounds` rounds). */
export const measureClockNs = (clock: ClockCandidate, reads = 20_000, roundCount = 5): number => {
  const rounds: Array<number> = []
  let sink = 0
  for (let round = 0; round < roundCount; round++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < reads; i++) sink += clock.readNs()
    rounds.push(Number(process.hrtime.bigint() - start) / reads)
  }
  if (sink === -1) rounds.push(0) // keeps the reads from being optimised away
  rounds.sort((a, b) => a - b)
  return rounds[Math.floor(rounds.length / 2)]!
}

export interface CalibrationOptions {
  /** The clock. */
  readonly readNs: () => number
  /** A loop of `n` iterations with one line probe each. */
  readonly probed: (n: number) => unknown
  /** The same loop without the probe. */
  readonly plain: (n: number) => unknown
  /** Iterations a round (default 2,000). */
  readonly n?: number
  /** Calibration runs at least this long once the estimate has settled (default 10 ms). */
  readonly budgetNs?: number
  /** ... and never longer than this, settled or not (default 50 ms). */
  readonly maxNs?: number
  /** ... and at least this many rounds (default 100: V8 tiers code up by work done, not by time). */
  readonly minRounds?: number
}

/**
 * The cost of one probe event: the per-iteration difference between the
 * least time of a round of `probed` and of `plain`. Interruptions only ever
 * add time, so the least over rounds is the cost on an idle core.
 *
 * The rounds go on until the budget is spent, `minRounds` ran *and* the
 * estimate has settled: no new low by more than 2% in the later half of the
 * rounds. In a freshly
 * started process on a busy machine the optimising compiler may finish the
 * loops late; stopping at a fixed budget then measured the probe as called
 * from unoptimised code (2 to 4 times its cost in the optimised code that
 * then runs the program), and the compensation made the Time of short lines
 * zero. The `maxNs` cap bounds the start-up cost.
 */
export const calibrateProbeCost = (options: CalibrationOptions): number => {
  const { plain, probed, readNs } = options
  const n = options.n ?? 2_000
  const budgetNs = options.budgetNs ?? 10e6
  const maxNs = options.maxNs ?? 50e6
  const minRounds = options.minRounds ?? 100
  let bestProbed = Infinity
  let bestPlain = Infinity
  let settledSince = 0
  const startNs = readNs()
  for (let round = 0; ; round++) {
    const t0 = readNs()
    probed(n)
    const t1 = readNs()
    plain(n)
    const t2 = readNs()
    if (round >= 3) {
      if (t1 - t0 < 0.98 * bestProbed || t2 - t1 < 0.98 * bestPlain) settledSince = round
      bestProbed = Math.min(bestProbed, t1 - t0)
      bestPlain = Math.min(bestPlain, t2 - t1)
    }
    const elapsedNs = t2 - startNs
    // At least one measured round (rounds 0 to 2 warm up), however slow: else the cost would be NaN.
    if (round >= 3 && elapsedNs >= maxNs) break
    if (round >= minRounds && elapsedNs >= budgetNs && round - settledSince >= round >> 1) break
  }
  return Math.max(0, (bestProbed - bestPlain) / n)
}

/**
 * A loop of `n` iterations with one line probe each, written as the
 * instrumenter writes a sync function's probe: the global `probeName` called
 * with the line locals, `slot` as the literal slot.
 */
export const makeProbedLoop = (probeName: string, slot: number): ((n: number) => number) =>
  new Function(
    "n",
    `let __lp$l = 0, __lp$t = 0, acc = 0
     for (let i = 0; i < n; i++) { __lp$t = ${probeName}(__lp$l, __lp$l = ${slot}, __lp$t); acc += i }
     return acc`
  ) as (n: number) => number

const makePlainLoop = (): ((n: number) => number) =>
  new Function("n", "let acc = 0; for (let i = 0; i < n; i++) { acc += i } return acc") as (n: number) => number

/**
 * The cost of one sync line event of the installed global probe `probeName`,
 * as instrumented code pays it (global lookup, call, clock read, adds,
 * assignments), called with the sink slot: see `calibrateProbeCost`.
 */
export const calibrateInstalledProbe = (probeName: string, readNs: () => number): number =>
  calibrateProbeCost({ readNs, probed: makeProbedLoop(probeName, SINK_SLOT), plain: makePlainLoop() })

// ---------------------------------------------------------------------------
// Choosing the clock

/** Choosing the clock runs for about this long (and at least 40 rounds), at most for the max. */
const CLOCK_CHOICE_BUDGET_NS = 8e6
const CLOCK_CHOICE_MAX_NS = 30e6

/** A line probe of the same shape as the recorder's `hit`, over scratch counters: measures a clock in place. */
const makeScratchHit = (readNs: () => number) => {
  const hits = new Float64Array(2)
  const timeNs = new Float64Array(2)
  const clockState = new Float64Array(2)
  return (prevSlot: number, slot: number, lineStartNs: number): number => {
    const now = readNs() - clockState[0]!
    clockState[0]! += clockState[1]!
    timeNs[prevSlot]! += now - lineStartNs
    hits[slot]!++
    return now
  }
}

/**
 * The clock whose line probe is cheapest, measured in place: a probe of the
 * same shape as `hit` per candidate, called from a loop as instrumented code
 * calls it, in interleaved rounds. Candidates are compared by their total
 * over the later half of the rounds (the earlier ones measure which loop V8
 * optimised first), so that the garbage of the allocating clocks (an array
 * or a BigInt per read) is paid for by the scavenges it causes.
 */
export const chooseClock = (): ClockCandidate => {
  const loops = clockCandidates.map((candidate, k) => {
    const name = `__lp$clock${k}`
    Object.defineProperty(globalThis, name, { value: makeScratchHit(candidate.readNs), writable: false, configurable: true })
    return makeProbedLoop(name, 1)
  })
  const roundNs: Array<Array<number>> = clockCandidates.map(() => [])
  const stopwatch = clockCandidates[0]!.readNs
  const startNs = stopwatch()
  for (let round = 0; ; round++) {
    loops.forEach((loop, k) => {
      const t0 = stopwatch()
      loop(1_000)
      roundNs[k]!.push(stopwatch() - t0)
    })
    const elapsedNs = stopwatch() - startNs
    if (elapsedNs >= CLOCK_CHOICE_MAX_NS || (round >= 40 && elapsedNs >= CLOCK_CHOICE_BUDGET_NS)) break
  }
  clockCandidates.forEach((_, k) => delete (globalThis as any)[`__lp$clock${k}`])
  // Only the later half of the rounds: the earlier ones measure how soon V8 optimised each loop.
  const totalNs = roundNs.map((rounds) => rounds.slice(rounds.length >> 1).reduce((a, b) => a + b, 0))
  let chosen = 0
  totalNs.forEach((ns, k) => {
    if (ns < totalNs[chosen]!) chosen = k
  })
  return clockCandidates[chosen]!
}

// ---------------------------------------------------------------------------
// The hand-off between threads and processes of one run

/**
 * The environment variable through which the first calibrated thread of a run
 * hands its clock and probe cost to the threads and child processes it starts
 * (they inherit the environment): `<node version> <clock> <ns>`. Calibrating
 * takes tens of ms on a busy machine; the same Node binary on the same machine
 * pays the same probe cost. A value from another Node version is ignored.
 */
export const CALIBRATION_ENV = "LINEPROF_CALIBRATION"

/** The clock and probe cost a parent of this thread measured, when it is valid here. */
export const readSharedCalibration = (): { readonly clock: ClockCandidate["name"]; readonly costNs: number } | undefined => {
  const value = globalThis.process?.env?.[CALIBRATION_ENV]
  if (value === undefined) return undefined
  const [version, clock, cost] = value.split(" ")
  const costNs = Number(cost)
  const candidate = clockCandidates.find((entry) => entry.name === clock)
  if (version !== process.version || candidate === undefined || !(costNs >= 0) || !Number.isFinite(costNs)) return undefined
  return { clock: candidate.name, costNs }
}

export const writeSharedCalibration = (clock: ClockCandidate["name"], costNs: number): void => {
  if (globalThis.process?.env !== undefined) process.env[CALIBRATION_ENV] = `${process.version} ${clock} ${costNs}`
}

/** The clock named (by the caller, else by a parent's hand-off), or the cheapest one measured here. */
export const pickClock = (name?: ClockCandidate["name"]): ClockCandidate =>
  clockCandidates.find((candidate) => candidate.name === (name ?? readSharedCalibration()?.clock)) ?? chooseClock()

/** The probe cost for `clock`: a parent's hand-off when it measured the same clock, else `measure()`, then handed off. */
export const sharedProbeCost = (clock: ClockCandidate["name"], measure: () => number): number => {
  const shared = readSharedCalibration()
  if (shared !== undefined && shared.clock === clock) return shared.costNs
  const costNs = measure()
  writeSharedCalibration(clock, costNs)
  return costNs
}
