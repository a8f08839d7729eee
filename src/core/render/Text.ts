/**
 * The text report: a profile rendered in the layout of Python line_profiler
 * 5's `show_text` / `show_func`, byte for byte (checked against the real tool's
 * output in test/golden). Pure: a `Profile` and options in, a string out.
 *
 * What is copied from line_profiler 5.0.2 (line_profiler/line_profiler.py):
 * - `Timer unit: %g s`, then one block per function: `Total time: %g s`,
 *   `File:`, `Function: NAME at line N`, the header, the `=` rule, one row per
 *   source line, a blank line. Without source text, the "Could not find file"
 *   block with empty rows from the first line to the last line that ran.
 * - Columns of minimum widths 6/9/12/8/8 (Line #, Hits, Time, Per Hit, % Time)
 *   that grow to the widest cell; a time wider than its minimum falls back
 *   from `%5.1f` to `%5.3g`, hits wider than 9 from `%d` to `%g`.
 * - % Time is empty in a function whose total time is 0.
 * - `skipZero` (line_profiler's stripzeros) drops the blocks of functions with
 *   no hits; the summary drops functions with zero total *time*, so a function
 *   that ran but took no time keeps its block and has no summary line.
 * - `sort` orders by ascending total time (stable: ties keep canonical order);
 *   the summary (`%6.2f seconds - file:line - name`) follows the same order.
 * - Arithmetic as Python does it: integer counters converted to doubles
 *   (`Number(bigint)` rounds like `float(int)`), `100 * time / total` divided
 *   with one correct rounding like Python's int / int, and `%f` / `%g`
 *   formatted from the exact binary value with round-half-even.
 *
 * lineprof additions, which change nothing when they do not apply:
 * - a `Wait` column (time suspended at await / yield, in the output unit)
 *   after `% Time`, only when some line of the profile has waitNs > 0;
 * - a note line under `Timer unit` for each file whose functions come from
 *   different versions of the file (different `fileHash`);
 * - `File:`, the "Could not find file" line and the summary show a file under
 *   `cwd` relative to it;
 * - a `Timing:` line under `Timer unit` for a sampled (or mixed) profile, and,
 *   at the end of an exact profile whose probes took most of its threads'
 *   time, one line suggesting `--timing sampled` (`timingNote`, `probeHint`).
 *
 * Lines that never ran (zero hits, time and wait) get empty number columns;
 * a line with time but no hits (a `for await` header) gets an empty Per Hit.
 *
 * Control characters in names, paths and source lines are shown as `cat -v`
 * shows them (`showControls`), so a stats file cannot clear or reprogram the
 * terminal the report is printed on; tabs are kept, as line_profiler prints
 * them. Everything else, the stats file included, keeps the text as it is.
 *
 * Colour is an option (`colour`), so the core stays free of terminal codes:
 * the renderer says what each piece is (a heading, a hot or warm row, by the
 * thresholds of `Heat`), and the caller's function styles it, adding escapes
 * around the finished, padded text. Without it the report is plain.
 */
import type { FunctionProfile, LineStats, Profile, Timing } from "../Profile.ts"
import * as Heat from "./Heat.ts"

/** The unit of the counters in a profile: nanoseconds. */
export const nativeUnit = 1e-9

export interface TextOptions {
  /** Output unit in seconds (1, 1e-3, 1e-6, 1e-9). Default: 1e-9, the native unit. */
  readonly unit?: number
  /** Skip the blocks of functions with zero hits (line_profiler's stripzeros). */
  readonly skipZero?: boolean
  /** Order functions by ascending total time instead of by file and first line. */
  readonly sort?: boolean
  /** Append one line per function: `  0.04 seconds - file:line - name`. */
  readonly summary?: boolean
  /** Show the per-line blocks (default true); false with `summary` gives the summary alone. */
  readonly details?: boolean
  /** The current directory: files under it are shown relative to it. */
  readonly cwd?: string
  /** Styles the headings and the hot and warm rows (say, with terminal colours); plain text without it. */
  readonly colour?: Colour
}

/**
 * What a styled piece of the report is: a heading (`Total time:`, `Function:`
 * and the column header) or a row of a hot or warm line (see `Heat`).
 */
export type Role = "heading" | Heat.Level

/** Styles one piece of the report: the text back with escapes added around it, nothing else changed. */
export type Colour = (role: Role, text: string) => string

const plain: Colour = (_role, text) => text

// ---------------------------------------------------------------------------
// Python's % formatting of floats, exact.

/** A finite double x >= 0 as the exact fraction numerator / denominator. */
const exactFraction = (x: number): { readonly numerator: bigint; readonly denominator: bigint } => {
  const bits = new BigUint64Array(new Float64Array([x]).buffer)[0]!
  const biasedExponent = Number((bits >> 52n) & 0x7ffn)
  let mantissa = bits & 0xfffffffffffffn
  let exponent: number
  if (biasedExponent === 0) exponent = -1074
  else {
    mantissa |= 1n << 52n
    exponent = biasedExponent - 1075
  }
  return exponent >= 0
    ? { numerator: mantissa << BigInt(exponent), denominator: 1n }
    : { numerator: mantissa, denominator: 1n << BigInt(-exponent) }
}

const pow10 = (n: number): bigint => 10n ** BigInt(n)

/** numerator / denominator rounded to an integer, ties to even (Python's rounding of the exact value). */
const roundHalfEven = (numerator: bigint, denominator: bigint): bigint => {
  const quotient = numerator / denominator
  const twiceRemainder = 2n * (numerator - quotient * denominator)
  if (twiceRemainder > denominator) return quotient + 1n
  if (twiceRemainder === denominator) return quotient + (quotient & 1n)
  return quotient
}

const nonFinite = (x: number): string | undefined =>
  Number.isNaN(x) ? "nan" : x === Infinity ? "inf" : x === -Infinity ? "-inf" : undefined

const isNegative = (x: number): boolean => x < 0 || Object.is(x, -0)

/**
 * Python's `'%.{precision}f' % x`. Most values take a fast path:
 * `Number.prototype.toFixed` also rounds the exact binary value, and differs
 * from Python only on (near-)ties, where it rounds up instead of to even.
 * When the scaled value is far from a tie, and small enough that the one
 * multiplication in the check is off by far less than that distance, both
 * round the same way. Everything else takes the exact path
 * (`formatFixedExact`), which is ~20x slower and made a report of a million
 * rows take seconds.
 */
export const formatFixed = (x: number, precision: number): string => {
  if (x >= 0 && !Object.is(x, -0) && precision >= 0 && precision <= 9) {
    const scaled = x * 10 ** precision
    // Below 2^40 the product is within 2^-13 of the exact one: a margin of 1e-3 is safe.
    if (scaled < 2 ** 40 && Math.abs(scaled - Math.floor(scaled) - 0.5) > 1e-3) return x.toFixed(precision)
  }
  return formatFixedExact(x, precision)
}

/** Python's `'%.{precision}f' % x`, always through exact integer arithmetic (the reference for `formatFixed`'s fast path). */
export const formatFixedExact = (x: number, precision: number): string => {
  const special = nonFinite(x)
  if (special !== undefined) return special
  const sign = isNegative(x) ? "-" : ""
  const { numerator, denominator } = exactFraction(Math.abs(x))
  const digits = roundHalfEven(numerator * pow10(precision), denominator).toString().padStart(precision + 1, "0")
  if (precision === 0) return sign + digits
  return `${sign}${digits.slice(0, -precision)}.${digits.slice(-precision)}`
}

/** Python's `'%.{precision}g' % x` (default precision 6, no `#` flag). */
export const formatGeneral = (x: number, precision = 6): string => {
  const special = nonFinite(x)
  if (special !== undefined) return special
  const sign = isNegative(x) ? "-" : ""
  if (x === 0) return `${sign}0`
  const significant = Math.max(precision, 1)
  const { numerator, denominator } = exactFraction(Math.abs(x))
  // exponent10 = floor(log10(|x|)), exactly: 10^e <= |x| < 10^(e+1).
  const atLeastPow10 = (e: number): boolean =>
    numerator * (e < 0 ? pow10(-e) : 1n) >= denominator * (e > 0 ? pow10(e) : 1n)
  let exponent10 = Math.floor(Math.log10(Math.abs(x)))
  while (!atLeastPow10(exponent10)) exponent10--
  while (atLeastPow10(exponent10 + 1)) exponent10++
  const shift = significant - 1 - exponent10
  let rounded = roundHalfEven(
    numerator * (shift > 0 ? pow10(shift) : 1n),
    denominator * (shift < 0 ? pow10(-shift) : 1n)
  )
  if (rounded === pow10(significant)) {
    rounded = pow10(significant - 1)
    exponent10++
  }
  const digits = rounded.toString()
  if (exponent10 >= -4 && exponent10 < significant) {
    const [integerPart, fraction] =
      exponent10 >= 0
        ? [digits.slice(0, exponent10 + 1), digits.slice(exponent10 + 1)]
        : ["0", "0".repeat(-exponent10 - 1) + digits]
    const trimmed = fraction.replace(/0+$/, "")
    return sign + (trimmed === "" ? integerPart : `${integerPart}.${trimmed}`)
  }
  const rest = digits.slice(1).replace(/0+$/, "")
  const magnitude = String(Math.abs(exponent10)).padStart(2, "0")
  return `${sign}${digits[0]}${rest === "" ? "" : `.${rest}`}e${exponent10 < 0 ? "-" : "+"}${magnitude}`
}

const bitLength = (n: bigint): number => (n === 0n ? 0 : n.toString(2).length)

/**
 * numerator / denominator (integers, numerator >= 0, denominator > 0) as the
 * nearest double, rounded once, as Python's int / int does (converting both to
 * doubles first could round twice).
 */
export const divideExact = (numerator: bigint, denominator: bigint): number => {
  if (numerator === 0n) return 0
  // Scale so that the integer quotient has about 65 bits, then fold the
  // remainder into a sticky low bit: Number() of it then rounds correctly.
  const shift = 65 - (bitLength(numerator) - bitLength(denominator))
  const scaledNumerator = shift >= 0 ? numerator << BigInt(shift) : numerator
  const scaledDenominator = shift >= 0 ? denominator : denominator << BigInt(-shift)
  let quotient = scaledNumerator / scaledDenominator
  if (quotient * scaledDenominator !== scaledNumerator) quotient |= 1n
  return Number(quotient) * 2 ** -shift
}

// ---------------------------------------------------------------------------
// Text from the profile.

/** C0 controls but tab (line feed included: a name must stay on its line), DEL, and the C1 controls. */
const controlCharacter = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/
const controlCharacters = new RegExp(controlCharacter.source, "g")

/** `cat -v`'s notation of one control character: ^@ to ^_ for C0, ^? for DEL, M-^@ to M-^_ for C1. */
const caretNotation = (character: string): string => {
  const code = character.charCodeAt(0)
  if (code === 0x7f) return "^?"
  return code >= 0x80 ? `M-^${String.fromCharCode(code - 0x80 + 0x40)}` : `^${String.fromCharCode(code + 0x40)}`
}

/**
 * `text` with its control characters shown as `cat -v` shows them (ESC is
 * `^[`, DEL `^?`, U+009B `M-^[`), tabs kept. `cat -v` works on bytes; here the
 * C1 controls are the code points U+0080 to U+009F, and every other character
 * (é, emoji) is printable and stays as it is.
 */
export const showControls = (text: string): string =>
  controlCharacter.test(text) ? text.replace(controlCharacters, caretNotation) : text

// ---------------------------------------------------------------------------
// Paths.

/**
 * The file as the report shows it: relative to `cwd` when it is under it (an
 * absolute path or a file: URL), otherwise unchanged.
 */
export const displayPath = (file: string, cwd: string | undefined): string => {
  if (cwd === undefined || cwd === "") return file
  let path = file
  if (path.startsWith("file://")) {
    try {
      path = decodeURIComponent(path.slice("file://".length))
    } catch {
      return file
    }
  }
  const separator = cwd.includes("\\") && !cwd.includes("/") ? "\\" : "/"
  const base = cwd.endsWith(separator) ? cwd : cwd + separator
  return path.startsWith(base) && path.length > base.length ? path.slice(base.length) : file
}

// ---------------------------------------------------------------------------
// The report.

/** Minimum column widths: line_profiler 5's shipped `show.column_widths`. */
const minimumWidths = { line: 6, hits: 9, time: 12, perHit: 8, percent: 8, wait: 12 } as const

interface Cells {
  readonly hits: string
  readonly time: string
  readonly perHit: string
  readonly percent: string
  readonly wait: string
}

const emptyCells: Cells = { hits: "", time: "", perHit: "", percent: "", wait: "" }

/** `%5.1f`, falling back to `%5.3g` when wider than the column's minimum width. */
const formatTime = (value: number, minimumWidth: number): string => {
  const fixed = formatFixed(value, 1).padStart(5)
  return fixed.length > minimumWidth ? formatGeneral(value, 3).padStart(5) : fixed
}

const totalsOf = (fn: FunctionProfile): { readonly hits: bigint; readonly timeNs: bigint } => {
  let hits = 0n
  let timeNs = 0n
  for (const line of fn.lines) {
    hits += line.hits
    timeNs += line.timeNs
  }
  return { hits, timeNs }
}

const hasWait = (profile: Profile): boolean =>
  profile.functions.some((fn) => fn.lines.some((line) => line.waitNs > 0n))

const ranAtAll = (line: LineStats): boolean => line.hits > 0n || line.timeNs > 0n || line.waitNs > 0n

const cellsOf = (line: LineStats, totalTimeNs: bigint, scalar: number): Cells => {
  const timeOut = Number(line.timeNs) * scalar
  const hitsText = line.hits.toString()
  return {
    hits: hitsText.length > minimumWidths.hits ? formatGeneral(Number(line.hits)) : hitsText,
    time: formatTime(timeOut, minimumWidths.time),
    perHit: line.hits === 0n ? "" : formatTime(timeOut / Number(line.hits), minimumWidths.perHit),
    percent: totalTimeNs === 0n ? "" : formatFixed(divideExact(100n * line.timeNs, totalTimeNs), 1).padStart(5),
    wait: formatTime(Number(line.waitNs) * scalar, minimumWidths.wait)
  }
}

const renderFunction = (
  fn: FunctionProfile,
  totals: { readonly hits: bigint; readonly timeNs: bigint },
  scalar: number,
  withWait: boolean,
  cwd: string | undefined,
  colour: Colour
): string => {
  const out: Array<string> = []
  const path = showControls(displayPath(fn.file, cwd))
  out.push(colour("heading", `Total time: ${formatGeneral(Number(totals.timeNs) * nativeUnit)} s`), "\n")
  if (fn.source !== undefined) {
    out.push(`File: ${path}\n`, colour("heading", `Function: ${showControls(fn.name)} at line ${fn.firstLine}`), "\n")
  } else {
    out.push(
      "\n",
      `Could not find file ${path}\n`,
      "Are you sure you are running this program from the same directory\n",
      "that you ran the profiler from?\n",
      "Continuing without the function's contents.\n"
    )
  }

  const cellsByLine = new Map<number, Cells>()
  const heatByLine = new Map<number, Heat.Level>()
  for (const line of fn.lines) {
    if (ranAtAll(line)) cellsByLine.set(line.lineNo, cellsOf(line, totals.timeNs, scalar))
    const level = colour === plain ? undefined : Heat.levelOf(line.timeNs, totals.timeNs)
    if (level !== undefined) heatByLine.set(line.lineNo, level)
  }
  const widthOf = (minimum: number, pick: (cells: Cells) => string): number => {
    let width = minimum
    for (const cells of cellsByLine.values()) width = Math.max(width, pick(cells).length)
    return width
  }
  const widths = {
    line: minimumWidths.line,
    hits: widthOf(minimumWidths.hits, (cells) => cells.hits),
    time: widthOf(minimumWidths.time, (cells) => cells.time),
    perHit: widthOf(minimumWidths.perHit, (cells) => cells.perHit),
    percent: minimumWidths.percent,
    wait: widthOf(minimumWidths.wait, (cells) => cells.wait)
  }
  const row = (lineNo: string, cells: Cells, contents: string): string => {
    const columns = [
      lineNo.padStart(widths.line),
      cells.hits.padStart(widths.hits),
      cells.time.padStart(widths.time),
      cells.perHit.padStart(widths.perHit),
      cells.percent.padStart(widths.percent)
    ]
    if (withWait) columns.push(cells.wait.padStart(widths.wait))
    return `${columns.join(" ")}  ${contents}`
  }

  const header = row("Line #", { hits: "Hits", time: "Time", perHit: "Per Hit", percent: "% Time", wait: "Wait" }, "Line Contents")
  out.push("\n", colour("heading", header), "\n", "=".repeat(header.length), "\n")
  const lineRow = (lineNo: number, text: string): void => {
    const contents = showControls(text.replace(/\n+$/, "").replace(/\r+$/, ""))
    const line = row(String(lineNo), cellsByLine.get(lineNo) ?? emptyCells, contents)
    const level = heatByLine.get(lineNo)
    out.push(level === undefined ? line : colour(level, line), "\n")
  }
  if (fn.source !== undefined) fn.source.forEach((text, offset) => lineRow(fn.firstLine + offset, text))
  else for (const lineNo of rowsWithoutSource(fn)) lineRow(lineNo, "")
  out.push("\n")
  return out.join("")
}

/**
 * The rows of a function without source. As line_profiler: empty rows from the
 * first line (or the first line that ran, if earlier) to the last line that
 * ran, when that span is at most `4 × lines + 1000` rows; otherwise only the
 * lines that have stats, so that a tiny file naming line 5·10^7 cannot make
 * a report of 5·10^7 rows.
 */
const rowsWithoutSource = (fn: FunctionProfile): Array<number> => {
  if (fn.lines.length === 0) return [fn.firstLine]
  const first = Math.min(fn.lines[0]!.lineNo, fn.firstLine)
  const last = fn.lines[fn.lines.length - 1]!.lineNo
  if (last - first + 1 > 4 * fn.lines.length + 1000) return fn.lines.map((line) => line.lineNo)
  return Array.from({ length: last - first + 1 }, (_, k) => first + k)
}

/** One note line per file whose functions come from more than one version of it. */
const changedFileNotes = (profile: Profile, cwd: string | undefined): Array<string> => {
  const hashesByFile = new Map<string, Set<string>>()
  for (const fn of profile.functions) {
    const hashes = hashesByFile.get(fn.file) ?? new Set<string>()
    hashes.add(fn.fileHash)
    hashesByFile.set(fn.file, hashes)
  }
  const notes: Array<string> = []
  for (const [file, hashes] of hashesByFile) {
    if (hashes.size > 1) {
      notes.push(
        `Note: ${showControls(displayPath(file, cwd))} changed between runs: its functions are reported once per version of the file (${hashes.size} versions).\n`
      )
    }
  }
  return notes
}

/** A sampling interval for people: `1 ms`, `250 us`, `1.5 ms`. */
export const formatInterval = (ns: number): string =>
  ns >= 1e6 ? `${formatGeneral(ns / 1e6, 3)} ms` : `${formatGeneral(ns / 1e3, 3)} us`

/** The line a sampled or mixed profile shows under `Timer unit`; undefined for exact timing. */
export const timingNote = (timing: Timing | undefined): string | undefined => {
  if (timing?.mode === "sampled") {
    return `Timing: sampled, every ${formatInterval(timing.intervalNs)} on average, ${timing.samples} samples (hits exact, times estimated)`
  }
  if (timing?.mode === "mixed") return "Timing: mixed (sampled and exact profiles merged: their times measure different things)"
  return undefined
}

/**
 * The share of the threads' wall time above which the probes took most of the
 * run. It is checked against the calibrated cost of the probes that ran, a
 * lower bound (the cost of a probe in a hot loop on an idle core; a real run
 * pays more per event): measured here on a loaded machine, a tight loop whose
 * probes took nearly all of the run (6 million calls of a one-line function)
 * showed 19 to 32%, a program of heavy lines under 5%.
 */
export const probeShareHint = 0.2

/** The closing line of an exact profile whose probes took most of its threads' time; undefined otherwise. */
export const probeHint = (timing: Timing | undefined): string | undefined => {
  if (timing?.mode !== "exact" || timing.probeNs === undefined || timing.wallNs === undefined || timing.wallNs <= 0n) return undefined
  const share = Number(timing.probeNs) / Number(timing.wallNs)
  if (!(share > probeShareHint)) return undefined
  return `Note: lineprof's probes took at least ${Math.min(100, Math.round(share * 100))}% of the profiled threads' time (exact timing reads the clock at every line event); try --timing sampled`
}

/** The profile as line_profiler's text report (see the module comment). */
export const render = (profile: Profile, options: TextOptions = {}): string => {
  const outputUnit = options.unit ?? nativeUnit
  const scalar = nativeUnit / outputUnit
  const withWait = hasWait(profile)
  const note = timingNote(profile.timing)
  const out: Array<string> = [`Timer unit: ${formatGeneral(outputUnit)} s\n${note === undefined ? "" : `${note}\n`}\n`]
  const notes = changedFileNotes(profile, options.cwd)
  if (notes.length > 0) out.push(...notes, "\n")

  const entries = profile.functions.map((fn) => ({ fn, totals: totalsOf(fn) }))
  if (options.sort === true) {
    entries.sort((a, b) => (a.totals.timeNs < b.totals.timeNs ? -1 : a.totals.timeNs > b.totals.timeNs ? 1 : 0))
  }
  if (options.details !== false) {
    for (const { fn, totals } of entries) {
      if (options.skipZero === true && totals.hits === 0n) continue
      out.push(renderFunction(fn, totals, scalar, withWait, options.cwd, options.colour ?? plain))
    }
  }
  if (options.summary === true) {
    for (const { fn, totals } of entries) {
      if (options.skipZero === true && totals.timeNs === 0n) continue
      const seconds = formatFixed(Number(totals.timeNs) * nativeUnit, 2).padStart(6)
      out.push(`${seconds} seconds - ${showControls(displayPath(fn.file, options.cwd))}:${fn.firstLine} - ${showControls(fn.name)}\n`)
    }
  }
  const hint = probeHint(profile.timing)
  if (hint !== undefined) out.push(`${hint}\n`)
  return out.join("")
}
