/**
 * The profile: what lineprof measured, as one immutable value. A profile maps
 * functions to per-line stats; every output format is a pure function of it,
 * and `ProfileReducer` is the merge monoid that folds the profiles of many workers
 * into one.
 *
 * Counters are `bigint` integers (hits and nanoseconds), so merging is exact
 * at any size: no rounding, no overflow, and the order in which workers finish
 * never changes a byte of the report. Profiles are kept in a canonical form
 * (functions sorted by `compareFunctions`, lines sorted by line number, no duplicate
 * keys), so two profiles that mean the same thing are structurally equal.
 *
 * Laws, checked by property tests in test/core/Profile.test.ts:
 * - `combine(a, combine(b, c))` equals `combine(combine(a, b), c)`
 * - `combine(a, b)` equals `combine(b, a)`
 * - `combine(empty, a)` equals `a`
 *
 * A function is identified by its file, qualified name, first line and the
 * hash of its file's source text. Functions whose hash differs are different
 * functions: they are never summed into lines that may mean other code.
 */
import * as Reducer from "effect/Reducer"

/** The counters of one line of one function. */
export interface LineStats {
  /** 1-based line number in the function's file. */
  readonly lineNo: number
  /** How many times execution arrived at a statement starting on this line. */
  readonly hits: bigint
  /** Time from the line's start to the next line, return, throw or suspension, callees included. */
  readonly timeNs: bigint
  /** Time suspended at `await` / `yield` on this line (0 for sync code). */
  readonly waitNs: bigint
}

/** One profiled function and the stats of its lines. */
export interface FunctionProfile {
  /** The file as recorded: an absolute path, a URL, or a relative name (Python dumps). */
  readonly file: string
  /** Qualified name: `Class.method`, `outer.inner`. */
  readonly name: string
  /** 1-based line where the function starts. */
  readonly firstLine: number
  /** 1-based last line of the function's block (>= firstLine). */
  readonly lastLine: number
  /** Hash of the whole file's source text when it was profiled; "" when unknown. */
  readonly fileHash: string
  /**
   * Source text of lines firstLine..lastLine (one entry a line), or undefined
   * when the profile does not carry it (renderers then look it up or say so).
   */
  readonly source: ReadonlyArray<string> | undefined
  /** Stats of the lines that ran, sorted by lineNo, one entry a line. */
  readonly lines: ReadonlyArray<LineStats>
}

/** A whole profile: functions in canonical order (see `keyOf`). */
export interface Profile {
  readonly functions: ReadonlyArray<FunctionProfile>
  /**
   * How Time was measured, when it is not the default: absent means exact
   * timing for a profile with functions, and "nothing measured yet" (the
   * identity of `combine`) for one without. See `timingOf`.
   */
  readonly timing?: Timing
}

/**
 * The largest line number a profile holds: 2^31 - 1, the largest V8 and
 * CPython report (both count lines in a C int). Readers refuse larger ones, so
 * that a tiny file cannot name line 2^40 and make a report of that many rows.
 */
export const maxLineNo = 2 ** 31 - 1

/**
 * How a profile's Time was measured. `exact`: clock reads at every line event.
 * `sampled`: a sampler thread credited the time between its samples to the
 * lines on the stack (`samples` samples, `intervalNs` apart on average).
 * `mixed`: a merge of both, whose Times measure different things: a valid
 * value (so `combine` stays total and lawful) that merge and the reports
 * refuse with a message.
 *
 * Laws (a commutative monoid with `undefined` as identity and `mixed` absorbing):
 * `combineTiming(exact, sampled)` is `mixed`; two sampled timings add their
 * samples and keep the shorter interval; two exact ones add their probe and
 * wall times (kept only when one of them has them).
 */
export type Timing =
  | {
    readonly mode: "exact"
    /** The calibrated cost of the probes that ran, and the wall time of the threads that ran them, when known (for the report's hint). */
    readonly probeNs?: bigint
    readonly wallNs?: bigint
  }
  | { readonly mode: "sampled"; readonly intervalNs: number; readonly samples: bigint }
  | { readonly mode: "mixed" }

export const exactTiming: Timing = { mode: "exact" }
export const mixedTiming: Timing = { mode: "mixed" }

/** The timing a profile states, or implies: exact when it has functions and states none; undefined for `empty`. */
export const timingOf = (profile: Profile): Timing | undefined =>
  profile.timing ?? (profile.functions.length > 0 ? exactTiming : undefined)

/** The timing monoid (see `Timing`). */
export const combineTiming = (a: Timing | undefined, b: Timing | undefined): Timing | undefined => {
  if (a === undefined) return b
  if (b === undefined) return a
  if (a.mode === "exact" && b.mode === "exact") {
    if (a.probeNs === undefined && b.probeNs === undefined) return exactTiming
    return { mode: "exact", probeNs: (a.probeNs ?? 0n) + (b.probeNs ?? 0n), wallNs: (a.wallNs ?? 0n) + (b.wallNs ?? 0n) }
  }
  if (a.mode === "sampled" && b.mode === "sampled") {
    return { mode: "sampled", intervalNs: Math.min(a.intervalNs, b.intervalNs), samples: a.samples + b.samples }
  }
  return mixedTiming
}

/** The canonical profile of (sorted) `functions` measured with `timing`: the field is kept only where it is not implied. */
const withTiming = (functions: ReadonlyArray<FunctionProfile>, timing: Timing | undefined): Profile => {
  const implied = functions.length > 0 ? timing?.mode === "exact" && timing.probeNs === undefined : timing === undefined
  return implied ? { functions } : { functions, timing: timing! }
}

/** Why profiles of these timings cannot be merged into one report, or undefined when they can. */
export const mixedTimingProblem = (timing: Timing | undefined): string | undefined =>
  timing?.mode === "mixed"
    ? "cannot merge sampled and exact profiles: their Times measure different things (sampled: time between samples credited to the lines on the stack; exact: clock reads at each line)"
    : undefined

/** The identity of a function; equal keys are merged, others kept apart. */
export const keyOf = (fn: Pick<FunctionProfile, "file" | "firstLine" | "name" | "fileHash">): string =>
  `${fn.file}\u0000${String(fn.firstLine).padStart(10, "0")}\u0000${fn.name}\u0000${fn.fileHash}`

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Canonical order of functions: file, then first line, then name, then hash. */
export const compareFunctions = (a: FunctionProfile, b: FunctionProfile): number =>
  compareStrings(a.file, b.file) ||
  a.firstLine - b.firstLine ||
  compareStrings(a.name, b.name) ||
  compareStrings(a.fileHash, b.fileHash)

/** The empty profile: the identity of `combine`. */
export const empty: Profile = { functions: [] }

/** Builds a line entry; counters default to 0. */
export const makeLine = (
  lineNo: number,
  counters: { readonly hits?: bigint; readonly timeNs?: bigint; readonly waitNs?: bigint } = {}
): LineStats => ({
  lineNo,
  hits: counters.hits ?? 0n,
  timeNs: counters.timeNs ?? 0n,
  waitNs: counters.waitNs ?? 0n
})

/** Sum of two line entries of the same line. */
export const combineLines = (a: LineStats, b: LineStats): LineStats => ({
  lineNo: a.lineNo,
  hits: a.hits + b.hits,
  timeNs: a.timeNs + b.timeNs,
  waitNs: a.waitNs + b.waitNs
})

/**
 * Merges two lists sorted by `compare` into one sorted list; entries that
 * compare equal (one from each side) become `combineEqual` of the two.
 */
const mergeSorted = <A>(
  a: ReadonlyArray<A>,
  b: ReadonlyArray<A>,
  compare: (x: A, y: A) => number,
  combineEqual: (x: A, y: A) => A
): Array<A> => {
  const out: Array<A> = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const x = a[i]!
    const y = b[j]!
    const order = compare(x, y)
    if (order === 0) {
      out.push(combineEqual(x, y))
      i++
      j++
    } else if (order < 0) {
      out.push(x)
      i++
    } else {
      out.push(y)
      j++
    }
  }
  while (i < a.length) out.push(a[i++]!)
  while (j < b.length) out.push(b[j++]!)
  return out
}

const compareLines = (a: LineStats, b: LineStats): number => a.lineNo - b.lineNo

/**
 * Merges two records of the same function (equal keys). The last line is the
 * larger of the two. The source text of equal keys usually agrees (same file
 * hash); where one side lacks the source the other's is kept, so the result
 * does not depend on the order. Python functions (hash "") may disagree: a
 * dump read with its source ends where the block ends, one read without it
 * ends at the last line that ran, which may lie past the block (the file
 * changed). A source that does not span the merged lines is then dropped, so
 * the merge of two valid records is valid; `show` looks Python sources up
 * again. Associative too: the result keeps the best source (by `pickSource`)
 * among those spanning the largest last line, or none.
 */
export const combineFunctions = (a: FunctionProfile, b: FunctionProfile): FunctionProfile => {
  const lastLine = Math.max(a.lastLine, b.lastLine)
  const source = pickSource(a.source, b.source)
  return {
    file: a.file,
    name: a.name,
    firstLine: a.firstLine,
    lastLine,
    fileHash: a.fileHash,
    source: source !== undefined && source.length === lastLine - a.firstLine + 1 ? source : undefined,
    lines: mergeSorted(a.lines, b.lines, compareLines, combineLines)
  }
}

const pickSource = (
  a: ReadonlyArray<string> | undefined,
  b: ReadonlyArray<string> | undefined
): ReadonlyArray<string> | undefined => {
  if (a === undefined) return b
  if (b === undefined) return a
  // Equal keys mean equal file text, so both are the same; choose the longer
  // (then the lexically smaller) one so that combine stays commutative even for
  // hand-made profiles that disagree.
  if (a.length !== b.length) return a.length > b.length ? a : b
  for (let k = 0; k < a.length; k++) {
    if (a[k] !== b[k]) return a[k]! < b[k]! ? a : b
  }
  return a
}

/** Merges two profiles: hits and nanoseconds of equal functions and lines add. */
export const combine = (a: Profile, b: Profile): Profile => {
  const timing = combineTiming(timingOf(a), timingOf(b))
  if (a.functions.length === 0) return withTiming(b.functions, timing)
  if (b.functions.length === 0) return withTiming(a.functions, timing)
  return withTiming(mergeSorted(a.functions, b.functions, compareFunctions, combineFunctions), timing)
}

/**
 * Builds a canonical profile from functions in any order, merging duplicate
 * keys and duplicate lines. Every constructor of profiles goes through here.
 */
export const make = (functions: Iterable<FunctionProfile>, timing?: Timing): Profile => {
  const byKey = new Map<string, FunctionProfile>()
  for (const fn of functions) {
    const normalized = normalizeFunction(fn)
    const key = keyOf(normalized)
    const seen = byKey.get(key)
    byKey.set(key, seen === undefined ? normalized : combineFunctions(seen, normalized))
  }
  const sorted = [...byKey.values()].sort(compareFunctions)
  return withTiming(sorted, timing ?? (sorted.length > 0 ? exactTiming : undefined))
}

const normalizeFunction = (fn: FunctionProfile): FunctionProfile => {
  const sorted = [...fn.lines].sort(compareLines)
  const lines: Array<LineStats> = []
  for (const line of sorted) {
    const last = lines[lines.length - 1]
    if (last !== undefined && last.lineNo === line.lineNo) lines[lines.length - 1] = combineLines(last, line)
    else lines.push(line)
  }
  return { ...fn, lines }
}

/** The merge monoid: `ProfileReducer.combineAll(workerProfiles)` is the merged profile. */
export const ProfileReducer: Reducer.Reducer<Profile> = Reducer.make(combine, empty, (profiles) => {
  // Fold through one map instead of pairwise merges: linear in the total size.
  const all: Array<FunctionProfile> = []
  let timing: Timing | undefined
  for (const profile of profiles) {
    for (const fn of profile.functions) all.push(fn)
    timing = combineTiming(timing, timingOf(profile))
  }
  return make(all, timing)
})

/** Total time of a function: the sum of its lines' timeNs. */
export const totalTimeNs = (fn: FunctionProfile): bigint => {
  let total = 0n
  for (const line of fn.lines) total += line.timeNs
  return total
}

/** Total hits of a function's lines. */
export const totalHits = (fn: FunctionProfile): bigint => {
  let total = 0n
  for (const line of fn.lines) total += line.hits
  return total
}

/**
 * The invariant checker, called by tests after every transform. Returns the
 * list of violations (empty when the profile is well formed).
 */
export const check = (profile: Profile): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const timing = profile.timing
  if (timing !== undefined) {
    if (profile.functions.length > 0 && timing.mode === "exact" && timing.probeNs === undefined) {
      problems.push("timing: states what it implies (not canonical)")
    }
    if (timing.mode === "exact" && (timing.probeNs === undefined) !== (timing.wallNs === undefined)) {
      problems.push("timing: probeNs and wallNs go together")
    }
    if (timing.mode === "sampled" && (!(timing.intervalNs > 0) || !Number.isFinite(timing.intervalNs) || timing.samples < 0n)) {
      problems.push("timing: a sampled timing needs a positive intervalNs and non-negative samples")
    }
  }
  let previous: FunctionProfile | undefined
  profile.functions.forEach((fn, index) => {
    const at = `functions[${index}] (${fn.name})`
    if (previous !== undefined && compareFunctions(previous, fn) >= 0) {
      problems.push(`${at}: not in canonical order or duplicated`)
    }
    previous = fn
    if (!Number.isSafeInteger(fn.firstLine) || fn.firstLine < 1) problems.push(`${at}: firstLine must be a positive integer`)
    if (!Number.isSafeInteger(fn.lastLine) || fn.lastLine < fn.firstLine) problems.push(`${at}: lastLine must be >= firstLine`)
    if (fn.lastLine > maxLineNo) problems.push(`${at}: lastLine must be at most ${maxLineNo}`)
    if (fn.source !== undefined && fn.source.length !== fn.lastLine - fn.firstLine + 1) {
      problems.push(`${at}: source has ${fn.source.length} lines, expected ${fn.lastLine - fn.firstLine + 1}`)
    }
    let previousLine = 0
    fn.lines.forEach((line, k) => {
      const lineAt = `${at}.lines[${k}]`
      if (!Number.isSafeInteger(line.lineNo) || line.lineNo <= previousLine) problems.push(`${lineAt}: lines must be sorted and unique`)
      if (line.lineNo > maxLineNo) problems.push(`${lineAt}: lineNo must be at most ${maxLineNo}`)
      previousLine = line.lineNo
      if (line.hits < 0n || line.timeNs < 0n || line.waitNs < 0n) problems.push(`${lineAt}: negative counter`)
    })
  })
  return problems
}
