/**
 * Sampled timing (issue 11) and recursion counted once in both modes:
 *
 * - the instrument corpus run under exact and under sampled timing, each in a
 *   fresh Node: the same results and exactly the same hits, and the shadow
 *   line stack back at depth 0 after every program (push/pop balanced on
 *   return, throw, await, yield, generator throw()/return(), `await using`);
 * - the sampler thread credits the time it measures to the lines on the
 *   stack, nothing to a thread with no profiled frame, and the counters of a
 *   terminate()d worker keep what it sampled;
 * - random recursive programs (fast-check): hits equal a model's, and no
 *   line's Time exceeds the wall time measured around the call.
 *
 * Times from the sampler are checked against bounds the workload guarantees
 * (wall time measured in the same process), never against fixed durations.
 */
import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as vm from "node:vm"
import { type LoadFormat, instrumentSource } from "../../../src/core/Instrument.ts"
import { InlineGlobals, type ProbeStyle } from "../../../src/core/Probe.ts"
import * as Profile from "../../../src/core/Profile.ts"
import * as Hooks from "../../../src/shell/record/Hooks.ts"
import * as Recorder from "../../../src/shell/record/Recorder.ts"
import * as Sampler from "../../../src/shell/record/Sampler.ts"

const recorderPath = fileURLToPath(new URL("../../../src/shell/record/Recorder.ts", import.meta.url))
const corpusDir = fileURLToPath(new URL("../../core/instrument-corpus/", import.meta.url))
const corpusFiles = fs.readdirSync(corpusDir).filter((name) => /\.(c|m)?(j|t)s$/.test(name)).sort()

const formatOf = (file: string): LoadFormat =>
  file.endsWith(".mts") ? "module-typescript" : file.endsWith(".cts") ? "commonjs-typescript" : file.endsWith(".mjs") ? "module" : "commonjs"

/** Runs in a child Node: installs the recorder in the mode of argv[3], runs each corpus file's main, prints results, hits and stack depths. */
const RUNNER = `
import * as Recorder from ${JSON.stringify(recorderPath)}
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { inspect } from "node:util"

const manifest = JSON.parse(readFileSync(process.argv[2], "utf8"))
Recorder.install({ timing: process.argv[3] })
Recorder.allocateSlots(manifest.slotCount)
for (const entry of manifest.entries) {
  Recorder.registerFile({ file: entry.name, fileHash: "", sourceText: entry.source, functions: entry.functions })
}
const require = createRequire(import.meta.url)
const show = (value) => (typeof value === "string" ? value : inspect(value, { depth: 6 }))
const results = {}
const depths = {}
for (const entry of manifest.entries) {
  const file = manifest.dir + "/" + entry.name
  const log = []
  try {
    const module = entry.format.startsWith("commonjs") ? require(file) : await import(pathToFileURL(file).href)
    results[entry.name] = { log, result: show(await module.main((...args) => log.push(args.map(show).join(" ")))) }
  } catch (error) {
    results[entry.name] = { log, error: String(error?.message) }
  }
  await new Promise((resolve) => setTimeout(resolve, 5))
  depths[entry.name] = Recorder.stackDepth()
}
const profile = Recorder.snapshot()
const hits = {}
for (const fn of profile.functions) {
  const byLine = (hits[fn.file + " " + fn.name] ??= {})
  for (const line of fn.lines) byLine[line.lineNo] = String(line.hits)
}
process.stdout.write(JSON.stringify({ results, hits, depths, timing: profile.timing?.mode ?? "exact" }))
`

interface CorpusRun {
  readonly results: Record<string, unknown>
  readonly hits: Record<string, Record<string, string>>
  readonly depths: Record<string, number>
  readonly timing: string
}

describe("the corpus under sampled timing, with probe calls and with inline probes", () => {
  let exact: CorpusRun
  let sampled: CorpusRun
  let inline: CorpusRun

  beforeAll(() => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "lineprof-sampled-corpus-"))
    try {
      fs.writeFileSync(path.join(work, "runner.mjs"), RUNNER)
      /** The corpus instrumented with `probes`, run in a fresh Node under timing `mode`. */
      const runIn = (mode: string, probes: ProbeStyle): CorpusRun => {
        let slotBase = 1
        const entries = corpusFiles.map((name) => {
          const source = fs.readFileSync(path.join(corpusDir, name), "utf8")
          const format = formatOf(name)
          const result = instrumentSource(source, { file: name, format, slotBase, probes })
          slotBase += result.slotCount
          return { name, format, source, code: result.code, functions: result.functions }
        })
        const dir = path.join(work, `${mode}-${probes}`)
        fs.mkdirSync(dir)
        for (const entry of entries) fs.writeFileSync(path.join(dir, entry.name), entry.code)
        const manifest = path.join(work, `${mode}-${probes}.json`)
        fs.writeFileSync(manifest, JSON.stringify({ dir, slotCount: slotBase - 1, entries }))
        const child = spawnSync(process.execPath, [path.join(work, "runner.mjs"), manifest, mode], {
          encoding: "utf8",
          env: { ...process.env, NODE_OPTIONS: "", [Sampler.SAMPLER_ENV]: "" }
        })
        if (child.status !== 0) throw new Error(`corpus runner (${mode}, ${probes}) failed (${child.status}): ${child.stderr}`)
        return JSON.parse(child.stdout)
      }
      exact = runIn("exact", "calls")
      sampled = runIn("sampled", "calls")
      inline = runIn("sampled", "inline")
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  }, 120_000)

  it("each mode says which it is", () => {
    assert.deepStrictEqual([exact.timing, sampled.timing, inline.timing], ["exact", "sampled", "sampled"])
  })

  it("the same results and exactly the same hits on every line of every corpus file", () => {
    assert.deepStrictEqual(sampled.results, exact.results)
    assert.deepStrictEqual(sampled.hits, exact.hits)
    assert.deepStrictEqual(inline.results, exact.results)
    assert.deepStrictEqual(inline.hits, exact.hits)
    assert.isAbove(Object.keys(exact.hits).length, 20)
  })

  it.each(corpusFiles)("%s leaves the shadow stack empty (every push popped), with calls and inline", (name) => {
    assert.deepStrictEqual([sampled.depths[name], inline.depths[name]], [0, 0])
  })
})

// ---------------------------------------------------------------------------
// In this thread: instrumented code through vm, as in Recorder.test.ts

let fileCounter = 0
const load = (source: string, globals: Record<string, unknown> = {}, probes: ProbeStyle = "calls") => {
  const file = `/virtual/sampler-${++fileCounter}.cjs`
  const result = instrumentSource(source, { file, format: "commonjs", slotBase: Recorder.nextSlot(), probes })
  Recorder.allocateSlots(result.slotCount)
  Recorder.registerFile({ file, fileHash: "h", sourceText: source, functions: result.functions })
  const module = { exports: {} as Record<string, any> }
  const names = Object.keys(globals)
  vm.runInThisContext(`(function (exports, module, ${names.join(", ")}) {${result.code}\n})`, { filename: file })(
    module.exports,
    module,
    ...names.map((name) => globals[name])
  )
  const functions = (): ReadonlyArray<Profile.FunctionProfile> => Recorder.snapshot().functions.filter((fn) => fn.file === file)
  return { exports: module.exports, functions }
}

const lineOf = (functions: ReadonlyArray<Profile.FunctionProfile>, name: string, lineNo: number): Profile.LineStats => {
  const stats = functions.find((fn) => fn.name === name)?.lines.find((line) => line.lineNo === lineNo)
  assert.isDefined(stats, `${name}:${lineNo} profiled`)
  return stats!
}

/** Busy for `ms` of wall time (not profiled: it is passed in, not part of the instrumented source). */
const spinMs = (ms: number): void => {
  const end = performance.now() + ms
  while (performance.now() < end) {}
}
/** Busy for `n` iterations. */
const spin = (n: number): number => {
  let x = 0
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1_000_003
  return x
}

const timingOf = (): Extract<Profile.Timing, { readonly mode: "sampled" }> => {
  const timing = Recorder.timingNow()
  assert.strictEqual(timing.mode, "sampled")
  return timing as Extract<Profile.Timing, { readonly mode: "sampled" }>
}

let waiter: { readonly wait: () => void } | undefined

/**
 * Keeps a profiled frame on the stack, 1 ms at a time, until the sampler has
 * sampled this thread in one of those ms; returns when that ms began. The
 * next sample's interval then starts no earlier: a bound for what the
 * sampler can credit to code that runs next, however late the machine lets
 * it wake (it also waits out the sampler thread's start).
 */
const sampledSince = (): number => {
  waiter ??= load("exports.wait = function wait() {\n  spinMs(1)\n}", { spinMs }).exports as { readonly wait: () => void }
  const deadline = performance.now() + 10_000
  for (;;) {
    const before = timingOf().samples
    const startNs = Number(process.hrtime.bigint())
    waiter.wait()
    if (timingOf().samples > before) return startNs
    assert.isBelow(performance.now(), deadline, "the sampler samples")
  }
}

describe("inline probes' 32-bit hit counters", () => {
  it("the load hooks give a file inline probes when it loads under sampled timing, probe calls under exact", () => {
    const source = "export function f(x) {\n  return x + 1\n}\n"
    const url = pathToFileURL(path.join(os.tmpdir(), "lineprof-probe-style.mjs")).href
    // A selection of functions bypasses the instrument cache: the code is made here and now.
    const choice = { functions: () => true, sourceMaps: false }
    Recorder.install({ timing: "exact" })
    const exactCode = Hooks.instrumentLoaded(url, "module", source, choice)
    Recorder.install({ timing: "sampled" })
    const sampledCode = Hooks.instrumentLoaded(url, "module", source, choice)
    assert.include(exactCode, "__lp$h(")
    assert.notInclude(exactCode, "__lp$c[")
    assert.include(sampledCode, "__lp$c[")
    assert.notInclude(sampledCode, "__lp$h(")
  })

  it("inline code loaded before the counters grow counts into the new ones after (nothing lost across the growth)", () => {
    Recorder.install({ timing: "sampled" })
    const { exports, functions } = load("exports.twice = function twice(n) {\n  return n * 2\n}", {}, "inline")
    for (let k = 0; k < 5; k++) exports.twice(k)
    const before = (globalThis as unknown as Record<string, Uint32Array>)[InlineGlobals.counts]!
    // More slots than the sampled store starts with: the counters are reallocated.
    Recorder.allocateSlots(2 * before.length)
    const after = (globalThis as unknown as Record<string, Uint32Array>)[InlineGlobals.counts]!
    assert.notStrictEqual(after, before)
    for (let k = 0; k < 7; k++) exports.twice(k)
    assert.strictEqual(lineOf(functions(), "twice", 2).hits, 12n)
  })

  it("the sampler thread folds the hot counters into the totals by itself (no reader asked)", async () => {
    Recorder.install({ timing: "sampled" })
    sampledSince()
    const { exports } = load("exports.thrice = function thrice(n) {\n  return n * 3\n}", {}, "inline")
    let hits: Float64Array | undefined
    const unsubscribe = Recorder.subscribe((event) => {
      if (event._tag === "Buffers") hits = event.hits
    })
    unsubscribe()
    const thrice = Recorder.registrations().at(-1)!.functions.find((fn) => fn.name === "thrice")!
    const slot = thrice.slots[thrice.lines.indexOf(2)]!
    // Nothing in this thread reads the counters from here on (no snapshot, no delivery): only the sampler folds.
    for (let k = 0; k < 9; k++) exports.thrice(k)
    const deadline = performance.now() + 10_000
    while (hits![slot] !== 9 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.strictEqual(hits![slot], 9)
  })

  it("a thread that switches to exact timing keeps exact hits for code loaded with inline probes, and no Time for it (README)", () => {
    Recorder.install({ timing: "sampled" })
    const { exports, functions } = load("exports.spinning = function spinning(ms) {\n  spinMs(ms)\n}", { spinMs }, "inline")
    Recorder.install({ timing: "exact" })
    try {
      for (let k = 0; k < 4; k++) exports.spinning(5)
      const spun = lineOf(functions(), "spinning", 2)
      assert.strictEqual(spun.hits, 4n)
      assert.strictEqual(spun.timeNs, 0n)
    } finally {
      Recorder.install({ timing: "sampled" })
    }
  })

  it("a line whose counter passes 2^32 keeps its exact total (the fold sees the wrap)", () => {
    Recorder.install({ timing: "sampled" })
    const { exports, functions } = load("exports.tick = function tick(n) {\n  for (let i = 0; i < n; i++) {}\n  return n\n}", {}, "inline")
    exports.tick(3)
    const header = lineOf(functions(), "tick", 2)
    assert.strictEqual(header.hits, 4n)
    // Move the hot counter of that line to 6 below 2^32, as 2^32 - 10 more line events would (a fold in between).
    const counts = (globalThis as unknown as Record<string, Uint32Array>)[InlineGlobals.counts]!
    const tick = Recorder.registrations().at(-1)!.functions.find((fn) => fn.name === "tick")!
    const slot = tick.slots[tick.lines.indexOf(2)]!
    assert.strictEqual(counts[slot], 4)
    counts[slot] = 2 ** 32 - 6
    assert.strictEqual(lineOf(functions(), "tick", 2).hits, BigInt(2 ** 32 - 6))
    exports.tick(10)
    // 11 more events: the counter wrapped to 5, the total did not.
    assert.strictEqual(counts[slot], 5)
    assert.strictEqual(lineOf(functions(), "tick", 2).hits, BigInt(2 ** 32 + 5))
    assert.strictEqual(lineOf(functions(), "tick", 3).hits, 2n)
  })
})

describe("the sampler thread", () => {
  beforeAll(() => {
    Recorder.install({ timing: "sampled" })
    sampledSince()
  })

  it("credits the time it measures to every line on the stack, each line once a sample, and nothing while no profiled frame runs", async () => {
    const { exports, functions } = load(
      [
        "function descend(depth, ms) {", // 1
        "  if (depth === 0) return spinMs(ms)", // 2
        "  return descend(depth - 1, ms)", // 3
        "}", // 4
        "exports.main = function main() {", // 5
        "  spinMs(60)", // 6
        "  descend(8, 120)", // 7
        "}" // 8
      ].join("\n"),
      { spinMs }
    )
    const before = timingOf().samples
    const sinceNs = sampledSince()
    const startNs = process.hrtime.bigint()
    exports.main()
    const endNs = process.hrtime.bigint()
    const wallNs = Number(endNs - startNs)
    const boundNs = Number(endNs) - sinceNs
    assert.strictEqual(Recorder.stackDepth(), 0)
    const fns = functions()
    const samples = Number(timingOf().samples - before)
    assert.isAbove(samples, 0)
    // Hits are exact.
    assert.strictEqual(lineOf(fns, "descend", 3).hits, 8n)
    assert.strictEqual(lineOf(fns, "descend", 2).hits, 9n)
    // The recursive line is on the stack 8 times a sample and counts once: never more than the wall time
    // since the last sample before the call.
    const recursiveNs = Number(lineOf(fns, "descend", 3).timeNs)
    const mainNs = Number(lineOf(fns, "main", 6).timeNs) + Number(lineOf(fns, "main", 7).timeNs)
    assert.isAtMost(recursiveNs, boundNs)
    assert.isAtMost(mainNs, boundNs)
    // Most of the wall time is found: the sampler ran while main did.
    assert.isAtLeast(mainNs, 0.5 * wallNs)
    assert.isAtLeast(recursiveNs, 0.25 * wallNs)
    // Idle: no profiled frame on the stack, no sample and no time.
    const idleBefore = Recorder.snapshot()
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.deepStrictEqual(Recorder.snapshot(), idleBefore)
  })

  it("one sampler a process: a worker started once the sampler listens attaches to it and is sampled", async () => {
    const { Worker } = await import("node:worker_threads")
    const samplerPath = fileURLToPath(new URL("../../../src/shell/record/Sampler.ts", import.meta.url))
    const instrumentPath = fileURLToPath(new URL("../../../src/core/Instrument.ts", import.meta.url))
    const script = [
      `const Recorder = await import(${JSON.stringify(recorderPath)})`,
      `const Sampler = await import(${JSON.stringify(samplerPath)})`,
      `const { instrumentSource } = await import(${JSON.stringify(instrumentPath)})`,
      "const { parentPort } = await import('node:worker_threads')",
      "Recorder.install({ timing: 'sampled' })",
      "const source = 'function spin(ms) {\\n  const end = performance.now() + ms\\n  while (performance.now() < end) {}\\n}\\nglobalThis.spin = spin\\n'",
      "const result = instrumentSource(source, { file: '/virtual/spin.cjs', format: 'commonjs', slotBase: Recorder.nextSlot() })",
      "Recorder.allocateSlots(result.slotCount)",
      "new Function(result.code)()",
      "const deadline = performance.now() + 10_000",
      "while (Recorder.timingNow().samples === 0n && performance.now() < deadline) globalThis.spin(2)",
      "parentPort.postMessage({ ownSampler: Sampler.stats() !== undefined, samples: String(Recorder.timingNow().samples), sampler: process.env.LINEPROF_SAMPLER ?? '' })"
    ].join("\n")
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "lineprof-sampled-attach-"))
    try {
      const entry = path.join(work, "worker.mjs")
      fs.writeFileSync(entry, script)
      // This thread's sampler listens (the describe's beforeAll saw it sample); let it name itself in the environment.
      const startMs = performance.now()
      while (process.env[Sampler.SAMPLER_ENV] === undefined && performance.now() - startMs < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      assert.match(process.env[Sampler.SAMPLER_ENV] ?? "", new RegExp(`^${process.pid} \\d+$`))
      const worker = new Worker(entry)
      const report = await new Promise<{ ownSampler: boolean; samples: string; sampler: string }>((resolve) => worker.once("message", resolve))
      await worker.terminate()
      assert.strictEqual(report.sampler, process.env[Sampler.SAMPLER_ENV])
      assert.isFalse(report.ownSampler, "the worker started no sampler of its own")
      assert.isAbove(Number(report.samples), 0)
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  }, 30_000)

  it("a sampler thread that cannot start is one line on stderr; the program runs and hits stay exact", () => {
    const instrumentPath = fileURLToPath(new URL("../../../src/core/Instrument.ts", import.meta.url))
    const script = [
      "import { createRequire, syncBuiltinESMExports } from 'node:module'",
      "const threads = createRequire(import.meta.url)('node:worker_threads')",
      "threads.Worker = class { constructor() { throw new Error('no threads here') } }",
      "syncBuiltinESMExports()",
      `const Recorder = await import(${JSON.stringify(recorderPath)})`,
      `const { instrumentSource } = await import(${JSON.stringify(instrumentPath)})`,
      "Recorder.install({ timing: 'sampled' })",
      "const source = 'function twice(x) {\\n  return 2 * x\\n}\\nglobalThis.twice = twice\\n'",
      "const result = instrumentSource(source, { file: '/virtual/twice.cjs', format: 'commonjs', slotBase: Recorder.nextSlot() })",
      "Recorder.allocateSlots(result.slotCount)",
      "Recorder.registerFile({ file: '/virtual/twice.cjs', fileHash: '', sourceText: source, functions: result.functions })",
      "new Function(result.code)()",
      "let total = 0",
      "for (let i = 0; i < 1000; i++) total += globalThis.twice(i)",
      "console.log(total, String(Recorder.snapshot().functions[0].lines[0].hits))"
    ].join("\n")
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, NODE_OPTIONS: "", [Sampler.SAMPLER_ENV]: "" }
    })
    assert.strictEqual(child.status, 0, child.stderr)
    assert.strictEqual(child.stdout, "999000 1000\n")
    assert.strictEqual(child.stderr, "lineprof: sampled timing: cannot start the sampler thread (no threads here); line times will be 0\n")
  })

  it("a terminate()d worker's counters keep what the sampler credited to it", async () => {
    const { Worker } = await import("node:worker_threads")
    const script = [
      `const Recorder = await import(${JSON.stringify(recorderPath)})`,
      `const { instrumentSource } = await import(${JSON.stringify(fileURLToPath(new URL("../../../src/core/Instrument.ts", import.meta.url)))})`,
      "const { parentPort } = await import('node:worker_threads')",
      "Recorder.install({ timing: 'sampled' })",
      "const source = 'function forever() {\\n  for (;;) {}\\n}\\nforever()\\n'",
      "const result = instrumentSource(source, { file: '/virtual/forever.cjs', format: 'commonjs', slotBase: Recorder.nextSlot() })",
      "Recorder.allocateSlots(result.slotCount)",
      "const slot = result.functions[0].slots[result.functions[0].lines.indexOf(2)]",
      "Recorder.subscribe((event) => { if (event._tag === 'Buffers') parentPort.postMessage({ hits: event.hits, timeNs: event.timeNs, slot }) })",
      "new Function(result.code)()"
    ].join("\n")
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "lineprof-sampled-worker-"))
    const entry = path.join(work, "worker.mjs")
    fs.writeFileSync(entry, script)
    const worker = new Worker(entry, { env: { ...process.env, [Sampler.SAMPLER_ENV]: "" } })
    const counters = await new Promise<{ hits: Float64Array; timeNs: Float64Array; slot: number }>((resolve) => worker.once("message", resolve))
    const startNs = process.hrtime.bigint()
    // Wait until the sampler has credited the spinning line, then end the worker the hard way.
    while (counters.timeNs[counters.slot]! < 20e6 && process.hrtime.bigint() - startNs < 20_000_000_000n) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await worker.terminate()
    fs.rmSync(work, { recursive: true, force: true })
    const wallNs = Number(process.hrtime.bigint() - startNs)
    const loopNs = counters.timeNs[counters.slot]!
    assert.isAtLeast(loopNs, 20e6)
    const timing = Recorder.timingFrom(counters.hits, counters.timeNs)
    assert.strictEqual(timing.mode, "sampled")
    assert.isAbove(Number((timing as { samples: bigint }).samples), 0)
    // The worker spun for less than this thread waited, plus its start-up.
    assert.isAtMost(loopNs, wallNs + 5e9)
  }, 30_000)
})

// ---------------------------------------------------------------------------
// Random recursive programs

/** A statement of a generated function body: busy work, or a call of function `target` one level deeper. */
type Statement = { readonly kind: "spin"; readonly n: number } | { readonly kind: "call"; readonly target: number }

interface Program {
  readonly bodies: ReadonlyArray<ReadonlyArray<Statement>>
  readonly depth: number
}

const statement = (functionCount: number): fc.Arbitrary<Statement> =>
  fc.oneof(
    fc.record({ kind: fc.constant("spin" as const), n: fc.integer({ min: 1_000, max: 30_000 }) }),
    fc.record({ kind: fc.constant("call" as const), target: fc.integer({ min: 0, max: functionCount - 1 }) })
  )

const program: fc.Arbitrary<Program> = fc.integer({ min: 1, max: 3 }).chain((functionCount) =>
  fc.record({
    bodies: fc.array(fc.array(statement(functionCount), { minLength: 1, maxLength: 3 }), { minLength: functionCount, maxLength: functionCount }),
    depth: fc.integer({ min: 1, max: 4 })
  })
)

/** The program's source (one statement a line) and the first line of each function. */
const sourceOf = (generated: Program): { readonly source: string; readonly firstLines: ReadonlyArray<number> } => {
  const lines: Array<string> = []
  const firstLines: Array<number> = []
  generated.bodies.forEach((body, k) => {
    firstLines.push(lines.length + 1)
    lines.push(`function f${k}(d) {`, "  if (d < 0) {", "    return 0", "  }")
    for (const each of body) lines.push(each.kind === "spin" ? `  spin(${each.n})` : `  f${each.target}(d - 1)`)
    lines.push("  return 1", "}")
  })
  lines.push("exports.main = f0")
  return { source: lines.join("\n"), firstLines }
}

/** The hits each line gets, by running a model of the program. */
const expectedHits = (generated: Program, firstLines: ReadonlyArray<number>): Map<string, bigint> => {
  const hits = new Map<string, bigint>()
  const count = (fn: number, lineNo: number) => {
    const key = `f${fn}:${lineNo}`
    hits.set(key, (hits.get(key) ?? 0n) + 1n)
  }
  const run = (fn: number, d: number): void => {
    const first = firstLines[fn]!
    count(fn, first + 1)
    if (d < 0) return count(fn, first + 2)
    generated.bodies[fn]!.forEach((each, k) => {
      count(fn, first + 4 + k)
      if (each.kind === "call") run(each.target, d - 1)
    })
    count(fn, first + 4 + generated.bodies[fn]!.length)
  }
  run(0, generated.depth)
  return hits
}

/**
 * Runs the program instrumented: hits must equal the model's and no line's
 * Time may exceed the wall time since `sinceNs()` (the call's start, or for
 * sampled timing the start of the last sample before it).
 */
const checkProgram = (generated: Program, sinceNs: () => number, probes: ProbeStyle = "calls"): void => {
  const { source, firstLines } = sourceOf(generated)
  const { exports, functions } = load(source, { spin }, probes)
  const fromNs = sinceNs()
  exports.main(generated.depth)
  const wallNs = Number(process.hrtime.bigint()) - fromNs
  const actual = new Map<string, bigint>()
  for (const fn of functions()) {
    for (const line of fn.lines) {
      actual.set(`${fn.name}:${line.lineNo}`, line.hits)
      assert.isAtMost(Number(line.timeNs), wallNs, `${fn.name}:${line.lineNo} Time against wall ${wallNs} ns`)
    }
  }
  assert.deepStrictEqual(actual, expectedHits(generated, firstLines))
}

describe("recursion counted once (random recursive programs)", () => {
  it("exact: hits equal the model's and no line's Time exceeds the wall time", () => {
    Recorder.install({ timing: "exact" })
    try {
      fc.assert(fc.property(program, (generated) => checkProgram(generated, () => Number(process.hrtime.bigint()))), { numRuns: 40 })
    } finally {
      Recorder.install({ timing: "sampled" })
    }
  })

  it("sampled: hits equal the model's and no line's Time exceeds the wall time since the last sample before the call", () => {
    Recorder.install({ timing: "sampled" })
    fc.assert(fc.property(program, (generated) => checkProgram(generated, sampledSince)), { numRuns: 25 })
  })

  it("sampled, inline probes: hits equal the model's and no line's Time exceeds the wall time since the last sample before the call", () => {
    Recorder.install({ timing: "sampled" })
    fc.assert(fc.property(program, (generated) => checkProgram(generated, sampledSince, "inline")), { numRuns: 25 })
    assert.strictEqual(Recorder.stackDepth(), 0)
  })
})
