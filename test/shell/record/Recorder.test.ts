/**
 * The recorder: probes installed as globals, hits and waits of async code,
 * per-call line timers under recursion, snapshot/reset, the Buffers/File
 * events and `profileFrom` rebuilding a profile from copied buffers. Code runs
 * instrumented through `vm` in this thread (no test-runner transform).
 * Durations are only compared with each other or with lower bounds that the
 * workload guarantees (a timer never fires early by more than its rounding).
 */
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as vm from "node:vm"
import { instrumentSource } from "../../../src/core/Instrument.ts"
import { Globals } from "../../../src/core/Probe.ts"
import * as Profile from "../../../src/core/Profile.ts"
import * as Recorder from "../../../src/shell/record/Recorder.ts"

const recorderUrl = new URL("../../../src/shell/record/Recorder.ts", import.meta.url).href

let fileCounter = 0
/** Instruments CommonJS `source`, registers it, runs it with vm; returns its exports and its part of the profile. */
const load = (source: string) => {
  const file = `/virtual/recorder-${++fileCounter}.cjs`
  const result = instrumentSource(source, { file, format: "commonjs", slotBase: Recorder.nextSlot() })
  const slotBase = Recorder.allocateSlots(result.slotCount)
  assert.strictEqual(slotBase, result.functions[0]?.slots.reduce((a, b) => Math.min(a, b)) ?? slotBase)
  Recorder.registerFile({ file, fileHash: "h", sourceText: source, functions: result.functions })
  const module = { exports: {} as Record<string, any> }
  vm.runInThisContext(`(function (exports, module) {${result.code}\n})`, { filename: file })(module.exports, module)
  const functions = (): ReadonlyArray<Profile.FunctionProfile> => Recorder.snapshot().functions.filter((fn) => fn.file === file)
  return { exports: module.exports, functions, file }
}

const line = (functions: ReadonlyArray<Profile.FunctionProfile>, name: string, lineNo: number): Profile.LineStats => {
  const fn = functions.find((candidate) => candidate.name === name)
  assert.isDefined(fn, `${name} profiled`)
  const stats = fn!.lines.find((candidate) => candidate.lineNo === lineNo)
  assert.isDefined(stats, `${name}:${lineNo} profiled`)
  return stats!
}

beforeAll(() => {
  Recorder.install()
})

describe("install", () => {
  it("defines every probe of the protocol on globalThis, once", () => {
    const before = Object.values(Globals).map((name) => (globalThis as any)[name])
    for (const probe of before) assert.strictEqual(typeof probe, "function")
    Recorder.install()
    assert.deepStrictEqual(Object.values(Globals).map((name) => (globalThis as any)[name]), before)
    assert.isTrue(Recorder.isInstalled())
    assert.include(Recorder.clockCandidates.map((clock) => clock.name), Recorder.clockName())
  })

  it("calibrates a positive probe cost; compensate: false turns it off and install() back on", () => {
    const calibrated = Recorder.probeCostNs()
    assert.isAbove(calibrated, 0)
    Recorder.install({ compensate: false })
    assert.strictEqual(Recorder.probeCostNs(), 0)
    Recorder.install()
    assert.strictEqual(Recorder.probeCostNs(), calibrated)
  })
})

describe("calibration", () => {
  /** A fake clock and loops that advance it: the probed loop costs `probedNs(elapsed)` an iteration, the plain one 1 ns. */
  const fakeLoops = (probedNs: (elapsedNs: number) => number) => {
    let nowNs = 0
    return {
      readNs: () => nowNs,
      probed: (n: number) => {
        nowNs += n * probedNs(nowNs)
      },
      plain: (n: number) => {
        nowNs += n
      },
      elapsedNs: () => nowNs
    }
  }

  it("goes on past its budget until the estimate settles: a loop optimised late is measured optimised", () => {
    // Unoptimised for the first 30 ms (400 ns an iteration), then optimised (40 ns): probe cost 39 ns.
    const loops = fakeLoops((elapsedNs) => (elapsedNs < 30e6 ? 400 : 40))
    const costNs = Recorder.calibrateProbeCost({ ...loops, budgetNs: 10e6, maxNs: 100e6 })
    assert.closeTo(costNs, 39, 0.01)
    assert.isBelow(loops.elapsedNs(), 100e6)
  })

  it("measures at least one round after the warm-up however slow the rounds (a cost, never NaN)", () => {
    const slow = fakeLoops(() => 100_000)
    const costNs = Recorder.calibrateProbeCost({ ...slow, n: 1000, budgetNs: 10e6, maxNs: 50e6 })
    assert.closeTo(costNs, 99_999, 0.01)
  })

  it("stops at maxNs when the estimate never settles, and at the budget when it settles at once", () => {
    let round = 0
    const improving = fakeLoops(() => 1000 * 0.95 ** Math.floor(round++ / 2))
    Recorder.calibrateProbeCost({ ...improving, budgetNs: 10e6, maxNs: 60e6 })
    assert.isAtLeast(improving.elapsedNs(), 60e6)
    assert.isBelow(improving.elapsedNs(), 62e6)
    const steady = fakeLoops(() => 41)
    assert.closeTo(Recorder.calibrateProbeCost({ ...steady, budgetNs: 10e6, maxNs: 60e6 }), 40, 0.01)
    assert.isBelow(steady.elapsedNs(), 11e6)
  })

  it("a child process takes the clock and probe cost from LINEPROF_CALIBRATION, and the first one writes it", () => {
    const script = [
      `const Recorder = await import(${JSON.stringify(recorderUrl)})`,
      "Recorder.install()",
      "console.log(JSON.stringify({ clock: Recorder.clockName(), costNs: Recorder.probeCostNs(), env: process.env.LINEPROF_CALIBRATION }))"
    ].join("\n")
    const runChild = (env: Record<string, string | undefined>) => {
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        env: { ...process.env, NODE_OPTIONS: "", ...env }
      })
      assert.strictEqual(child.status, 0, child.stderr)
      return JSON.parse(child.stdout) as { clock: string; costNs: number; env: string }
    }
    const inherited = runChild({ [Recorder.CALIBRATION_ENV]: `${process.version} process.hrtime.bigint 12.5` })
    assert.deepStrictEqual([inherited.clock, inherited.costNs], ["process.hrtime.bigint", 12.5])
    const measured = runChild({ [Recorder.CALIBRATION_ENV]: "v0.0.0 process.hrtime.bigint 12.5" })
    assert.strictEqual(measured.env, `${process.version} ${measured.clock} ${measured.costNs}`)
    assert.isAbove(measured.costNs, 0)
  })
})

/**
 * The clock seam: the recorder reads `fakeNs`, which only the test moves, so
 * Time and Wait are exact numbers. `after(ns, value)` is a promise that moves
 * the clock on by `ns` while the awaiting call is suspended, then resolves
 * (`failAfter` rejects). Compensation is off with a given clock.
 */
let fakeNs = 0
const after = (ns: number, value?: unknown): Promise<unknown> =>
  Promise.resolve().then(() => {
    fakeNs += ns
    return value
  })
const failAfter = (ns: number, message: string): Promise<never> =>
  Promise.resolve().then(() => {
    fakeNs += ns
    throw new Error(message)
  })

const withFakeClock = async <A>(timing: Recorder.TimingMode, body: () => Promise<A>): Promise<A> => {
  const clock = Recorder.clockName()
  Recorder.install({ readNs: () => fakeNs, timing })
  try {
    return await body()
  } finally {
    Recorder.install({ clock, timing: "exact" })
  }
}

describe("async functions (a clock the test moves)", () => {
  for (const timing of ["exact", "sampled"] as const) {
    it(`${timing}: time suspended at await goes to the line's Wait, exactly, and none to its Time`, () =>
      withFakeClock(timing, async () => {
        const { exports, functions } = load(
          [
            "exports.sleepy = async function sleepy(after, ns) {", // 1
            "  const before = ns * 2", // 2
            "  await after(ns)", // 3
            "  return before", // 4
            "}" // 5
          ].join("\n")
        )
        assert.strictEqual(await exports.sleepy(after, 40e6), 80e6)
        const awaited = line(functions(), "sleepy", 3)
        assert.deepStrictEqual([awaited.hits, awaited.waitNs], [1n, 40_000_000n])
        assert.strictEqual(line(functions(), "sleepy", 2).waitNs, 0n)
        assert.strictEqual(line(functions(), "sleepy", 4).hits, 1n)
        if (timing === "exact") assert.strictEqual(awaited.timeNs, 0n)
      }))

    it(`${timing}: a rejected await credits its wait at the next probe (catch), and generators' waits go to the yield line`, () =>
      withFakeClock(timing, async () => {
        const { exports, functions } = load(
          [
            "exports.failing = async function failing(failAfter, ns) {", // 1
            "  try {", // 2
            "    await failAfter(ns, 'late')", // 3
            "  } catch (error) {", // 4
            "    return error.message", // 5
            "  }", // 6
            "}", // 7
            "exports.gen = function* gen() {", // 8
            "  const got = yield 1", // 9
            "  return got", // 10
            "}" // 11
          ].join("\n")
        )
        assert.strictEqual(await exports.failing(failAfter, 20e6), "late")
        assert.strictEqual(line(functions(), "failing", 3).waitNs, 20_000_000n)
        assert.strictEqual(line(functions(), "failing", 5).hits, 1n)
        const it = exports.gen()
        it.next()
        fakeNs += 7e6
        assert.deepStrictEqual(it.next("sent"), { value: "sent", done: true })
        assert.strictEqual(line(functions(), "gen", 9).waitNs, 7_000_000n)
        assert.strictEqual(line(functions(), "gen", 10).hits, 1n)
      }))
  }
})

describe("implicit awaits (a clock the test moves)", () => {
  it("the awaits of `await using` disposal are Wait of the line where the block ends, not Time", () =>
    withFakeClock("exact", async () => {
      const { exports, functions } = load(
        [
          "exports.scoped = async function scoped(after, ns, log) {", // 1
          "  await using first = { async [Symbol.asyncDispose]() { await after(ns); log.push('first') } }", // 2
          "  using sync = { [Symbol.dispose]() { log.push('sync') } }", // 3
          "  await using second = { [Symbol.asyncDispose]() { log.push('second'); return after(ns) } }", // 4
          "  log.push('body')", // 5
          "  return ns", // 6
          "}", // 7
          "exports.looped = async function looped(after, ns, log) {", // 8
          "  for (await using each of [{ async [Symbol.asyncDispose]() { await after(ns) } }]) {", // 9
          "    log.push('iteration')", // 10
          "  }", // 11
          "  return 'done'", // 12
          "}" // 13
        ].join("\n")
      )
      const ns = 20e6
      const log: Array<string> = []
      assert.strictEqual(await exports.scoped(after, ns, log), ns)
      assert.deepStrictEqual(log, ["body", "second", "sync", "first"])
      const ending = line(functions(), "scoped", 6)
      assert.strictEqual(ending.hits, 1n)
      // Two disposals, each awaiting `ns` on the clock.
      assert.deepStrictEqual([ending.waitNs, ending.timeNs], [BigInt(2 * ns), 0n])
      assert.strictEqual(await exports.looped(after, ns, log), "done")
      const body = line(functions(), "looped", 10)
      assert.deepStrictEqual([body.hits, body.waitNs, body.timeNs], [1n, BigInt(ns), 0n])
    }))

  it("`return x` in an async generator awaits x: that wait is the return line's Wait", () =>
    withFakeClock("exact", async () => {
      const { exports, functions } = load(
        [
          "exports.agen = async function* agen(after, ns) {", // 1
          "  yield 1", // 2
          "  return after(ns, 'late')", // 3
          "}" // 4
        ].join("\n")
      )
      const seen: Array<unknown> = []
      const iterator = exports.agen(after, 30e6)
      seen.push(await iterator.next(), await iterator.next())
      assert.deepStrictEqual(seen, [{ value: 1, done: false }, { value: "late", done: true }])
      const returned = line(functions(), "agen", 3)
      assert.deepStrictEqual([returned.waitNs, returned.timeNs], [30_000_000n, 0n])
    }))
})

describe("recursion", () => {
  it("a recursive line counts each moment once: its Time is the outermost call's, never above the wall time", () => {
    const { exports, functions } = load(
      [
        "function spin(rounds) {", // 1
        "  let x = 0", // 2
        "  for (let i = 0; i < rounds; i++) x = (x * 31 + i) % 1000003", // 3
        "  return x", // 4
        "}", // 5
        "function descend(depth, rounds) {", // 6
        "  if (depth === 0) return spin(rounds)", // 7
        "  return descend(depth - 1, rounds)", // 8
        "}", // 9
        "exports.descend = descend" // 10
      ].join("\n")
    )
    const depth = 5
    const startNs = process.hrtime.bigint()
    exports.descend(depth, 200_000)
    const wallNs = Number(process.hrtime.bigint() - startNs)
    const fns = functions()
    const recursive = line(fns, "descend", 8)
    const bottom = line(fns, "descend", 7)
    assert.strictEqual(recursive.hits, BigInt(depth))
    assert.strictEqual(bottom.hits, BigInt(depth + 1))
    const spinNs = Number(line(fns, "spin", 3).timeNs)
    assert.isAbove(spinNs, 0)
    // Level 0's line 8 spans every deeper level; the deeper instances add nothing.
    assert.isAtLeast(Number(recursive.timeNs), 0.9 * spinNs)
    assert.isAtMost(Number(recursive.timeNs), wallNs)
    assert.isAtMost(Number(recursive.timeNs), 1.5 * spinNs + 1e6)
    assert.isAtLeast(Number(bottom.timeNs), 0.9 * spinNs)
  })

  it("with a clock the test moves: the outermost instance's span, exactly", () =>
    withFakeClock("exact", async () => {
      const { exports, functions } = load(
        [
          "function down(depth, tick) {", // 1
          "  tick()", // 2
          "  if (depth > 0) down(depth - 1, tick)", // 3
          "  return depth", // 4
          "}", // 5
          "exports.down = down" // 6
        ].join("\n")
      )
      exports.down(3, () => {
        fakeNs += 1000
      })
      const fns = functions()
      // Four calls tick 1000 each; line 3 of the outermost call spans the three inner calls: 3000, once.
      assert.deepStrictEqual(line(fns, "down", 2).timeNs, 4000n)
      assert.deepStrictEqual([line(fns, "down", 3).hits, line(fns, "down", 3).timeNs], [4n, 3000n])
    }))
})

describe("compensation", () => {
  it("subtracts the probes of profiled callees from the caller's line", () => {
    const { exports, functions } = load(
      [
        "function busy(n) {", // 1
        "  let x = 0", // 2
        "  for (let i = 0; i < n; i++) {", // 3
        "    x += i", // 4
        "    x ^= 1", // 5
        "  }", // 6
        "  return x", // 7
        "}", // 8
        "exports.caller = function caller() {", // 9
        "  return busy(2000)", // 10
        "}" // 11
      ].join("\n")
    )
    // The least time over rounds: a busy machine can only add time to a round.
    const callerLineNs = (compensate: boolean): number => {
      Recorder.install({ compensate })
      for (let i = 0; i < 20; i++) exports.caller() // warm up the optimiser
      let least = Infinity
      for (let round = 0; round < 9; round++) {
        Recorder.reset()
        for (let i = 0; i < 5; i++) exports.caller()
        least = Math.min(least, Number(line(functions(), "caller", 10).timeNs))
      }
      return least
    }
    try {
      const raw = callerLineNs(false)
      const compensated = callerLineNs(true)
      // About 6000 probe events ran inside each call of line 10: most of its raw time.
      assert.isBelow(compensated, 0.5 * raw)
    } finally {
      Recorder.install()
    }
  })
})

describe("snapshot, reset and profileFrom", () => {
  const source = [
    "exports.work = function work(n) {", // 1
    "  let total = 0", // 2
    "  for (let i = 0; i < n; i++) total += i", // 3
    "  return total", // 4
    "}", // 5
    "exports.never = function never() {", // 6
    "  return 0", // 7
    "}" // 8
  ].join("\n")

  it("snapshot lists called functions with exact hits and their source; includeUncalled adds the rest", () => {
    const { exports, functions, file } = load(source)
    exports.work(10)
    const fns = functions()
    assert.deepStrictEqual(fns.map((fn) => fn.name), ["work"])
    assert.deepStrictEqual(fns[0]!.lines.map((stats) => [stats.lineNo, stats.hits]), [[2, 1n], [3, 11n], [4, 1n]])
    assert.deepStrictEqual(fns[0]!.source, source.split("\n").slice(0, 5))
    const all = Recorder.snapshot({ includeUncalled: true }).functions.filter((fn) => fn.file === file)
    assert.deepStrictEqual(all.map((fn) => [fn.name, fn.lines.length]), [["work", 3], ["never", 0]])
    assert.deepStrictEqual(Profile.check(Recorder.snapshot()), [])
  })

  it("reset zeroes the counters and keeps the registrations", () => {
    const { exports, functions, file } = load(source)
    exports.work(3)
    assert.strictEqual(functions().length, 1)
    Recorder.reset()
    assert.deepStrictEqual(Recorder.snapshot().functions, [])
    assert.strictEqual(Recorder.snapshot({ includeUncalled: true }).functions.filter((fn) => fn.file === file).length, 2)
    exports.work(2)
    assert.strictEqual(line(functions(), "work", 3).hits, 3n)
  })

  it("profileFrom on copies of the buffers equals snapshot", () => {
    const { exports } = load(source)
    exports.work(50)
    exports.never()
    let buffers: { hits: Float64Array; timeNs: Float64Array; waitNs: Float64Array } | undefined
    const files: Array<Recorder.FileRegistration> = []
    const unsubscribe = Recorder.subscribe((event) => {
      if (event._tag === "Buffers") buffers = event
      else files.push(event.file)
    })
    unsubscribe()
    assert.isDefined(buffers)
    assert.instanceOf(buffers!.hits.buffer, SharedArrayBuffer)
    const copy = (array: Float64Array) => Float64Array.from(array)
    const rebuilt = Recorder.profileFrom(files, copy(buffers!.hits), copy(buffers!.timeNs), copy(buffers!.waitNs))
    // The live snapshot adds what only the live thread knows (its probes' cost and wall time).
    assert.deepStrictEqual(rebuilt.functions, Recorder.snapshot().functions)
    assert.deepStrictEqual(Profile.timingOf(rebuilt), Profile.exactTiming)
    assert.strictEqual(Profile.timingOf(Recorder.snapshot())?.mode, "exact")
    assert.deepStrictEqual(files, [...Recorder.registrations()])
  })

  it("growth reallocates the buffers, keeps the counts and announces the new arrays", () => {
    const { exports, functions } = load(source)
    exports.work(4)
    const events: Array<Recorder.RecorderEvent> = []
    const unsubscribe = Recorder.subscribe((event) => events.push(event))
    const replayed = events.length
    const before = events.find((event) => event._tag === "Buffers")!
    Recorder.allocateSlots(5_000)
    unsubscribe()
    const grown = events.slice(replayed)
    assert.strictEqual(grown.length, 1)
    const after = grown[0]!
    assert.strictEqual(after._tag, "Buffers")
    if (after._tag !== "Buffers" || before._tag !== "Buffers") return
    assert.isAbove(after.hits.length, before.hits.length)
    assert.strictEqual(line(functions(), "work", 3).hits, 5n)
    exports.work(1)
    assert.strictEqual(line(functions(), "work", 3).hits, 7n)
  })

  it("allocateSlots rejects a bad count with a one-line message", () => {
    assert.throws(() => Recorder.allocateSlots(-1), /^allocateSlots: count must be a non-negative integer, got -1$/)
  })
})
