/**
 * Sampled timing against exact timing (issue 11), side by side in one run on this machine. Costs are
 * the main thread's CPU time (process.threadCpuUsage), so other jobs on a shared machine do not count;
 * the sampler thread's CPU is reported apart. Every case
 * runs in a fresh Node process per mode (plain: not instrumented; exact; sampled), so that no JIT
 * state or recorder state crosses between them:
 *
 * Each figure is the median of samples of at least 200 ms of CPU (MIN_SAMPLE_NS): CPU time comes in
 * ticks of a few ms, coarser than one run of most cases.
 *
 * 1. tight loop, two line events per iteration (workloads/tight.mjs): ns per iteration.
 * 2. the seed's `child` over 10^6 calls (examples/power3.ts): ns per call.
 * 3. two npm libraries with the whole package instrumented: acorn parsing its own dist/acorn.js,
 *    marked rendering a fixed corpus of READMEs from node_modules: wall ms per round.
 * 4. accuracy (workloads/accuracy.mjs): `mix` runs for ACCURACY_SECONDS; each line's share of mix's
 *    Time against its share measured unprofiled in the same child (the three operations timed alone,
 *    in interleaved rounds), with the standard error that the number of samples allows, and mix's
 *    Time against the wall time measured around the calls.
 * 5. the sampler's cost: its thread's CPU time (process.threadCpuUsage in the sampler) over its
 *    wall time, at several intervals, with the samples it took a second.
 * 6. hits: identical between exact and sampled on every case (checked, the bench fails otherwise).
 */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const benchDir = dirname(fileURLToPath(import.meta.url))
const repo = join(benchDir, "..")
const workloads = join(benchDir, "workloads")

type Mode = "plain" | "exact" | "sampled"

interface ChildResult {
  /** The case's figure: ns per iteration / call, or ms per round. */
  readonly value: number
  /** name:line -> hits (profiled modes). */
  readonly hits: Record<string, string>
  readonly extra: Record<string, number>
}

const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** This thread's CPU time in ns: on a machine shared with other jobs, wall time measures their load as much as ours. */
const cpuNs = (): number => {
  const usage = process.threadCpuUsage()
  return (usage.user + usage.system) * 1000
}

/**
 * CPU time is counted in the kernel's ticks (4 ms on these machines), so a sample times enough runs to
 * take at least this long: a tick is then at most 2% of it.
 */
const MIN_SAMPLE_NS = 200e6

/**
 * Median CPU ns of one `run()` over `rounds` samples, after warm-up runs that also find how many runs a
 * sample needs to last MIN_SAMPLE_NS.
 */
const medianNs = (run: () => unknown, rounds: number): number => {
  let runs = 1
  for (;;) {
    const startNs = cpuNs()
    for (let k = 0; k < runs; k++) run()
    if (cpuNs() - startNs >= MIN_SAMPLE_NS) break
    runs *= 2
  }
  const samples: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    const startNs = cpuNs()
    for (let k = 0; k < runs; k++) run()
    samples.push((cpuNs() - startNs) / runs)
  }
  return median(samples)
}

/**
 * How long the accuracy case calls mix(). A share p estimated from N samples has a relative standard
 * error of sqrt((1 - p) / (p N)): for the smallest line (p about 3%) within 10% at two standard errors
 * that takes about 14,000 samples, 14 s at the default 1 ms.
 */
const ACCURACY_SECONDS = 15

// ---------------------------------------------------------------------------
// The child: one case in one mode

const child = async (caseName: string, mode: Mode, intervalUs: number): Promise<ChildResult> => {
  const Recorder = await import("../src/shell/record/Recorder.ts")
  const Hooks = await import("../src/shell/record/Hooks.ts")
  const Sampler = await import("../src/shell/record/Sampler.ts")
  const profile = (include: ReadonlyArray<string>): void => {
    if (mode === "plain") return
    Recorder.install({ timing: mode, sampleIntervalNs: intervalUs * 1000 })
    Hooks.install({ cwd: repo, include, exclude: [] })
  }
  const hitsNow = (): Record<string, string> => {
    const hits: Record<string, string> = {}
    if (mode === "plain") return hits
    for (const fn of Recorder.snapshot().functions) for (const line of fn.lines) hits[`${fn.name}:${line.lineNo}`] = String(line.hits)
    return hits
  }
  /** Keeps a profiled frame busy until the sampler thread has started (tens of ms), so that no case measures its start-up. */
  const waitForSampler = (busy: () => unknown): void => {
    if (mode !== "sampled") return
    const deadline = performance.now() + 10_000
    while (Recorder.timingNow().mode === "sampled" && (Recorder.timingNow() as { samples: bigint }).samples === 0n && performance.now() < deadline) busy()
  }
  const samplerCost = (): Record<string, number> => {
    const stats = Sampler.stats()
    return stats === undefined ? {} : { samplerCpuShare: stats.cpuNs / stats.wallNs, samplesPerSecond: stats.samples / (stats.wallNs / 1e9) }
  }
  const load = (file: string, query = ""): Promise<Record<string, any>> => import(pathToFileURL(file).href + query)

  switch (caseName) {
    case "tight": {
      const file = join(workloads, "tight.mjs")
      profile([file])
      const { tight } = await load(file)
      const n = 5_000_000
      waitForSampler(() => tight(1000))
      const ns = medianNs(() => tight(n), 5)
      return { value: ns / n, hits: {}, extra: samplerCost() }
    }
    case "seed": {
      const file = join(repo, "examples", "power3.ts")
      profile([file])
      const { child: seedChild } = await load(file)
      waitForSampler(() => seedChild(2))
      const calls = 1_000_000
      let sink = 0
      const ns = medianNs(() => {
        for (let i = 0; i < calls; i++) sink += seedChild(i)
      }, 5)
      // The sum is used, so V8 cannot drop the calls of the plain run.
      return { value: ns / calls, hits: {}, extra: { ...samplerCost(), sink: sink > 0 ? 1 : 0 } }
    }
    case "acorn": {
      const pkg = join(repo, "node_modules", "acorn")
      profile([pkg])
      const acorn = await load(join(pkg, "dist", "acorn.mjs"))
      const text = readFileSync(join(pkg, "dist", "acorn.js"), "utf8")
      const parse = () => acorn.parse(text, { ecmaVersion: "latest", sourceType: "script" })
      waitForSampler(() => acorn.parse("let x = 1", { ecmaVersion: "latest" }))
      const ns = medianNs(parse, 9)
      return { value: ns / 1e6, hits: {}, extra: samplerCost() }
    }
    case "marked": {
      const pkg = join(repo, "node_modules", "marked")
      profile([pkg])
      const { marked } = await load(join(pkg, "lib", "marked.esm.js"))
      const corpus = ["marked", "acorn", "effect", "fast-check", "chai", "magic-string"]
        .map((name) => readFileSync(join(repo, "node_modules", name, "README.md"), "utf8"))
        .join("\n\n")
      waitForSampler(() => marked.parse("# a\n\nb *c*"))
      const ns = medianNs(() => {
        for (let k = 0; k < 5; k++) marked.parse(corpus)
      }, 5)
      return { value: ns / 1e6, hits: {}, extra: samplerCost() }
    }
    case "accuracy": {
      const file = join(workloads, "accuracy.mjs")
      // The unprofiled shares, measured in this child with the plain module before any hook exists.
      const plain = await load(join(workloads, "accuracy.mjs"))
      const text = JSON.stringify(Array.from({ length: 200 }, (_, k) => ({ k, name: `item ${k}`, tags: ["a", "b"], value: k * 1.5 })))
      // Interleaved rounds (A B C A B C …), so that a drift of the machine's speed weighs on all three alike,
      // timed on the wall clock (CPU time's ticks are longer than a batch); the median drops preempted rounds.
      const ops = [() => plain.loop(1000), () => plain.loop(3000), () => JSON.parse(text).length]
      // The results are used, so that V8 cannot drop the calls.
      let sink = 0
      const batch = (op: () => number) => {
        for (let k = 0; k < 200; k++) sink += op()
      }
      for (let k = 0; k < 20; k++) ops.forEach(batch)
      const opSamples: Array<Array<number>> = ops.map(() => [])
      for (let round = 0; round < 201; round++) {
        ops.forEach((op, k) => {
          const startNs = process.hrtime.bigint()
          batch(op)
          opSamples[k]!.push(Number(process.hrtime.bigint() - startNs))
        })
      }
      const opsNs = opSamples.map(median)
      if (sink === 0) throw new Error("the unprofiled operations returned nothing")
      const opsTotal = opsNs.reduce((a, b) => a + b, 0)
      profile([file])
      const { mix } = await load(file, "?profiled")
      waitForSampler(() => mix(text))
      for (let k = 0; k < 200; k++) mix(text)
      Recorder.reset()
      const startNs = process.hrtime.bigint()
      let calls = 0
      while (process.hrtime.bigint() - startNs < BigInt(ACCURACY_SECONDS) * 1_000_000_000n) {
        for (let k = 0; k < 50; k++) mix(text)
        calls += 50
      }
      const wallNs = Number(process.hrtime.bigint() - startNs)
      const mixFn = Recorder.snapshot().functions.find((fn) => fn.name === "mix")!
      const lineNs = (lineNo: number) => Number(mixFn.lines.find((line) => line.lineNo === lineNo)?.timeNs ?? 0n)
      const mixNs = mixFn.lines.reduce((sum, line) => sum + Number(line.timeNs), 0)
      const shares = [10, 11, 12].map((lineNo) => lineNs(lineNo) / mixNs)
      return {
        value: mixNs / wallNs,
        hits: hitsNow(),
        extra: {
          calls,
          ...Object.fromEntries(shares.map((share, k) => [`share${k}`, share])),
          ...Object.fromEntries(opsNs.map((ns, k) => [`plainShare${k}`, ns / opsTotal])),
          samples: mode === "sampled" ? Number((Recorder.timingNow() as { samples: bigint }).samples) : 0,
          ...samplerCost()
        }
      }
    }
    case "idle-sampler": {
      // The sampler's own cost: a thread in a profiled busy loop for 2 s at the given interval.
      const file = join(workloads, "tight.mjs")
      profile([file])
      const { tight } = await load(file)
      waitForSampler(() => tight(1000))
      const startNs = process.hrtime.bigint()
      while (process.hrtime.bigint() - startNs < 2_000_000_000n) tight(100_000)
      return { value: 0, hits: {}, extra: samplerCost() }
    }
  }
  throw new Error(`unknown case ${caseName}`)
}

// ---------------------------------------------------------------------------
// The parent: every case in every mode, then the tables

const runChild = (caseName: string, mode: Mode, intervalUs = 1000): ChildResult => {
  const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", caseName, mode, String(intervalUs)], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "", LINEPROF_CALIBRATION: "", LINEPROF_SAMPLER: "" },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000
  })
  if (run.status !== 0) throw new Error(`${caseName} (${mode}) failed: ${run.stderr}`)
  return JSON.parse(run.stdout.trim().split("\n").pop()!)
}

const parent = (): void => {
  const ratio = (value: number, base: number): string => `${(value / base).toFixed(2)}x`
  console.log("| workload | unprofiled | exact | sampled | exact / unprofiled | sampled / unprofiled (target) |")
  console.log("|---|---:|---:|---:|---:|---:|")
  const rows: Array<[string, string, string, number]> = [
    ["tight", "tight loop, 2 line events an iteration (ns/iteration)", "ns", 4],
    ["seed", "seed child, 10^6 calls (ns/call)", "ns", 3],
    ["acorn", "acorn: parse dist/acorn.js (246 kB), whole package (ms)", "ms", 1.5],
    ["marked", "marked: 5x a 6-README corpus, whole package (ms)", "ms", 1.5]
  ]
  for (const [caseName, label, unit, target] of rows) {
    const [plain, exact, sampled] = (["plain", "exact", "sampled"] as const).map((mode) => runChild(caseName, mode))
    const digits = unit === "ns" ? 2 : 1
    console.log(
      `| ${label} | ${plain!.value.toFixed(digits)} | ${exact!.value.toFixed(digits)} | ${sampled!.value.toFixed(digits)} | ` +
        `${ratio(exact!.value, plain!.value)} | ${ratio(sampled!.value, plain!.value)} (<= ${target}x) |`
    )
  }

  // Accuracy, exact beside sampled.
  const exact = runChild("accuracy", "exact")
  const sampled = runChild("accuracy", "sampled")
  console.log("")
  const samples = sampled.extra["samples"]!
  console.log(
    `| accuracy: line of mix() (${ACCURACY_SECONDS} s of calls; ${samples} samples) | unprofiled share | exact share | exact error | sampled share | sampled error (target within 10%) | sampling's standard error |`
  )
  console.log("|---|---:|---:|---:|---:|---:|---:|")
  const labels = ["loop(1000) (profiled callee)", "loop(3000) (profiled callee)", "JSON.parse (not profiled)"]
  const percent = (value: number) => `${(value * 100).toFixed(1)}%`
  labels.forEach((label, k) => {
    const truth = sampled.extra[`plainShare${k}`]!
    const exactShare = exact.extra[`share${k}`]!
    const sampledShare = sampled.extra[`share${k}`]!
    const standardError = Math.sqrt((1 - sampledShare) / (sampledShare * samples))
    console.log(
      `| ${label} | ${percent(truth)} | ${percent(exactShare)} | ${percent((exactShare - exact.extra[`plainShare${k}`]!) / exact.extra[`plainShare${k}`]!)} | ` +
        `${percent(sampledShare)} | ${percent((sampledShare - truth) / truth)} | ${percent(standardError)} |`
    )
  })
  console.log(
    `| mix()'s Time / wall time around the calls (target within 20%) | | ${percent(exact.value)} | ${percent(exact.value - 1)} | ${percent(sampled.value)} | ${percent(sampled.value - 1)} | |`
  )
  console.log(`| hits identical, exact vs sampled (${sampled.extra["calls"]} vs ${exact.extra["calls"]} calls: compared per call) | | | | | ${sameHitsPerCall(exact, sampled) ? "yes" : "NO"} | |`)
  if (!sameHitsPerCall(exact, sampled)) process.exitCode = 1

  // The sampler's cost at several intervals.
  console.log("")
  console.log("| sampler interval | samples a second | sampler CPU (% of one core; target <= 5% at the default) |")
  console.log("|---|---:|---:|")
  for (const intervalUs of [250, 500, 1000, 2000]) {
    const run = runChild("idle-sampler", "sampled", intervalUs)
    console.log(
      `| ${intervalUs} us${intervalUs === 1000 ? " (default)" : ""} | ${run.extra["samplesPerSecond"]!.toFixed(0)} | ${(run.extra["samplerCpuShare"]! * 100).toFixed(2)}% |`
    )
  }
}

/** Hits scale with the number of calls: compare each line's hits per call. */
const sameHitsPerCall = (a: ChildResult, b: ChildResult): boolean => {
  const callsA = a.extra["calls"]!
  const callsB = b.extra["calls"]!
  const keys = new Set([...Object.keys(a.hits), ...Object.keys(b.hits)])
  for (const key of keys) {
    if (Number(a.hits[key] ?? 0) / callsA !== Number(b.hits[key] ?? 0) / callsB) return false
  }
  return keys.size > 0
}

const argv = process.argv.slice(2)
if (argv[0] === "--child") {
  const result = await child(argv[1]!, argv[2] as Mode, Number(argv[3] ?? 1000))
  console.log(JSON.stringify(result))
  process.exit(0)
} else {
  parent()
}
