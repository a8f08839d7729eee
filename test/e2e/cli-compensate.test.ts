/**
 * Probe-cost compensation through `lineprof run`: `--no-compensate` (or
 * LINEPROF_COMPENSATE=0 in the environment) reports raw times, which include
 * at least one clock read per line event; the default subtracts the calibrated
 * probe cost. On a line that does almost nothing the two differ by tens of
 * nanoseconds a hit, far beyond run-to-run noise.
 */
import { describe, expect, it } from "vitest"
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

const perHitNs = (args: ReadonlyArray<string>, env: Record<string, string> = {}): number => {
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
    return Number(line!.timeNs) / Number(line!.hits)
  } finally {
    scratch.remove()
  }
}

describe("lineprof run: probe-cost compensation", () => {
  it("--no-compensate and LINEPROF_COMPENSATE=0 report raw times, above the compensated ones by at least 5 ns a hit", () => {
    const compensated = perHitNs([])
    const raw = perHitNs(["--no-compensate"])
    const rawFromEnv = perHitNs([], { LINEPROF_COMPENSATE: "0" })
    expect(raw).toBeGreaterThan(compensated + 5)
    expect(rawFromEnv).toBeGreaterThan(compensated + 5)
  })
})
