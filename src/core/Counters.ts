/**
 * From a recorder's counters to a `Profile`: pure. A thread's recorder keeps
 * flat counters indexed by slot (core/Probe) and the registrations of the
 * files it instrumented; `profileFrom` turns both into the profile they mean,
 * on the live counters or on another thread's SharedArrayBuffers alike (the
 * main thread and the keeper rebuild a terminated worker's profile this way).
 *
 * Slot 0 is the sink (never reported). In sampled timing it carries the
 * timing header: `hits[0]` is 1 + the number of samples taken, `timeNs[0]`
 * the mean sampling interval; exact probes never count a hit in the sink.
 */
import { SINK_SLOT, type InstrumentedFunction } from "./Probe.ts"
import { nodeLineBreak } from "./Lines.ts"
import * as Profile from "./Profile.ts"

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

export interface ProfileOptions {
  /** Also list registered functions that never ran (with no lines). Default false. */
  readonly includeUncalled?: boolean
  /** The lines of a registration's source text; a caller that rebuilds profiles often passes a memo of it. */
  readonly linesOf?: (registration: FileRegistration) => ReadonlyArray<string>
}

/** The lines of a registration's source text, split as Node counts lines. */
export const sourceLines = (registration: FileRegistration): ReadonlyArray<string> => registration.sourceText.split(nodeLineBreak)

const toNs = (value: number | undefined): bigint =>
  value === undefined || !(value > 0) ? 0n : BigInt(Math.round(value))

/**
 * The timing the counters mean: the sampled-mode header in slot 0 when it is
 * there, exact otherwise.
 */
export const timingFrom = (hitsArray: ArrayLike<number>, timeArray: ArrayLike<number>): Profile.Timing => {
  const marker = hitsArray[SINK_SLOT] ?? 0
  const intervalNs = timeArray[SINK_SLOT] ?? 0
  if (!(marker >= 1) || !(intervalNs > 0)) return Profile.exactTiming
  return { mode: "sampled", intervalNs, samples: BigInt(Math.round(marker) - 1) }
}

/**
 * The profile that the counters mean, given the registrations: counters
 * rounded to integer ns, negative compensated values clamped to 0. A line is
 * listed when it was hit; a function when one of its lines was (or always,
 * with `includeUncalled`).
 */
export const profileFrom = (
  files: ReadonlyArray<FileRegistration>,
  hitsArray: ArrayLike<number>,
  timeArray: ArrayLike<number>,
  waitArray: ArrayLike<number>,
  options: ProfileOptions = {}
): Profile.Profile => {
  const linesOf = options.linesOf ?? sourceLines
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
      const all = linesOf(registration)
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
  return Profile.make(functions, functions.length === 0 ? undefined : timingFrom(hitsArray, timeArray))
}
