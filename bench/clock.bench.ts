/**
 * The cost of one read of each candidate monotonic clock, measured here and
 * now: the recorder reads one clock per line event, so the cheapest one sets
 * the floor of lineprof's overhead (issue 3: "use the cheapest monotonic one").
 */
import { clockCandidates, measureClockNs } from "./clocks.ts"

const rows = clockCandidates.map((candidate) => ({ name: candidate.name, ns: measureClockNs(candidate.read) }))
const cheapest = Math.min(...rows.map((row) => row.ns))
console.log("| clock | ns per read | vs cheapest |")
console.log("|---|---:|---:|")
for (const row of rows) console.log(`| ${row.name} | ${row.ns.toFixed(1)} | ${(row.ns / cheapest).toFixed(2)}x |`)
