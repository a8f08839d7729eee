/**
 * The engine's two figures (issue 3), measured in one run on this machine:
 *
 * 1. Overhead: ns per line event on a tight, line-heavy loop (workloads/lineHeavy.mjs),
 *    (instrumented time - plain time) / line events, beside the cost of one read of the
 *    recorder's clock measured in the same run. Target: at most 1.5x the clock read.
 * 2. Accuracy: lines that spin for known durations (2, 20, 200 us) and a line that calls a
 *    profiled function; the reported Per Hit against the same calls timed unprofiled.
 *    Target: within 10%.
 *
 * For scale, the same loop in Python under line_profiler, in the same run, when a python3
 * with line_profiler is on the machine (Debian: apt-get install python3-line-profiler).
 *
 * The same module file is loaded twice: once through lineprof's hooks (instrumented), once
 * through a copy outside the include globs (plain), so both run the same code.
 */
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Hooks from "../src/shell/record/Hooks.ts"
import * as Recorder from "../src/shell/record/Recorder.ts"
import { clockCandidates, measureClockNs } from "./clocks.ts"

const workloads = join(dirname(fileURLToPath(import.meta.url)), "workloads")
const plainDir = mkdtempSync(join(tmpdir(), "lineprof-bench-plain-"))
const profiledDir = mkdtempSync(join(tmpdir(), "lineprof-bench-profiled-"))
for (const name of ["lineHeavy.mjs", "known.mjs", "spin.mjs"]) {
  copyFileSync(join(workloads, name), join(plainDir, name))
  copyFileSync(join(workloads, name), join(profiledDir, name))
}

Recorder.install()
Hooks.install({ cwd: profiledDir, include: [join(profiledDir, "lineHeavy.mjs"), join(profiledDir, "known.mjs")] })

const load = (dir: string, name: string): Promise<Record<string, (...args: Array<number>) => number>> =>
  import(pathToFileURL(join(dir, name)).href)

const plainHeavy = await load(plainDir, "lineHeavy.mjs")
const profiledHeavy = await load(profiledDir, "lineHeavy.mjs")

/** Median ns of one call of `run`, over rounds after a warm-up. */
const medianNs = (run: () => unknown, rounds = 9): number => {
  const samples: Array<number> = []
  for (let round = 0; round <= rounds; round++) {
    const startNs = process.hrtime.bigint()
    run()
    const elapsedNs = Number(process.hrtime.bigint() - startNs)
    if (round > 0) samples.push(elapsedNs)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]!
}

const sumHits = (): number => {
  let hits = 0n
  for (const fn of Recorder.snapshot().functions) for (const line of fn.lines) hits += line.hits
  return Number(hits)
}

// 1. Overhead per line event.
const n = 2_000_000
if (plainHeavy.work!(n) !== profiledHeavy.work!(n)) throw new Error("instrumented work(n) returned another result")
const plainNs = medianNs(() => plainHeavy.work!(n))
Recorder.reset()
// Median of 3 rounds (after a warm-up): one round alone is at the mercy of other processes on a shared machine.
const profiledRounds = 3
const profiledNs = medianNs(() => profiledHeavy.work!(n), profiledRounds)
const events = sumHits() / (profiledRounds + 1) // the warm-up ran too
const expectedEvents = 4 * n + 4
if (events !== expectedEvents) throw new Error(`line events: counted ${events}, expected ${expectedEvents}`)
const overheadNs = (profiledNs - plainNs) / events
const clockNs = Math.min(...clockCandidates.map((candidate) => measureClockNs(candidate.read)))

console.log("| figure | value |")
console.log("|---|---:|")
console.log(`| line events per call of work(${n}) | ${events} |`)
console.log(`| plain work(n) | ${(plainNs / 1e6).toFixed(1)} ms |`)
console.log(`| profiled work(n) | ${(profiledNs / 1e6).toFixed(1)} ms |`)
console.log(`| overhead per line event | ${overheadNs.toFixed(1)} ns |`)
console.log(`| one clock read (cheapest) | ${clockNs.toFixed(1)} ns |`)
console.log(`| overhead / clock read (target <= 1.5) | ${(overheadNs / clockNs).toFixed(2)} |`)
console.log(`| calibrated probe cost | ${Recorder.probeCostNs().toFixed(1)} ns |`)

/** Python's line_profiler on the same loop: ns per line event, or why it could not run. */
const pythonLineProfiler = (): string => {
  const script = join(workloads, "line_heavy_lprof.py")
  for (const python of ["/usr/bin/python3", "python3"]) {
    const run = spawnSync(python, [script, "300000"], { encoding: "utf8", timeout: 120_000 })
    if (run.status !== 0 || run.error !== undefined) continue
    const measured = JSON.parse(run.stdout) as { plainNs: number; profiledNs: number; events: number; version: string }
    const perEventNs = (measured.profiledNs - measured.plainNs) / measured.events
    return `${perEventNs.toFixed(1)} ns (line_profiler ${measured.version}; ${(perEventNs / overheadNs).toFixed(1)}x lineprof's)`
  }
  return "not measured: no python3 with line_profiler here"
}
console.log(`| Python line_profiler, same loop, per line event | ${pythonLineProfiler()} |`)

// 2. Accuracy against known durations. Rounds interleave profiled and plain runs and the
// median round is reported, so a burst of load from other processes skews neither side alone.
const plainKnown = await load(plainDir, "known.mjs")
const plainSpin = await load(plainDir, "spin.mjs")
const profiledKnown = await load(profiledDir, "known.mjs")
const calls = 200
const rounds = 9
const cases: Array<{ label: string; lineNo: number; plain: () => unknown }> = [
  { label: "spinNs(2000)", lineNo: 9, plain: () => plainSpin.spinNs!(2000) },
  { label: "spinNs(20000)", lineNo: 10, plain: () => plainSpin.spinNs!(20000) },
  { label: "spinNs(200000)", lineNo: 11, plain: () => plainSpin.spinNs!(200000) },
  { label: "callee() (profiled, spins 20 us)", lineNo: 12, plain: () => plainKnown.callee!() }
]
const plainPerCallNs = (run: () => unknown): number => {
  const startNs = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) run()
  return Number(process.hrtime.bigint() - startNs) / calls
}
for (let i = 0; i < 500; i++) profiledKnown.known!() // warm-up: let V8 optimise both sides alike
for (const c of cases) for (let i = 0; i < 500; i++) c.plain()
const samples = cases.map(() => ({ plainNs: [] as Array<number>, perHitNs: [] as Array<number> }))
for (let round = 0; round < rounds; round++) {
  Recorder.reset()
  for (let i = 0; i < calls; i++) profiledKnown.known!()
  const knownFn = Recorder.snapshot().functions.find((fn) => fn.name === "known")
  if (knownFn === undefined) throw new Error("known() was not profiled")
  cases.forEach((c, k) => {
    const line = knownFn.lines.find((entry) => entry.lineNo === c.lineNo)
    if (line === undefined || line.hits !== BigInt(calls)) throw new Error(`line ${c.lineNo}: expected ${calls} hits`)
    samples[k]!.perHitNs.push(Number(line.timeNs) / Number(line.hits))
    samples[k]!.plainNs.push(plainPerCallNs(c.plain))
  })
}
const median = (values: Array<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
console.log("")
console.log(`| line (${calls} calls, median of ${rounds} rounds) | unprofiled per call | reported Per Hit | error (target within 10%) |`)
console.log("|---|---:|---:|---:|")
let worst = 0
cases.forEach((c, k) => {
  const plainNs = median(samples[k]!.plainNs)
  const perHitNs = median(samples[k]!.perHitNs)
  const error = (perHitNs - plainNs) / plainNs
  worst = Math.max(worst, Math.abs(error))
  console.log(`| ${c.label} | ${(plainNs / 1000).toFixed(2)} us | ${(perHitNs / 1000).toFixed(2)} us | ${(error * 100).toFixed(1)}% |`)
})
console.log(`| worst | | | ${(worst * 100).toFixed(1)}% |`)
