/**
 * Python line_profiler dumps (.lprof) as profiles. `LineProfiler.dump_stats`
 * pickles a `LineStats`: `timings` maps (file, first line, function name) to
 * [(line, hits, time)] and `unit` is the seconds of one time step.
 *
 * Contract: `decode(bytes)` reads the pickle with the safe `Pickle.load`
 * (only LineStats and the helpers its pickles use are allowed) and returns a
 * canonical `Profile` with times in integer nanoseconds, or an `LprofError`
 * whose message is one line. The conversion is exact: the unit is taken as
 * the decimal Python printed (1e-9 -> x1, 1e-6 -> x1000) and multiplied in
 * bigint; only a unit finer than a nanosecond divides, rounding half to even.
 * Functions come without source (`source` undefined, `fileHash` "") and with
 * `lastLine` the last line that has stats; the shell fills the source block.
 */
import * as Schema from "effect/Schema"
import * as Result from "effect/Result"
import * as Pickle from "./Pickle.ts"
import * as Profile from "../Profile.ts"

/** Why a .lprof could not be read; `message` is one line. */
export class LprofError extends Schema.TaggedError<LprofError>()("LprofError", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

/** The names a LineStats pickle may use, across line_profiler 2 to 5 and pickle protocols 0 to 5. */
export const allowedGlobals: ReadonlyArray<string> = [
  "line_profiler._line_profiler.LineStats",
  "line_profiler.line_profiler.LineStats",
  "line_profiler.LineStats",
  "copyreg._reconstructor",
  "builtins.object"
]

/** Nanoseconds in a second: the unit is in seconds, profiles count nanoseconds. */
const nanosecondsPerSecond = 1_000_000_000n

/**
 * The exact factor from the file's time steps to nanoseconds, as a fraction
 * `numerator / denominator` of the unit's shortest decimal form.
 */
export const unitToNs = (unitS: number): { readonly numerator: bigint; readonly denominator: bigint } => {
  // The shortest round-trip decimal is what Python wrote (`repr(1e-06)` and
  // JavaScript's `String(1e-6)` agree on the digits), so 1e-6 means exactly
  // one millionth, not the binary double near it.
  const [mantissa, exponentText] = String(unitS).toLowerCase().split("e")
  const [whole, fraction = ""] = mantissa!.split(".")
  const digits = BigInt(`${whole}${fraction}`)
  const exponent = Number(exponentText ?? "0") - fraction.length
  const numerator = digits * nanosecondsPerSecond * (exponent >= 0 ? 10n ** BigInt(exponent) : 1n)
  const denominator = exponent >= 0 ? 1n : 10n ** BigInt(-exponent)
  const divisor = gcd(numerator, denominator)
  return { numerator: numerator / divisor, denominator: denominator / divisor }
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b))

const divideRoundHalfEven = (value: bigint, denominator: bigint): bigint => {
  const quotient = value / denominator
  const remainder = value % denominator
  const twice = 2n * remainder
  if (twice > denominator || (twice === denominator && quotient % 2n !== 0n)) return quotient + 1n
  return quotient
}

const isRecord = <T extends string>(value: Pickle.PickleValue | undefined, tag: T): value is Extract<Pickle.PickleValue, { _tag: T }> =>
  value !== null && typeof value === "object" && !(value instanceof Uint8Array) && value._tag === tag

const kindOf = (value: Pickle.PickleValue | undefined): string => {
  if (value === undefined) return "nothing"
  if (value === null) return "None"
  if (typeof value === "bigint") return "an int"
  if (typeof value === "number") return "a float"
  if (typeof value === "string") return "a str"
  if (typeof value === "boolean") return "a bool"
  if (value instanceof Uint8Array) return "bytes"
  if (value._tag === "Object") return Pickle.showText(`${value.cls.module}.${value.cls.name}`)
  if (value._tag === "Global") return Pickle.showText(`${value.module}.${value.name}`)
  return `a ${value._tag.toLowerCase()}`
}

/** The attribute dict of a LineStats object (BUILD state, or the (dict, slots) pair). */
const attributesOf = (state: Pickle.PickleValue | undefined): Map<string, Pickle.PickleValue> => {
  const attributes = new Map<string, Pickle.PickleValue>()
  const dicts = isRecord(state, "Tuple") ? state.items : [state]
  for (const dict of dicts) {
    if (!isRecord(dict, "Dict")) continue
    for (const [key, value] of dict.entries) if (typeof key === "string") attributes.set(key, value)
  }
  return attributes
}

const fail = (reason: string): never => {
  throw new LprofError({ reason })
}

const intOf = (value: Pickle.PickleValue | undefined, what: string): bigint => {
  if (typeof value === "bigint") return value
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value)
  return fail(`${what} is ${kindOf(value)}, expected an int`)
}

const lineNoOf = (value: Pickle.PickleValue | undefined, what: string): number => {
  const lineNo = intOf(value, what)
  if (lineNo < 1n || lineNo > BigInt(Profile.maxLineNo)) {
    const shown = lineNo > 10n ** 20n ? "(a number too large)" : String(lineNo)
    fail(`${what} ${shown} is not a line number${lineNo < 1n ? "" : ` (at most ${Profile.maxLineNo})`}`)
  }
  return Number(lineNo)
}

const itemsOf = (value: Pickle.PickleValue | undefined, what: string): ReadonlyArray<Pickle.PickleValue> => {
  if (isRecord(value, "Tuple") || isRecord(value, "List")) return value.items
  return fail(`${what} is ${kindOf(value)}, expected a list or tuple`)
}

/**
 * How much a dump may expand to, in characters of names and paths plus line
 * entries, per byte of pickle (plus `expansionAllowance`). A pickle's memo
 * lets one list or string be referred to from many places in two bytes each:
 * a 1 MB "memo bomb" that hands the same list of lines to every function
 * would otherwise make a profile of billions of lines. line_profiler's own
 * dumps stay far below this (a path shared by many functions is the most they
 * share).
 */
export const expansionPerByte = 16

/** The expansion every dump is allowed on top of `expansionPerByte` (for small files). */
export const expansionAllowance = 1 << 20

/**
 * Line entries per byte of pickle: at most one per 2 bytes (a memo reference
 * is 2 bytes; line_profiler writes each line's tuple once, 8 bytes or more).
 */
export const bytesPerLineEntry = 2

/** The largest hits or time steps a dump may hold, exclusive: 2^128 (2^64 ns is 584 years). */
const maxCount = 2n ** 128n

const toProfile = (root: Pickle.PickleValue, inputBytes: number): Profile.Profile => {
  const budget = { characters: expansionPerByte * inputBytes + expansionAllowance, lines: inputBytes / bytesPerLineEntry + 1000 }
  const spend = (what: "characters" | "lines", amount: number): void => {
    budget[what] -= amount
    if (budget[what] < 0) {
      fail(
        "the pickle refers to the same data over and over (its timings expand far beyond the file's size): not a line_profiler dump"
      )
    }
  }
  if (!isRecord(root, "Object")) fail(`not a line_profiler dump: the pickle holds ${kindOf(root)}, not a LineStats`)
  const lineStats = root as Pickle.PickleObject
  if (lineStats.cls.name !== "LineStats") fail(`not a line_profiler dump: the pickle holds ${kindOf(root)}`)
  const attributes = attributesOf(lineStats.state)
  const timings = attributes.get("timings")
  if (!isRecord(timings, "Dict")) fail(`LineStats.timings is ${kindOf(timings)}, expected a dict`)
  const unitValue = attributes.get("unit")
  const unitS = typeof unitValue === "bigint" ? Number(unitValue) : unitValue
  if (typeof unitS !== "number" || !Number.isFinite(unitS) || unitS <= 0) {
    fail(`LineStats.unit is ${typeof unitS === "number" ? String(unitS) : kindOf(unitValue)}, expected a positive number of seconds`)
  }
  const { numerator, denominator } = unitToNs(unitS as number)
  const toNs = (steps: bigint): bigint =>
    denominator === 1n ? steps * numerator : divideRoundHalfEven(steps * numerator, denominator)

  const functions: Array<Profile.FunctionProfile> = []
  for (const [key, entries] of (timings as Pickle.PickleDict).entries) {
    const [file, firstLineValue, name] = itemsOf(key, "a timings key")
    if (typeof file !== "string" || typeof name !== "string") fail("a timings key is not (file, line, name)")
    spend("characters", (file as string).length + (name as string).length + 1)
    const shownName = Pickle.showText((name as string).length > 200 ? `${(name as string).slice(0, 200)}...` : name as string)
    const firstLine = lineNoOf(firstLineValue, `first line of ${shownName}`)
    const lines: Array<Profile.LineStats> = []
    const entryItems = itemsOf(entries, `timings of ${shownName}`)
    spend("lines", entryItems.length)
    for (const entry of entryItems) {
      const [lineNoValue, hitsValue, timeValue] = itemsOf(entry, `a line of ${shownName}`)
      const lineNo = lineNoOf(lineNoValue, `a line of ${shownName}`)
      const hits = intOf(hitsValue, `hits of ${shownName} line ${lineNo}`)
      const steps = intOf(timeValue, `time of ${shownName} line ${lineNo}`)
      if (hits < 0n || steps < 0n) fail(`${shownName} line ${lineNo} has a negative count`)
      // Python ints have no limit, but a count beyond 2^128 is no profile (and a 256 KB
      // integer would cost time in every report and merge).
      if (hits >= maxCount || steps >= maxCount) fail(`${shownName} line ${lineNo} has a count of 2^128 or more`)
      lines.push(Profile.makeLine(lineNo, { hits, timeNs: toNs(steps) }))
    }
    const lastLine = lines.reduce((last, line) => Math.max(last, line.lineNo), firstLine)
    functions.push({ file: file as string, name: name as string, firstLine, lastLine, fileHash: "", source: undefined, lines })
  }
  return Profile.make(functions)
}

/** Decodes the bytes of a .lprof file (a pickled LineStats) into a profile. */
export const decode = (bytes: Uint8Array): Result.Result<Profile.Profile, LprofError> => {
  if (bytes.length === 0) return Result.fail(new LprofError({ reason: "empty file, expected a line_profiler dump (a pickle)" }))
  const loaded = Pickle.load(bytes, { allowedGlobals })
  if (Result.isFailure(loaded)) return Result.fail(new LprofError({ reason: `not a readable pickle: ${loaded.failure.message}` }))
  try {
    return Result.succeed(toProfile(loaded.success, bytes.length))
  } catch (error) {
    if (error instanceof LprofError) return Result.fail(error)
    throw error
  }
}

/** True when the bytes look like a binary pickle (every line_profiler 3+ dump does: protocol >= 2). */
export const looksLikeLprof = (bytes: Uint8Array): boolean => Pickle.hasMagic(bytes)
