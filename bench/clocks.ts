/**
 * Clock candidates and a loop that measures the cost of one read, shared by
 * the clock and overhead benches so that both compare against the same figure.
 */
import { performance } from "node:perf_hooks"

export interface ClockCandidate {
  readonly name: string
  readonly read: () => unknown
}

export const clockCandidates: ReadonlyArray<ClockCandidate> = [
  { name: "performance.now()", read: () => performance.now() },
  { name: "process.hrtime()", read: () => process.hrtime() },
  { name: "process.hrtime.bigint()", read: () => process.hrtime.bigint() }
]

/** Median over 7 rounds of the ns per call of `read`, timed with hrtime.bigint around 2e6 calls. */
export const measureClockNs = (read: () => unknown, calls = 2_000_000): number => {
  const rounds: Array<number> = []
  let sink: unknown
  for (let round = 0; round < 8; round++) {
    const startNs = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) sink = read()
    const elapsedNs = Number(process.hrtime.bigint() - startNs)
    if (round > 0) rounds.push(elapsedNs / calls) // round 0 warms up the JIT
  }
  if (sink === Symbol.for("never")) console.log(sink)
  rounds.sort((a, b) => a - b)
  return rounds[Math.floor(rounds.length / 2)]!
}
