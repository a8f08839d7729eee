/**
 * Profile deltas: what a stretch of work added to a recorder's profile, and
 * the trimming of a delta before it travels back from a pool worker. Pure.
 *
 * Laws (counters only grow between two snapshots `before` and `after`):
 * - `Profile.combine(before, difference(after, before))` equals `after`;
 * - `difference(a, a)` is the empty profile;
 * - a sampled recorder's delta keeps its timing, with the samples taken since `before`.
 */
import * as Profile from "./Profile.ts"

const lineKey = (fnKey: string, lineNo: number): string => `${fnKey}\u0000${lineNo}`

/**
 * `after - before` for two snapshots of the same recorder (counters only
 * grow): the functions and lines whose counters changed, with the increase.
 */
export const difference = (after: Profile.Profile, before: Profile.Profile): Profile.Profile => {
  const earlier = new Map<string, Profile.LineStats>()
  for (const fn of before.functions) {
    const key = Profile.keyOf(fn)
    for (const line of fn.lines) earlier.set(lineKey(key, line.lineNo), line)
  }
  const functions: Array<Profile.FunctionProfile> = []
  for (const fn of after.functions) {
    const key = Profile.keyOf(fn)
    const lines: Array<Profile.LineStats> = []
    for (const line of fn.lines) {
      const was = earlier.get(lineKey(key, line.lineNo))
      const hits = line.hits - (was?.hits ?? 0n)
      const timeNs = line.timeNs - (was?.timeNs ?? 0n)
      const waitNs = line.waitNs - (was?.waitNs ?? 0n)
      if (hits !== 0n || timeNs !== 0n || waitNs !== 0n) {
        lines.push(Profile.makeLine(line.lineNo, { hits, timeNs: timeNs < 0n ? 0n : timeNs, waitNs: waitNs < 0n ? 0n : waitNs }))
      }
    }
    if (lines.length > 0) functions.push({ ...fn, lines })
  }
  return Profile.make(functions, functions.length === 0 ? undefined : timingDifference(after, before))
}

/** The timing of `after - before`: a sampled recorder's samples since `before`; exact otherwise. */
const timingDifference = (after: Profile.Profile, before: Profile.Profile): Profile.Timing => {
  const now = Profile.timingOf(after)
  const then = Profile.timingOf(before)
  if (now?.mode !== "sampled") return Profile.exactTiming
  const samples = now.samples - (then?.mode === "sampled" ? then.samples : 0n)
  return { ...now, samples: samples < 0n ? 0n : samples }
}


/**
 * `delta` without the source text of the functions whose source already
 * went to the receiver (`alreadySent` by function key), and the keys whose
 * source this delta carries for the first time. A receiver merges a
 * function's source from whichever delta carried it, so each source crosses
 * once per worker instead of once per chunk.
 */
export const withoutSentSources = (
  delta: Profile.Profile,
  alreadySent: ReadonlySet<string>
): { readonly profile: Profile.Profile; readonly newlySent: ReadonlyArray<string> } => {
  const newlySent: Array<string> = []
  const functions = delta.functions.map((fn) => {
    if (fn.source === undefined) return fn
    const key = Profile.keyOf(fn)
    if (!alreadySent.has(key) && !newlySent.includes(key)) {
      newlySent.push(key)
      return fn
    }
    return { ...fn, source: undefined }
  })
  return { profile: { ...delta, functions }, newlySent }
}
