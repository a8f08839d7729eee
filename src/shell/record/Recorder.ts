/**
 * The per-thread probe store: the recorder half of core/Probe. `install()`
 * defines the probe functions on `globalThis`; instrumented code calls them
 * and they add hits and nanoseconds into flat typed arrays indexed by slot,
 * with no allocation per line event. `snapshot()` turns the counters into a
 * core `Profile`. Two timing modes (`InstallOptions.timing`):
 *
 * - exact (the default): one clock read per line event. Time is a virtual
 *   clock: real nanoseconds minus the calibrated cost of every probe that ran
 *   so far (compensation, on by default; see Clock), so a line's Time
 *   excludes its own probe and the probes of the profiled callees it ran.
 * - sampled: a line event counts its hit and writes its slot into the
 *   thread's shadow line stack, no clock read; the process's sampler thread
 *   (Sampler) credits time to the lines on the stack. Wait stays exact: the
 *   clock is read at suspension and resumption only. Sampled hits count into
 *   32-bit hot counters (HotCounts), which inline probes (core/Probe) reach
 *   through `globalThis` as they reach the stack; `snapshot` and every other
 *   reader fold them into `hits` first.
 *
 * In both modes a line's Time counts each moment once however deeply it
 * recurses: exact mode keeps a count of the active instances of each line
 * and credits a line only when its outermost instance ends; the sampler
 * credits each distinct line once a sample.
 *
 * The counters live in SharedArrayBuffers and every (re)allocation and file
 * registration is announced to `subscribe`rs, so another thread holding the
 * buffers and the registrations can rebuild this thread's profile with the
 * pure `profileFrom`, even after this thread was terminated. In sampled mode
 * slot 0 (the sink) carries the timing header: `hits[0]` is 1 + the samples
 * taken, `timeNs[0]` the mean sampling interval.
 *
 * One store per thread: the state hangs off `globalThis` under a registered
 * symbol, so two copies of this module loaded in one thread (say, the preload
 * and the application's own import) share one set of counters.
 */
import { Globals, InlineGlobals, SINK_SLOT } from "../../core/Probe.ts"
import * as Counters from "../../core/Counters.ts"
import * as Profile from "../../core/Profile.ts"
import * as CalibrationCache from "./CalibrationCache.ts"
import * as Clock from "./Clock.ts"
import * as HotCounts from "./HotCounts.ts"
import * as Sampler from "./Sampler.ts"

export {
  CALIBRATION_ENV,
  calibrateProbeCost,
  type CalibrationOptions,
  type ClockCandidate,
  clockCandidates,
  measureClockNs
} from "./Clock.ts"

/** How line times are measured: a clock read at each line event, or a sampler thread. */
export type TimingMode = "exact" | "sampled"

/** What the loader registers for each instrumented file (see core/Counters). */
export type FileRegistration = Counters.FileRegistration

/** Announced to subscribers; both carry only structured-cloneable values. */
export type RecorderEvent =
  | {
    readonly _tag: "Buffers"
    /** Counters indexed by slot, over SharedArrayBuffers (fresh arrays after each growth). */
    readonly hits: Float64Array
    readonly timeNs: Float64Array
    readonly waitNs: Float64Array
    /** Sampled mode's line events count here: fold them into `hits` (HotCounts.fold) before reading it. */
    readonly hot: HotCounts.HotCounts
  }
  | { readonly _tag: "File"; readonly file: FileRegistration }

export interface InstallOptions {
  /** Subtract the calibrated probe cost (default true; exact mode only). */
  readonly compensate?: boolean
  /** Use this clock instead of measuring the candidates (first install only; for benchmarks). */
  readonly clock?: Clock.ClockCandidate["name"]
  /**
   * The clock seam: read this instead of a real clock (tests drive Time and
   * Wait with a clock they advance by hand). Replaces the clock on each
   * install that gives it; compensation is then off unless asked for.
   */
  readonly readNs?: () => number
  /** "exact" (default) or "sampled". A later install may switch, between calls of instrumented code. */
  readonly timing?: TimingMode
  /** Sampled mode: the mean interval between samples (default `Sampler.DEFAULT_INTERVAL_NS`). */
  readonly sampleIntervalNs?: number
}

export interface SnapshotOptions {
  /** Also list registered functions that never ran (with no lines). Default false. */
  readonly includeUncalled?: boolean
}

// ---------------------------------------------------------------------------
// The store (one per thread)

/** One call of an async function or generator. */
class Frame {
  slot = SINK_SLOT
  startNs: number
  /** Whether the call is suspended (at await/yield) since `suspendedNs`. */
  suspended = false
  /** Virtual time at which the call suspended (virtual time may be negative: no sentinel values). */
  suspendedNs = 0
  /** Sampled mode: the frame's entry in the shadow stack while it runs. */
  index = 0
  constructor(startNs: number) {
    this.startNs = startNs
  }
}

const INITIAL_SLOTS = 1024
/** Sampled mode starts larger: a growth lets the sampler write to the old arrays until it hears of the new ones. */
const INITIAL_SAMPLED_SLOTS = 65_536
const DEBT = 0
const COST = 1

const makeStore = () => {
  let capacity = 0
  let nextSlot = SINK_SLOT + 1
  let hits: Float64Array = new Float64Array(0)
  let timeNs: Float64Array = new Float64Array(0)
  let waitNs: Float64Array = new Float64Array(0)
  /** Sampled mode's hit counters (see HotCounts), folded into `hits`; `counts` is `hot.counts`. */
  let hot: HotCounts.HotCounts = HotCounts.make(0)
  let counts: Uint32Array = hot.counts
  /** Exact mode: how many instances of each line are current (recursion); a line's time is added when its count drops to 0. */
  let active: Int32Array = new Int32Array(0)
  /** Sampled mode: the shadow line stack the sampler reads (see Sampler.STACK_SLOTS). */
  const stack = new Int32Array(new SharedArrayBuffer((Sampler.STACK_SLOTS + 1) * Int32Array.BYTES_PER_ELEMENT))
  let readNs: () => number = Clock.clockCandidates[0]!.readNs
  let clockName: Clock.ClockCandidate["name"] | undefined
  /** Whether the clock is one a caller gave (`InstallOptions.readNs`). */
  let seam = false
  let mode: TimingMode = "exact"
  let intervalNs = Sampler.DEFAULT_INTERVAL_NS
  let attached = false
  // The probe cost and the debt live in a typed array, not in closure
  // variables: writing a changing double into a closure slot allocates a heap
  // number on each probe event, a typed-array element does not.
  /** [DEBT]: the summed cost of all probe events so far (virtual now = readNs() - debt); [COST]: ns per probe event. */
  const clockState = new Float64Array(2)
  let installed = false
  let installedAtNs = 0
  let calibratedNs: number | undefined
  const files: Array<FileRegistration> = []
  const listeners = new Set<(event: RecorderEvent) => void>()

  const emit = (event: RecorderEvent): void => {
    for (const listener of listeners) listener(event)
  }
  const buffersEvent = (): RecorderEvent => ({ _tag: "Buffers", hits, timeNs, waitNs, hot })

  /** The inline probes' globals (core/Probe): defined in both modes, so that inline code never meets an undefined name. */
  const defineInlineGlobal = (name: string, value: unknown): void => {
    Object.defineProperty(globalThis, name, { value, writable: false, enumerable: false, configurable: true })
  }

  /** Sampled mode's timing header in slot 0 (see the module doc); the sampler keeps counting into hits[0]. */
  const writeHeader = (): void => {
    if (mode !== "sampled") return
    if (!(hits[SINK_SLOT]! >= 1)) hits[SINK_SLOT] = 1
    timeNs[SINK_SLOT] = intervalNs
  }

  const grow = (needed: number): void => {
    let size = Math.max(mode === "sampled" ? INITIAL_SAMPLED_SLOTS : INITIAL_SLOTS, capacity)
    while (size < needed) size *= 2
    const fresh = (old: Float64Array): Float64Array => {
      const array = new Float64Array(new SharedArrayBuffer(size * Float64Array.BYTES_PER_ELEMENT))
      array.set(old)
      return array
    }
    // Folded into the old totals first, then copied with them.
    hot = HotCounts.make(size, capacity === 0 ? undefined : { hot, hits })
    counts = hot.counts
    // Only the counters are new: redefining the stack too would make V8 drop the code that embedded it.
    if (installed) defineInlineGlobal(InlineGlobals.counts, counts)
    hits = fresh(hits)
    timeNs = fresh(timeNs)
    waitNs = fresh(waitNs)
    const instances = new Int32Array(size)
    instances.set(active)
    active = instances
    capacity = size
    if (attached) Sampler.update(hits, timeNs, hot)
    emit(buffersEvent())
  }

  // -- exact probes (hot: one clock read, no allocation) --------------------

  const hit = (prevSlot: number, slot: number, lineStartNs: number): number => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    if (--active[prevSlot]! <= 0) {
      active[prevSlot] = 0
      timeNs[prevSlot]! += now - lineStartNs
    }
    active[slot]!++
    hits[slot]!++
    return now
  }
  const move = (prevSlot: number, slot: number, lineStartNs: number): number => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    if (--active[prevSlot]! <= 0) {
      active[prevSlot] = 0
      timeNs[prevSlot]! += now - lineStartNs
    }
    active[slot]!++
    return now
  }
  const exit = (prevSlot: number, lineStartNs: number): void => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    if (--active[prevSlot]! <= 0) {
      active[prevSlot] = 0
      timeNs[prevSlot]! += now - lineStartNs
    }
  }
  /** Ends the frame's current line at `now` (as Wait if it was suspended); the caller makes a line current again. */
  const credit = (frame: Frame, now: number): void => {
    if (frame.suspended) {
      waitNs[frame.slot]! += now - frame.suspendedNs
      frame.suspended = false
    } else if (--active[frame.slot]! <= 0) {
      active[frame.slot] = 0
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
    active[slot]!++
    hits[slot]!++
    frame.startNs = now
  }
  const frameMove = (frame: Frame, slot: number): void => {
    const now = readNs() - clockState[DEBT]!
    clockState[DEBT]! += clockState[COST]!
    credit(frame, now)
    frame.slot = slot
    active[slot]!++
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
    active[frame.slot]!++
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

  /** The disposer probe over a mode's resume and suspend (see Globals.disposer). */
  const disposerOf = (
    resumeProbe: (frame: Frame, value: undefined) => unknown,
    suspendProbe: (frame: Frame, value: undefined) => unknown
  ) =>
  (frame: Frame, resumes: number): Disposable => ({
    [Symbol.dispose]: resumes === 1 ? () => void resumeProbe(frame, undefined) : () => void suspendProbe(frame, undefined)
  })

  const exactProbes: Record<(typeof Globals)[keyof typeof Globals], Function> = {
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
    [Globals.disposer]: disposerOf(resume, suspend)
  }

  // -- sampled probes (hot: no clock read, no allocation) -------------------
  // A sync call pushes at its first line event (prevSlot is the sink) and pops
  // at its exit when it got that far; a frame pushes when it starts or
  // resumes and pops when it suspends or exits. A write past the end of the
  // stack is dropped by the typed array: the depth still counts. The depth
  // is the stack's cell 0, which inline probes (core/Probe) move too. Hits
  // go to the hot counters (HotCounts), as inline probes' do.

  const sampledHit = (prevSlot: number, slot: number, _lineStartNs: number): number => {
    counts[slot]!++
    if (prevSlot === SINK_SLOT) stack[++stack[0]!] = slot
    else stack[stack[0]!] = slot
    return 0
  }
  const sampledMove = (prevSlot: number, slot: number, _lineStartNs: number): number => {
    if (prevSlot === SINK_SLOT) stack[++stack[0]!] = slot
    else stack[stack[0]!] = slot
    return 0
  }
  const sampledExit = (prevSlot: number, _lineStartNs: number): void => {
    if (prevSlot !== SINK_SLOT) stack[0]!--
  }
  const push = (frame: Frame): void => {
    const depth = ++stack[0]!
    stack[depth] = frame.slot
    frame.index = depth
  }
  /** A frame found suspended runs again: its wait ends now, and it is back on the stack. */
  const wake = (frame: Frame): void => {
    waitNs[frame.slot]! += readNs() - frame.suspendedNs
    frame.suspended = false
    push(frame)
  }
  const sleep = (frame: Frame): void => {
    frame.suspended = true
    frame.suspendedNs = readNs()
    stack[0] = frame.index - 1
  }
  const sampledFrameNew = (): Frame => {
    const frame = new Frame(0)
    push(frame)
    return frame
  }
  const sampledFrameHit = (frame: Frame, slot: number): void => {
    if (frame.suspended) wake(frame)
    frame.slot = slot
    stack[frame.index] = slot
    counts[slot]!++
  }
  const sampledFrameMove = (frame: Frame, slot: number): void => {
    if (frame.suspended) wake(frame)
    frame.slot = slot
    stack[frame.index] = slot
  }
  const sampledFrameExit = (frame: Frame): void => {
    if (frame.suspended) {
      waitNs[frame.slot]! += readNs() - frame.suspendedNs
      frame.suspended = false
    } else stack[0] = frame.index - 1
  }
  const sampledSuspend = <A>(frame: Frame, value: A): A => {
    if (frame.suspended) wake(frame)
    sleep(frame)
    return value
  }
  const sampledResume = <A>(frame: Frame, value: A): A => {
    if (frame.suspended) wake(frame)
    return value
  }
  const sampledSuspendAt = <A>(frame: Frame, slot: number, value?: A): A | undefined => {
    if (frame.suspended) wake(frame)
    frame.slot = slot
    stack[frame.index] = slot
    sleep(frame)
    return value
  }

  const sampledProbes: Record<(typeof Globals)[keyof typeof Globals], Function> = {
    [Globals.hit]: sampledHit,
    [Globals.move]: sampledMove,
    [Globals.frameMove]: sampledFrameMove,
    [Globals.exit]: sampledExit,
    [Globals.frame]: sampledFrameNew,
    [Globals.frameHit]: sampledFrameHit,
    [Globals.frameExit]: sampledFrameExit,
    [Globals.suspend]: sampledSuspend,
    [Globals.resume]: sampledResume,
    [Globals.suspendAt]: sampledSuspendAt,
    [Globals.disposer]: disposerOf(sampledResume, sampledSuspend)
  }

  const defineProbes = (probes: Record<string, Function>): void => {
    for (const [name, probe] of Object.entries(probes)) {
      Object.defineProperty(globalThis, name, { value: probe, writable: false, enumerable: false, configurable: true })
    }
  }

  /** The calibrated cost of one sync line event of the installed exact `hit` (see Clock.calibrateInstalledProbe). */
  const calibrate = (): number => {
    const saved = clockState[COST]!
    clockState[COST] = 0
    const costNs = Clock.calibrateInstalledProbe(Globals.hit, readNs)
    clockState[COST] = saved
    hits[SINK_SLOT] = 0
    timeNs[SINK_SLOT] = 0
    active[SINK_SLOT] = 0
    return costNs
  }

  const sampledTiming = (): Profile.Timing => ({
    mode: "sampled",
    intervalNs: timeNs[SINK_SLOT]! > 0 ? timeNs[SINK_SLOT]! : intervalNs,
    samples: BigInt(Math.max(0, Math.round(hits[SINK_SLOT]!) - 1))
  })

  return {
    install(options: InstallOptions = {}): void {
      const wanted = options.timing ?? (installed ? mode : "exact")
      if (options.sampleIntervalNs !== undefined) intervalNs = options.sampleIntervalNs
      if (options.readNs !== undefined) {
        readNs = options.readNs
        clockName = undefined
        seam = true
      } else if (options.clock !== undefined && options.clock !== clockName) {
        clockName = undefined
        calibratedNs = undefined
        seam = false
      }
      if (!installed) {
        // A calibration cached on this machine (same Node, CPU and lineprof) becomes the parent's hand-off.
        CalibrationCache.adopt()
        installedAtNs = Clock.clockCandidates[0]!.readNs()
        mode = wanted
        if (capacity === 0) grow(mode === "sampled" ? INITIAL_SAMPLED_SLOTS : INITIAL_SLOTS)
        installed = true
        defineInlineGlobal(InlineGlobals.counts, counts)
        defineInlineGlobal(InlineGlobals.stack, stack)
      } else if (wanted !== mode) {
        // Counters stay; the next snapshot reports the new mode. Calls in flight across the switch are not measured right.
        mode = wanted
        if (mode === "exact") {
          hits[SINK_SLOT] = 0
          timeNs[SINK_SLOT] = 0
        }
      }
      if (mode === "sampled") {
        writeHeader()
        defineProbes(sampledProbes)
        if (!attached) {
          attached = true
          try {
            Sampler.attach({ stack, hits, timeNs, hot }, intervalNs)
          } catch (error) {
            // Hits stay exact without a sampler; say once why the times are 0.
            const reason = String((error as Error)?.message ?? error).split("\n")[0]
            globalThis.process?.stderr?.write(`lineprof: sampled timing: cannot start the sampler thread (${reason}); line times will be 0\n`)
          }
        }
        return
      }
      if (!seam && clockName === undefined) {
        const best = Clock.pickClock(options.clock)
        readNs = best.readNs
        clockName = best.name
      }
      defineProbes(exactProbes)
      if (options.compensate === false || (seam && options.compensate !== true)) clockState[COST] = 0
      else if (seam) clockState[COST] = calibrate()
      else {
        const name = clockName!
        calibratedNs ??= Clock.sharedProbeCost(name, () => {
          const costNs = calibrate()
          // A clock forced by the caller (benchmarks) is not this machine's choice: not cached.
          if (options.clock === undefined) CalibrationCache.save({ clock: name, costNs })
          return costNs
        })
        clockState[COST] = calibratedNs
      }
    },
    isInstalled: (): boolean => installed,
    allocateSlots(count: number): number {
      if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`allocateSlots: count must be a non-negative integer, got ${count}`)
      const base = nextSlot
      nextSlot += count
      if (nextSlot > capacity) grow(nextSlot)
      HotCounts.setUsed(hot, nextSlot)
      return base
    },
    nextSlot: (): number => nextSlot,
    registerFile(registration: FileRegistration): void {
      files.push(registration)
      emit({ _tag: "File", file: registration })
    },
    snapshot(options: SnapshotOptions = {}): Profile.Profile {
      HotCounts.fold(hot, hits)
      const profile = profileFrom(files, hits, timeNs, waitNs, options)
      if (mode !== "exact" || profile.functions.length === 0 || !(clockState[COST]! > 0) || !Number.isFinite(clockState[DEBT]!)) return profile
      // The probes' share of this thread's time, for the report's hint (only the live thread knows it).
      const probeNs = BigInt(Math.round(clockState[DEBT]!))
      const wallNs = BigInt(Math.max(0, Math.round(Clock.clockCandidates[0]!.readNs() - installedAtNs)))
      return Profile.make(profile.functions, { mode: "exact", probeNs, wallNs })
    },
    reset(): void {
      // Whatever the hot counters gained goes to `hits` first, and is zeroed with it.
      HotCounts.fold(hot, hits)
      hits.fill(0)
      timeNs.fill(0)
      waitNs.fill(0)
      writeHeader()
    },
    probeCostNs: (): number => (mode === "exact" ? clockState[COST]! : 0),
    clockName: (): Clock.ClockCandidate["name"] => clockName ?? Clock.clockCandidates[0]!.name,
    timing: (): TimingMode => mode,
    timingNow: (): Profile.Timing => (mode === "sampled" ? sampledTiming() : Profile.exactTiming),
    stackDepth: (): number => stack[0]!,
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
 * Defines the probe globals of core/Probe on `globalThis` (once per thread).
 * Exact timing (the default) picks the cheapest monotonic clock and
 * calibrates the probe cost (10 to 50 ms) unless `compensate` is false, or
 * takes both from `CALIBRATION_ENV` when a parent thread or process of this
 * run measured them. Sampled timing attaches the thread to the process's
 * sampler instead. Idempotent; a later call may switch compensation, the
 * clock seam or the timing mode.
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
export const clockName = (): Clock.ClockCandidate["name"] => store.clockName()

/** The timing mode of this thread's probes ("exact" before `install`). */
export const timing = (): TimingMode => store.timing()

/** The timing the counters mean now (sampled: the samples so far). */
export const timingNow = (): Profile.Timing => store.timingNow()

/** Sampled mode: the depth of this thread's shadow line stack (0 when no profiled frame runs). */
export const stackDepth = (): number => store.stackDepth()

/** The files registered so far in this thread. */
export const registrations = (): ReadonlyArray<FileRegistration> => store.registrations()

/**
 * Calls `listener` with the current buffers and every registration so far,
 * then on each buffer (re)allocation and registration. Returns unsubscribe.
 */
export const subscribe = (listener: (event: RecorderEvent) => void): (() => void) => store.subscribe(listener)

// ---------------------------------------------------------------------------
// Counters + registrations → Profile (pure, in core/Counters)

/** A registration's source lines, split once: every flush rebuilds the profile. */
const linesCache = new WeakMap<FileRegistration, ReadonlyArray<string>>()
const cachedLines = (registration: FileRegistration): ReadonlyArray<string> => {
  let lines = linesCache.get(registration)
  if (lines === undefined) {
    lines = Counters.sourceLines(registration)
    linesCache.set(registration, lines)
  }
  return lines
}

/** `Counters.profileFrom` with this module's memo of source lines. */
export const profileFrom = (
  files: ReadonlyArray<FileRegistration>,
  hitsArray: ArrayLike<number>,
  timeArray: ArrayLike<number>,
  waitArray: ArrayLike<number>,
  options: SnapshotOptions = {}
): Profile.Profile => Counters.profileFrom(files, hitsArray, timeArray, waitArray, { ...options, linesOf: cachedLines })

export const timingFrom = Counters.timingFrom
