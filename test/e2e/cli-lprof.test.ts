/**
 * Python's dumps through the real bin: `lineprof show` of the four worker
 * .lprof files (run from test/golden, where their source seed_pool.py lives)
 * is line_profiler's own rendering of their merge, byte for byte, whether the
 * unit is named (us, ns) or given as line_profiler's seconds (1e-6, 1e-9).
 */
import { describe, expect, it } from "vitest"
import { join } from "node:path"
import { readText, repoRoot, runBin } from "./bin.ts"

const goldenDir = join(repoRoot, "test", "golden")
const dumps = ["worker-0.lprof", "worker-1.lprof", "worker-2.lprof", "worker-3.lprof"]

describe("lineprof show of Python line_profiler dumps", () => {
  for (const [unit, golden] of [
    ["us", "merged_us.txt"],
    ["1e-6", "merged_us.txt"],
    ["ns", "merged_native.txt"],
    ["1e-9", "merged_native.txt"]
  ] as const) {
    it(`--unit ${unit} renders ${golden}`, () => {
      const run = runBin(["show", "--unit", unit, ...dumps], { cwd: goldenDir })
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(run.stdout).toBe(readText(join(goldenDir, golden)))
    })
  }

  it("an unknown unit is a usage error (exit 2) naming the flag", () => {
    const run = runBin(["show", "--unit", "1e-4", ...dumps], { cwd: goldenDir })
    expect(run.code).toBe(2)
    expect(run.stdout).toBe("")
    expect(run.stderr).toContain("unit")
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
  })
})
