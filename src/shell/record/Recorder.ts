/**
 * The per-thread probe store: the recorder half of core/Probe. `install()`
 * defines the probe functions on `globalThis`; instrumented code calls them
 * and they add hits and nanoseconds into flat typed arrays indexed by slot,
 * with one clock read per line event and no allocation per line event.
 * `snapshot()` turns the counters into a core `Profile`.
 *
 * Time is a virtual clock: real nanoseconds minus the calibrated cost of every
 * probe that ran so far (compensation, on by default), so a line's Time
 * excludes its own probe and the probes of the profiled callees it ran.
 *
 * The counters live in SharedArrayBuffers and every (re)allocation and file
 * registration is announced to `subscribe`rs, so another thread holding the
 * buffers and the registrations can rebuild this thread's profile with the
 * pure `profileFrom`, even after this thread was terminated.
 *
 * One store per thread: the state hangs off `globalThis` under a registered
 * symbol, so two copies of this module loaded in one thread (say, the preload
 * and the application's own import) share one set of counters.
 */
import { Globals, SINK_SLOT, type InstrumentedFunction } from "../../core/Probe.ts"
import * as Profile from "../../core/Profile.ts"
import * as CalibrationCache from "./CalibrationCache.ts"

/** What the loader registers for each instrumented file. */
export interface FileRegistration {
  /** Absolute path (or URL) of the file, as it goes into the profile. */
  readonly file: string
  /** Hash of the whole source text (part of each function's identity). */
  readonly fileHash: string
  /** The original (uninstrumented) source text: the report shows its lines. */
  readonly sourceText: string
  readonly functions: ReadonlyArray<InstrumentedFunction>
}

/** Announced to subscribers; both carry only structured-cloneable values. */
export type RecorderEvent =
  | {
    readonly _tag: "Buffers"
    /** Counters indexed by slot, over SharedArrayBuffers (fresh arrays after each growth). */
    readonly hits: Float64Array
    readonly timeNs: Float64Array
    readonly waitNs: Float64Array
  }
  | { readonly _tag: "File"; readonly file: FileRegistration }

export interface InstallOptions {
  /** Subtract the calibrated probe cost (default true). */
  readonly compensate?: boolean
  /** Use this clock instead of measuring the candidates (first install only; for benchmarks). */
  readonly clock?: ClockCandidate["name"]
}

export interface SnapshotOptions {
  /** Also list registered functions that never ran (with no lines). Default false. */
  readonly includeUncalled?: boolean
}

/** A clock the recorder can read: monotonic nanoseconds as a double. */
export interface ClockCandidate {
  readonly name: "performance.now" | "process.hrtime" | "process.hrtime.bigint"
  readonly readNs: () => number
}

/** The candidate clocks, all monotonic; `install` measures their line probes and keeps the cheapest. */
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
    if (elapsedNs >= maxNs) break
    if (round >= minRounds && elapsedNs >= budgetNs && round - settledSince >= round >> 1) break
  }
  return Math.max(0, (bestProbed - bestPlain) / n)
}

/**
 * The environment variable through which the first calibrated thread of a run
 * hands its clock and probe cost to the threads and child processes it starts
 * (they inherit the environment): `<node version> <clock> <ns>`. Calibrating
 * takes tens of ms on a busy machine; the same Node binary on the same machine
 * pays the same probe cost. A value from another Node version is ignored.
 */
export const CALIBRATION_ENV = "LINEPROF_CALIBRATION"

const readSharedCalibration = (): { readonly clock: ClockCandidate["name"]; readonly costNs: number } | undefined => {
  const value = globalThis.process?.env?.[CALIBRATION_ENV]
  if (value === undefined) return undefined
  const [version, clock, cost] = value.split(" ")
  const costNs = Number(cost)
  const candidate = clockCandidates.find((entry) => entry.name === clock)
  if (version !== process.version || candidate === undefined || !(costNs >= 0) || !Number.isFinite(costNs)) return undefined
  return { clock: candidate.name, costNs }
}

const writeSharedCalibration = (clock: ClockCandidate["name"], costNs: number): void => {
  if (globalThis.process?.env !== undefined) process.env[CALIBRATION_ENV] = `${process.version} ${clock} ${costNs}`
}

// ---------------------------------------------------------------------------
// The store (one per thread)

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
 * A loop of `n` iterations with one line probe each, written as the
 * instrumenter writes a sync function's probe: the global `probeName` called
 * with the line locals, `slot` as the literal slot.
 */
const makeProbedLoop = (probeName: string, slot: number): ((n: number) => number) =>
  new Function(
    "n",
    `let __lp$l = 0, __lp$t = 0, acc = 0
     for (let i = 0; i < n; i++) { __lp$t = ${probeName}(__lp$l, __lp$l = ${slot}, __lp$t); acc += i }
     return acc`
  ) as (n: number) => number

/** One call of an async function or generator. */
class Frame {
  slot = SINK_SLOT
  startNs: number
  /** Whether the call is suspended (at await/yield) since `suspendedNs`. */
  suspended = false
  /** Virtual time at which the call suspended (virtual time may be negative: no sentinel values). */
  suspendedNs = 0
  constructor(startNs: number) {
    this.startNs = startNs
  }
}

const INITIAL_SLOTS = 1024
/** Choosing the clock runs for about this long (and at least 40 rounds), at most for the max. */
const CLOCK_CHOICE_BUDGET_NS = 8e6
const CLOCK_CHOICE_MAX_NS = 30e6
const DEBT = 0
const COST = 1

const makeStore = () => {
  let capacity = 0
  let nextSlot = SINK_SLOT + 1
  let hits: Float64Array = new Float64Array(0)
  let timeNs: Float64Array = new Float64Array(0)
  let waitNs: Float64Array = new Float64Array(0)
  let readNs: () => number = clockCandidates[0]!.readNs
  let clockName: ClockCandidate["name"] = clockCandidates[0]!.name
  // The probe cost and the debt live in a typed array, not in closure
  // variables: writing a changing double into a closure slot allocates a heap
  // number on each probe event, a typed-array element does not.
  /** [DEBT]: the summed cost of all probe events so far (virtual now = readNs() - debt); [COST]: ns per probe event. */
  const clockState = new Float64Array(2)
  let installed = false
  let calibratedNs: number | undefined
  const files: Array<FileRegistration> = []
  const listeners = new Set<(event: RecorderEvent) => void>()

  const emit = (event: RecorderEvent): void => {
    for (const listener of listeners) listener(event)
  }
  const buffersEvent = (): RecorderEvent => ({ _tag: "Buffers", hits, timeNs, waitNs })

  const grow = (needed: number): void => {
    let size = Math.max(INITIAL_SLOTS, capacity)
    while (size < needed) size *= 2
    const fresh = (old: Float64Array): Float64Array => {
      const array = new Float64Array(new SharedArrayBuffer(size * Float64Array.BYTES_PER_ELEMENT))
      array.set(old)
      return array
    }
    hits = fresh(hits)
    timeNs = fresh(timeNs)
    waitNs = fresh(waitNs)
    capacity = size
    emit(buffersEvent())
  }

  // -- the probes (hot: one clock read, no allocation) ----------------------

  const hit = (prevSlot: number, slot: number, lineStartNs: number): number => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    timeNs[prevSlot]! += now - lineStartNs
    hits[slot]!++
    return now
  }
  const move = (prevSlot: number, _slot: number, lineStartNs: number): number => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    timeNs[prevSlot]! += now - lineStartNs
    return now
  }
  const exit = (prevSlot: number, lineStartNs: number): void => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    timeNs[prevSlot]! += now - lineStartNs
  }
  /** Credits the frame's current line up to `now` (as Wait if it was suspended). */
  const credit = (frame: Frame, now: number): void => {
    if (frame.suspended) {
      waitNs[frame.slot]! += now - frame.suspendedNs
      frame.suspended = false
    } else {
      timeNs[frame.slot]! += now - frame.startNs
    }
  }
  const frameNew = (): Frame => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    return new Frame(now)
  }
  const frameHit = (frame: Frame, slot: number): void => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    credit(frame, now)
    frame.slot = slot
    hits[slot]!++
    frame.startNs = now
  }
  const frameMove = (frame: Frame, slot: number): void => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    credit(frame, now)
    frame.slot = slot
    frame.startNs = now
  }
  const frameExit = (frame: Frame): void => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    credit(frame, now)
    frame.startNs = now
  }
  const suspend = <A>(frame: Frame, value: A): A => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    credit(frame, now)
    frame.suspended = true
    frame.suspendedNs = now
    return value
  }
  const resume = <A>(frame: Frame, value: A): A => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    credit(frame, now)
    frame.startNs = now
    return value
  }
  const suspendAt = <A>(frame: Frame, slot: number, value?: A): A | undefined => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    credit(frame, now)
    frame.slot = slot
    frame.suspended = true
    frame.suspendedNs = now
    return value
  }

  const disposer = (frame: Frame, resumes: number): Disposable => ({
    [Symbol.dispose]: resumes === 1 ? () => void resume(frame, undefined) : () => void suspend(frame, undefined)
  })

  const probes: Record<(typeof Globals)[keyof typeof Globals], Function> = {
    [Globals.hit]: hit,
    [Globals.move]: move,
    [Globals.frameMove]: frameMove,
    [Globals.exit]: exit,
    [Globals.frame]: frameNew,
    [Globals.frameHit]: frameHit,
    [Globals.frameExit]: frameExit,
    [Globals.suspend]: suspend,
    [Globals.resume]: resume,
    [Globals.suspendAt]: suspendAt,
    [Globals.disposer]: disposer
  }

  /**
   * Cost of one sync line event as instrumented code pays it (global lookup,
   * call, clock read, two adds, assignments): see `calibrateProbeCost`.
   */
  const calibrate = (): number => {
    const probed = makeProbedLoop(Globals.hit, SINK_SLOT)
    const plain = new Function("n", "let acc = 0; for (let i = 0; i < n; i++) { acc += i } return acc") as (
      n: number
    ) => number
    const saved = clockState[COST]!
    clockState[COST] = 0
    const costNs = calibrateProbeCost({ readNs, probed, plain })
    clockState[COST] = saved
    hits[SINK_SLOT] = 0
    timeNs[SINK_SLOT] = 0
    return costNs
  }

  /**
   * The clock whose line probe is cheapest, measured in place: a probe of the
   * same shape as `hit` per candidate, called from a loop as instrumented code
   * calls it, in interleaved rounds. Candidates are compared by their total
   * over the later half of the rounds (the earlier ones measure which loop V8
   * optimised first), so that the garbage of the allocating clocks (an array
   * or a BigInt per read) is paid for by the scavenges it causes.
   */
  const chooseClock = (): ClockCandidate => {
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

  return {
    install(options: InstallOptions = {}): void {
      if (!installed) {
        CalibrationCache.adopt()
        if (capacity === 0) grow(INITIAL_SLOTS)
        const best =
          clockCandidates.find((candidate) => candidate.name === (options.clock ?? readSharedCalibration()?.clock)) ??
          chooseClock()
        readNs = best.readNs
        clockName = best.name
        for (const [name, probe] of Object.entries(probes)) {
          Object.defineProperty(globalThis, name, { value: probe, writable: false, enumerable: false, configurable: true })
        }
        installed = true
      }
      if (options.compensate === false) clockState[COST] = 0
      else {
        if (calibratedNs === undefined) {
          const shared = readSharedCalibration()
          if (shared !== undefined && shared.clock === clockName) calibratedNs = shared.costNs
          else {
            calibratedNs = calibrate()
            writeSharedCalibration(clockName, calibratedNs)
            if (options.clock === undefined) CalibrationCache.save({ clock: clockName, costNs: calibratedNs })
          }
        }
        clockState[COST] = calibratedNs
      }
    },
    isInstalled: (): boolean => installed,
    allocateSlots(count: number): number {
      if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`allocateSlots: count must be a non-negative integer, got ${count}`)
      const base = nextSlot
      nextSlot += count
      if (nextSlot > capacity) grow(nextSlot)
      return base
    },
    nextSlot: (): number => nextSlot,
    registerFile(registration: FileRegistration): void {
      files.push(registration)
      emit({ _tag: "File", file: registration })
    },
    snapshot: (options: SnapshotOptions = {}): Profile.Profile => profileFrom(files, hits, timeNs, waitNs, options),
    reset(): void {
      hits.fill(0)
      timeNs.fill(0)
      waitNs.fill(0)
    },
    probeCostNs: (): number => clockState[COST]!,
    clockName: (): ClockCandidate["name"] => clockName,
    subscribe(listener: (event: RecorderEvent) => void): () => void {
      listeners.add(listener)
      if (capacity > 0) listener(buffersEvent())
      for (const file of files) listener({ _tag: "File", file })
      return () => {
        listeners.delete(listener)
      }
    },
    registrations: (): ReadonlyArray<FileRegistration> => files.slice()
  }
}

type Store = ReturnType<typeof makeStore>

const STORE_KEY = Symbol.for("lineprof.recorder.v1")
const store: Store = ((globalThis as any)[STORE_KEY] ??= makeStore())

// ---------------------------------------------------------------------------
// The API

/**
 * Defines the probe globals of core/Probe on `globalThis` (once per thread),
 * picks the cheapest monotonic clock and calibrates the probe cost (10 to 50
 * ms) unless `compensate` is false, or takes both from `CALIBRATION_ENV` when
 * a parent thread or process of this run measured them. Idempotent; a later call may switch
 * compensation on or off.
 */
export const install = (options?: InstallOptions): void => store.install(options)

/** Whether `install` ran in this thread. */
export const isInstalled = (): boolean => store.isInstalled()

/** Reserves `count` slots and returns the first (a file's `slotBase`); slot 0 is the sink, so the first base is 1. */
export const allocateSlots = (count: number): number => store.allocateSlots(count)

/** The slotBase the next `allocateSlots` will return (instrument first, then allocate `slotCount`). */
export const nextSlot = (): number => store.nextSlot()

/** Records an instrumented file's functions and source, for `snapshot`. */
export const registerFile = (registration: FileRegistration): void => store.registerFile(registration)

/**
 * The profile so far: counters rounded to integer ns, negative compensated
 * values clamped to 0; only functions with at least one hit unless
 * `includeUncalled`.
 */
export const snapshot = (options?: SnapshotOptions): Profile.Profile => store.snapshot(options)

/** Zeroes every counter; registrations and slots stay. */
export const reset = (): void => store.reset()

/** The calibrated cost of one probe event in ns (0 when compensation is off or before `install`). */
export const probeCostNs = (): number => store.probeCostNs()

/** The clock `install` chose. */
export const clockName = (): ClockCandidate["name"] => store.clockName()

/** The files registered so far in this thread. */
export const registrations = (): ReadonlyArray<FileRegistration> => store.registrations()

/**
 * Calls `listener` with the current buffers and every registration so far,
 * then on each buffer (re)allocation and registration. Returns unsubscribe.
 */
export const subscribe = (listener: (event: RecorderEvent) => void): (() => void) => store.subscribe(listener)

// ---------------------------------------------------------------------------
// Pure: counters + registrations → Profile

const LINE_BREAK = /\r\n|[\n\r\u2028\u2029]/
const linesCache = new WeakMap<FileRegistration, ReadonlyArray<string>>()
const sourceLines = (registration: FileRegistration): ReadonlyArray<string> => {
  let lines = linesCache.get(registration)
  if (lines === undefined) {
    lines = registration.sourceText.split(LINE_BREAK)
    linesCache.set(registration, lines)
  }
  return lines
}

const toNs = (value: number | undefined): bigint =>
  value === undefined || !(value > 0) ? 0n : BigInt(Math.round(value))

/**
 * Builds the profile that the counters mean, given the registrations. Pure:
 * works on copies of another thread's buffers just as on the live ones.
 * A line is listed when it was hit; a function when one of its lines was
 * (or always, with `includeUncalled`).
 */
export const profileFrom = (
  files: ReadonlyArray<FileRegistration>,
  hitsArray: ArrayLike<number>,
  timeArray: ArrayLike<number>,
  waitArray: ArrayLike<number>,
  options: SnapshotOptions = {}
): Profile.Profile => {
  const functions: Array<Profile.FunctionProfile> = []
  for (const registration of files) {
    for (const fn of registration.functions) {
      const lines: Array<Profile.LineStats> = []
      for (let k = 0; k < fn.lines.length; k++) {
        const slot = fn.slots[k]!
        const hits = hitsArray[slot]
        if (hits === undefined || !(hits > 0)) continue
        lines.push(Profile.makeLine(fn.lines[k]!, { hits: BigInt(Math.round(hits)), timeNs: toNs(timeArray[slot]), waitNs: toNs(waitArray[slot]) }))
      }
      if (lines.length === 0 && options.includeUncalled !== true) continue
      const all = sourceLines(registration)
      const source: Array<string> = []
      for (let lineNo = fn.firstLine; lineNo <= fn.lastLine; lineNo++) source.push(all[lineNo - 1] ?? "")
      functions.push({
        file: registration.file,
        name: fn.name,
        firstLine: fn.firstLine,
        lastLine: fn.lastLine,
        fileHash: registration.fileHash,
        source,
        lines
      })
    }
  }
  return Profile.make(functions)
}
