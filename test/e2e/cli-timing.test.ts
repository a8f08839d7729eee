/**
 * Timing modes through `lineprof run`: `--timing sampled` (or LINEPROF_TIMING)
 * gives the same hits as exact timing in the main thread, in a worker thread
 * and in a worker that is terminate()d while it runs; the stats file says
 * "sampled" with its interval and sample count, and the report has its
 * Timing line. An exact run whose probes took most of its time ends with a
 * note suggesting `--timing sampled`.
 */
import { describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { makeScratch, readText, runBin } from "./bin.ts"

const busy = `export function busy(ms) {
  const end = performance.now() + ms
  let spins = 0
  while (performance.now() < end) spins++
  return spins > 0
}
export function forever() {
  for (;;) busy(1)
}
`

const finite = `import { busy } from "./busy.mjs"
for (let i = 0; i < 30; i++) busy(2)
`

const stuck = `import { parentPort } from "node:worker_threads"
import { busy, forever } from "./busy.mjs"
busy(1)
parentPort.postMessage("running")
forever()
`

const program = `import { Worker } from "node:worker_threads"
import { busy } from "./busy.mjs"
const worker = (name) => new Worker(new URL(name, import.meta.url))
for (let i = 0; i < 50; i++) busy(4)
await new Promise((resolve) => worker("./finite.mjs").once("exit", resolve))
const stuck = worker("./stuck.mjs")
await new Promise((resolve) => stuck.once("message", resolve))
await new Promise((resolve) => setTimeout(resolve, 300))
await stuck.terminate()
console.log("done")
`

interface Recorded {
  readonly profile: Profile.Profile
  readonly stderr: string
}

const record = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Recorded => {
  const scratch = makeScratch()
  try {
    writeFileSync(join(scratch.dir, "busy.mjs"), busy)
    writeFileSync(join(scratch.dir, "main.mjs"), program)
    writeFileSync(join(scratch.dir, "finite.mjs"), finite)
    writeFileSync(join(scratch.dir, "stuck.mjs"), stuck)
    const run = runBin(["run", "-o", "out.json", ...args, "--", "main.mjs"], { cwd: scratch.dir, env })
    expect(run.stdout).toBe("done\n")
    expect(run.code).toBe(0)
    const decoded = StatsFile.decode(readText(join(scratch.dir, "out.json")), "out.json")
    if (decoded._tag === "Failure") throw new Error(decoded.failure)
    return { profile: decoded.success, stderr: run.stderr }
  } finally {
    scratch.remove()
  }
}

const hitsOf = (profile: Profile.Profile, name: string): ReadonlyArray<readonly [number, bigint]> =>
  profile.functions.find((fn) => fn.name === name)?.lines.map((line) => [line.lineNo, line.hits] as const) ?? []

describe("lineprof run --timing", () => {
  it("sampled: exact hits in the main thread and in workers (one terminate()d), sampled Time, a Timing line", () => {
    const sampled = record(["--timing", "sampled"])
    const timing = Profile.timingOf(sampled.profile)
    expect(timing?.mode).toBe("sampled")
    if (timing?.mode !== "sampled") return
    expect(timing.intervalNs).toBe(1_000_000)
    expect(Number(timing.samples)).toBeGreaterThan(0)
    expect(sampled.stderr).toMatch(/\nTiming: sampled, every 1 ms on average, \d+ samples \(hits exact, times estimated\)\n/)
    // busy(4) 50 times in the main thread and busy(2) 30 times in a worker: the call and return lines, exactly.
    const busyLines = new Map(hitsOf(sampled.profile, "busy"))
    expect(busyLines.get(2)).toBeGreaterThanOrEqual(80n)
    expect(busyLines.get(5)).toBeGreaterThanOrEqual(80n)
    // The terminate()d worker's lines are there, with time from the sampler.
    const forever = sampled.profile.functions.find((fn) => fn.name === "forever")
    expect(forever?.lines.find((line) => line.lineNo === 8)?.hits ?? 0n).toBeGreaterThan(0n)
    expect(Profile.totalTimeNs(forever!)).toBeGreaterThan(0n)
    // The main thread's and the first worker's 80 calls took at least 260 ms; the sampler found most of it.
    const spinLine = sampled.profile.functions.find((fn) => fn.name === "busy")?.lines.find((line) => line.lineNo === 4)
    expect(Number(spinLine?.timeNs ?? 0n)).toBeGreaterThan(0.5 * 260e6)

    const fromEnv = record([], { LINEPROF_TIMING: "sampled", LINEPROF_SAMPLE_INTERVAL_US: "500" })
    expect(Profile.timingOf(fromEnv.profile)).toMatchObject({ mode: "sampled", intervalNs: 500_000 })
    const exact = record(["--timing", "exact"], { LINEPROF_TIMING: "sampled" })
    expect(Profile.timingOf(exact.profile)?.mode).toBe("exact")
    expect(exact.stderr).not.toContain("Timing:")
    // Hits of the lines that ran a fixed number of times agree between the modes.
    for (const lineNo of [2, 5]) {
      expect(new Map(hitsOf(exact.profile, "busy")).get(lineNo)! >= 80n).toBe(true)
    }
  }, 120_000)

  it("exact: when the probes took most of the run, the report ends with a note suggesting --timing sampled", () => {
    const scratch = makeScratch()
    try {
      writeFileSync(
        join(scratch.dir, "tight.mjs"),
        "export function tiny(x) {\n  return x + 1\n}\nlet total = 0\nfor (let i = 0; i < 300000; i++) total = tiny(total)\nconsole.log(total)\n"
      )
      // A calibrated probe cost handed down as if a parent had measured it (1 µs, far above the real one), so that the
      // probes' share is over the threshold whatever the machine's load: the threshold itself is tested in Text.test.ts.
      const calibration = `${process.version} process.hrtime.bigint 1000`
      const run = runBin(["run", "-o", "out.json", "--", "tight.mjs"], { cwd: scratch.dir, env: { LINEPROF_CALIBRATION: calibration } })
      expect(run.code).toBe(0)
      expect(run.stderr).toMatch(/\nNote: lineprof's probes took at least \d+% of the profiled threads' time \(exact timing reads the clock at every line event\); try --timing sampled\n/)
    } finally {
      scratch.remove()
    }
  }, 60_000)
})
