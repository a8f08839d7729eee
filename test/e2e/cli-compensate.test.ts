/**
 * Probe-cost compensation through `lineprof run`: the default subtracts the
 * calibrated probe cost from every line event, and the stats file says how
 * much it subtracted (`timing.probeNs`, the total, with the wall time it was
 * taken from); `--no-compensate` (or LINEPROF_COMPENSATE=0 in the environment)
 * subtracts nothing and records nothing. Checked on what each run recorded,
 * not by comparing the times of separate runs: those move with the machine's
 * load (once a compensated run measured 76 ns a hit against a raw run's 55).
 * The bench (engine) holds compensated times to known durations.
 */
import { assert, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeScratch, readText, runBin } from "./bin.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"

const program = `export function tiny(x) {
  return x + 1
}
let total = 0
for (let i = 0; i < 300000; i++) total = tiny(total)
console.log(total)
`

/** The stats of one run of the tiny program: the line's hits and time, and the timing the file records. */
const runTiny = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const scratch = makeScratch()
  try {
    writeFileSync(join(scratch.dir, "tiny.mjs"), program)
    const run = runBin(["run", "--no-report", "-o", "out.json", ...args, "--", "tiny.mjs"], { cwd: scratch.dir, env })
    expect(run.stdout).toBe("300000\n")
    expect(run.code).toBe(0)
    const decoded = StatsFile.decode(readText(join(scratch.dir, "out.json")), "out.json")
    if (decoded._tag === "Failure") throw new Error(decoded.failure)
    const line = decoded.success.functions.find((fn) => fn.name === "tiny")?.lines.find((entry) => entry.lineNo === 2)
    expect(line?.hits).toBe(300000n)
    return { timeNs: line!.timeNs, timing: decoded.success.timing }
  } finally {
    scratch.remove()
  }
}

describe("lineprof run: probe-cost compensation", () => {
  it("by default the probe cost is subtracted and recorded (at least 5 ns a line event); --no-compensate and LINEPROF_COMPENSATE=0 subtract and record none", () => {
    const compensated = runTiny([])
    assert(compensated.timing?.mode === "exact")
    // 300,000 calls of tiny: its line and its exit are 2 probe events a call, at a calibrated cost of tens of ns.
    expect(compensated.timing.probeNs).toBeGreaterThanOrEqual(2n * 300_000n * 5n)
    expect(compensated.timing.wallNs).toBeGreaterThan(compensated.timing.probeNs!)
    for (const raw of [runTiny(["--no-compensate"]), runTiny([], { LINEPROF_COMPENSATE: "0" })]) {
      // Exact timing with nothing subtracted (a file may leave the exact timing implied).
      expect(raw.timing ?? { mode: "exact" }).toEqual({ mode: "exact" })
      // Raw times hold at least the clock read of each hit (the cheapest clock takes tens of ns here).
      expect(raw.timeNs).toBeGreaterThan(300_000n * 5n)
    }
  })
})
