/**
 * How hot a line is, for the reports that show it: the text report's colours
 * on a terminal and the HTML report's tinted rows share these thresholds. A
 * line taking at least `hotPercent` of its function's time is hot, at least
 * `warmPercent` warm. Compared on the exact integers, so a line's heat never
 * depends on rounding (a share of 19.96 % prints as 20.0 and is warm).
 */

/** Lines whose share of their function's time is at least this many percent are hot. */
export const hotPercent = 20
/** Lines at or above this share (and below `hotPercent`) are warm. */
export const warmPercent = 5

export type Level = "hot" | "warm"

/** The heat of a line that took `timeNs` of its function's `totalNs`; undefined when neither hot nor warm (or the total is 0). */
export const levelOf = (timeNs: bigint, totalNs: bigint): Level | undefined => {
  if (totalNs <= 0n) return undefined
  if (100n * timeNs >= BigInt(hotPercent) * totalNs) return "hot"
  if (100n * timeNs >= BigInt(warmPercent) * totalNs) return "warm"
  return undefined
}
