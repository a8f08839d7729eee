/**
 * Writes a profile as a stats file (the format core/StatsFile reads and
 * describes): JSON text, one function a line. Kept apart from StatsFile's
 * Schema-based reader on purpose: every profiled process and thread loads
 * this encoder to deliver its stats, and the Schema machinery it does not
 * need would cost each of them milliseconds (see the start-up bench). The
 * format's laws are checked where the reader lives: `StatsFile.decode(encode(p))`
 * equals `p` for every valid profile (test/core/Profile.test.ts).
 */
import * as Profile from "./Profile.ts"

/** The format name and the version this encoder writes. */
export const formatName = "lineprof"
export const currentVersion = 2

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER)

/** A counter as JSON: a number up to 2^53 - 1, a digit string above (JSON numbers lose precision there). */
const count = (value: bigint): number | string => (value <= maxSafe ? Number(value) : String(value))

/** A profile's timing as the stats file writes it (counters as JSON numbers, or digit strings above 2^53 - 1); null for none. */
export const timingDocument = (timing: Profile.Timing | undefined): unknown => {
  if (timing === undefined) return null
  switch (timing.mode) {
    case "exact":
      return timing.probeNs === undefined
        ? { mode: "exact" }
        : { mode: "exact", probeNs: count(timing.probeNs), wallNs: count(timing.wallNs ?? 0n) }
    case "sampled":
      return { mode: "sampled", intervalNs: timing.intervalNs, samples: count(timing.samples) }
    case "mixed":
      return { mode: "mixed" }
  }
}

/**
 * The stats file of `profile`. Throws when the profile does not pass
 * `Profile.check` (an invalid profile is a bug of its producer, not input).
 */
export const encode = (profile: Profile.Profile): string => {
  const problems = Profile.check(profile)
  if (problems.length > 0) throw new Error(`cannot encode an invalid profile: ${problems[0]}`)
  const functions = profile.functions.map((fn) =>
    `    ${
      JSON.stringify({
        file: fn.file,
        name: fn.name,
        firstLine: fn.firstLine,
        lastLine: fn.lastLine,
        fileHash: fn.fileHash,
        source: fn.source ?? null,
        lines: fn.lines.map((line) => [line.lineNo, count(line.hits), count(line.timeNs), count(line.waitNs)])
      })
    }`
  )
  const body = functions.length === 0 ? "[]" : `[\n${functions.join(",\n")}\n  ]`
  return `{\n  "format": ${JSON.stringify(formatName)},\n  "version": ${currentVersion},\n  "timing": ${
    JSON.stringify(timingDocument(Profile.timingOf(profile)))
  },\n  "functions": ${body}\n}\n`
}
