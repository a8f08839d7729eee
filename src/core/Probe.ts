/**
 * The probe protocol: the contract between the instrumenter (core/Instrument,
 * which writes calls to these functions into source text) and the recorder
 * (shell/Recorder, which installs them on `globalThis` before any instrumented
 * code runs). Nothing here runs; it only names things, so that both sides agree.
 *
 * Counters live in flat typed arrays indexed by *slot*: one slot per (function,
 * line) pair. Slot 0 is a sink that absorbs the time "before the first line" of a
 * call and is never reported. The recorder hands out slot ranges (`slotBase`)
 * and the instrumenter writes slot numbers as literals, so a probe is one global
 * call with small-integer arguments and no allocation.
 *
 * Time is the recorder's *virtual clock*: real nanoseconds minus the calibrated
 * cost of every probe that ran so far. The difference of two virtual readings is
 * then the time of the user's code alone, callees' probes subtracted too.
 *
 * Sync functions keep their line timer in two locals:
 *
 *   function f(a) { let __lp$l = 0, __lp$t = 0; try { __lp$t = __lp$h(__lp$l, __lp$l = 7, __lp$t); stmt; ... } finally { __lp$x(__lp$l, __lp$t) } }
 *
 * Async functions and generators, which suspend, keep it in a frame:
 *
 *   async function g() { const __lp$f = __lp$F(); try { __lp$H(__lp$f, 9); x = __lp$R(__lp$f, await __lp$S(__lp$f, p)); } finally { __lp$X(__lp$f) } }
 *
 * A suspension need not end in `__lp$R`: when the awaited promise rejects, or
 * a generator is resumed by `throw()`/`return()`, the next probe of the frame
 * (whichever it is: `__lp$H`, `__lp$X`, `__lp$S`, …) finds it suspended and
 * credits the wait.
 *
 * The same calls serve both timing modes of the recorder. Exact timing reads
 * the clock in every probe, as described above. Sampled timing reads none in
 * line events: it relies on the shape of the calls alone. A sync call's first
 * `hit`/`move` has `prevSlot === SINK_SLOT` (its entry) and its `exit` comes
 * in a `finally` (return and throw alike), with `prevSlot === SINK_SLOT` only
 * when no line ran; a frame is entered by `frame`, leaves at `suspend` /
 * `suspendAt` / `frameExit`, and comes back at `resume` or at whichever probe
 * finds it suspended. So a recorder can keep a stack of the current lines
 * without timing anything; the returned `lineStartNs` is then meaningless and
 * only threaded through.
 *
 * Inline probes (`ProbeStyle` "inline", for sampled timing only): a sync
 * function's line events are then no calls at all, but two stores into
 * typed arrays that the recorder puts on `globalThis`: the line's hit
 * counter (`__lp$c`, a Uint32Array on shared memory, which the recorder folds
 * into its hit totals; a 32-bit increment is a third of the cost of a 64-bit
 * float one) and the shadow line stack (`__lp$s`, whose cell 0 is the depth):
 *
 *   function f(a) { const __lp$d = ++__lp$s[0]; try { (__lp$c[7]++, __lp$s[__lp$d] = 7); stmt; ... } finally { __lp$s[0] = __lp$d - 1 } }
 *
 * A move is the stack store alone. Async functions and generators keep the
 * frame calls in both styles. Inline code reads no clock, so it has no exact
 * times: a file instrumented inline, run under exact timing, reports its hits
 * only.
 *
 * Loop headers: `while`/`for`/`do … while` get the probe inside the test
 * (`while (__lp$t = __lp$h(…), test)`), `for-in`/`for-of` one probe before the
 * loop and one at the start of each iteration, so a body run n times gives its
 * header n + 1 hits. A `for` with an init is preceded by a move probe
 * (`__lp$m`/`__lp$M`: the header becomes the current line, no hit), so that the
 * init's time is the header's.
 */

/** Global names the instrumented code calls. Unusual on purpose: they must not clash with user code, even under `with`. */
export const Globals = {
  /** `__lp$h(prevSlot, slot, lineStartNs): nowNs` line event in a sync function: time[prevSlot] += now - lineStartNs; hits[slot]++. */
  hit: "__lp$h",
  /**
   * `__lp$m(prevSlot, slot, lineStartNs): nowNs` like `hit` without the hit: makes `slot` the current line. Put
   * before a `for (init; …)` so that the init runs on the header line, whose hits come from the test probe.
   */
  move: "__lp$m",
  /** `__lp$M(frame, slot): void` the same in an async function or generator. */
  frameMove: "__lp$M",
  /** `__lp$x(prevSlot, lineStartNs): void` sync function exit (return or throw): time[prevSlot] += now - lineStartNs. */
  exit: "__lp$x",
  /** `__lp$F(): Frame` a new frame for one call of an async function or generator. */
  frame: "__lp$F",
  /** `__lp$H(frame, slot): void` line event in an async function or generator. */
  frameHit: "__lp$H",
  /** `__lp$X(frame): void` exit of an async function or generator. */
  frameExit: "__lp$X",
  /** `__lp$S(frame, value): value` about to suspend (await / yield): credits the line's time so far; marks the frame suspended. */
  suspend: "__lp$S",
  /** `__lp$R(frame, value): value` resumed: the time since suspension goes to the line's waitNs. */
  resume: "__lp$R",
  /**
   * `__lp$W(frame, slot, value?): value` `for await` header about to suspend: credit the current line, make `slot`
   * current (no hit), mark suspended; returns `value`. Wraps the iterable (`for await (x of __lp$W(f, 3, it))`) and
   * ends each iteration (`{ __lp$H(f, 3); try { body } finally { __lp$W(f, 3) } }`), so the implicit awaits of the
   * loop are Wait of its header line.
   */
  suspendAt: "__lp$W",
  /**
   * `__lp$D(frame, resumes): Disposable` a resource whose `[Symbol.dispose]()` calls `suspend(frame)` (resumes 0)
   * or `resume(frame)` (resumes 1). The disposal of `await using` declarations awaits where no probe can go, so a
   * statement list that has them declares `using __lp$uN = __lp$D(f, 1)` before the first (disposed after all of
   * them) and `using __lp$uM = __lp$D(f, 0)` after the last (disposed before them): their awaits are Wait of the
   * line current when the block ends. Sync resources add no await, so the order of microtasks is kept.
   */
  disposer: "__lp$D"
} as const

/** Inline probes' globals (see the module comment): the hot hit counters and the shadow line stack. */
export const InlineGlobals = {
  /** `__lp$c[slot]++`: a Uint32Array of hit counts by slot, folded by the recorder into its totals. */
  counts: "__lp$c",
  /** `__lp$s[depth] = slot`: the thread's shadow line stack; cell 0 holds the depth. */
  stack: "__lp$s"
} as const

/** How the instrumenter writes sync functions' line events: calls of the probe globals, or inline stores. */
export type ProbeStyle = "calls" | "inline"

/** Local variable names the instrumenter declares inside each instrumented function. */
export const Locals = {
  /** Current line slot of a sync call. */
  line: "__lp$l",
  /** Virtual time at which the current line of a sync call started. */
  startNs: "__lp$t",
  /** Inline probes: the sync call's own cell of the shadow line stack. */
  depth: "__lp$d",
  /** The frame of an async function or generator call. */
  frame: "__lp$f",
  /** Prefix of the `using` declarations around `await using` (see `Globals.disposer`), numbered in the file. */
  disposer: "__lp$u"
} as const

/**
 * Slot 0 is the sink for the time before the first line of a call. It is
 * never reported, so a recorder may keep its own header there (sampled
 * timing keeps 1 + its sample count in `hits[0]`, its interval in `timeNs[0]`).
 */
export const SINK_SLOT = 0

/** A function the instrumenter instrumented, as reported to the recorder. */
export interface InstrumentedFunction {
  /** Qualified name: `Class.method`, `outer.inner`, `Class.get value`, `outer.<anonymous>`. */
  readonly name: string
  /** 1-based first line of the function (where its head starts). */
  readonly firstLine: number
  /** 1-based last line of the function. */
  readonly lastLine: number
  /** Sorted, unique 1-based line numbers that carry a probe. */
  readonly lines: ReadonlyArray<number>
  /** The slot of each entry of `lines` (same length, same order). */
  readonly slots: ReadonlyArray<number>
}
