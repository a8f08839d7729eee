import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { existsSync, readdirSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Worker } from "node:worker_threads"
import * as Profile from "../../../src/core/Profile.ts"
import * as Locate from "../../../src/shell/pool/Locate.ts"
import * as Pool from "../../../src/shell/pool/Pool.ts"
import { makeTempDir } from "../../support/TempDir.ts"

const urlOf = (relative: string): string => pathToFileURL(fileURLToPath(new URL(relative, import.meta.url))).href

// Children are loaded by Node itself (not by the test runner's transform), as a user's modules would be.
const load = (relative: string): Effect.Effect<Record<string, any>> => Effect.promise(() => Locate.nativeImport(urlOf(relative)))
const children = load("../../fixtures/pool/children.ts")
const seed = load("../../../examples/power3.ts")

const range = (count: number): Array<number> => Array.from({ length: count }, (_, k) => k)

/** name -> lineNo -> hits, over a whole profile. */
const hitsByLine = (profile: Profile.Profile): Map<string, Map<number, bigint>> =>
  new Map(profile.functions.map((fn) => [fn.name, new Map(fn.lines.map((line) => [line.lineNo, line.hits]))]))

/** The lines of a function's body that hold a statement, from its source (not its stats). */
const statementLines = (fn: Profile.FunctionProfile): Array<number> =>
  (fn.source ?? []).flatMap((text, k) => {
    const lineNo = fn.firstLine + k
    const trimmed = text.trim()
    return lineNo === fn.firstLine || trimmed === "" || trimmed === "}" || trimmed.startsWith("//") ? [] : [lineNo]
  })

const functionNamed = (profile: Profile.Profile, name: string): Profile.FunctionProfile => {
  const fn = profile.functions.find((candidate) => candidate.name === name)
  assert.isDefined(fn, `no function ${name} in the profile`)
  return fn!
}

/** Counts the worker threads this process starts and how many are still alive. */
const watchThreads = () => {
  const counts = { started: 0, alive: 0 }
  const onWorker = (worker: Worker) => {
    counts.started++
    counts.alive++
    worker.once("exit", () => counts.alive--)
  }
  process.on("worker", onWorker)
  return { counts, stop: () => process.off("worker", onWorker) }
}

describe("profileAll: choosing functions", () => {
  it.effect("functions: only the functions named get probes (power3 in the seed), with their exact hits", () =>
    Effect.gen(function* () {
      const { child } = yield* seed
      const run = yield* Pool.profileAll(child, range(100), { concurrency: 2, functions: ["power*"] })
      assert.deepStrictEqual(run.results, range(100).map(child))
      assert.deepStrictEqual(run.profile.functions.map((fn) => fn.name), ["power3"])
      const power3 = functionNamed(run.profile, "power3")
      assert.deepStrictEqual(power3.lines.map((line) => [line.lineNo, line.hits]), [[8, 100n]])
    }))
})

describe("profileAll: timing", () => {
  for (const isolation of ["thread", "process"] as const) {
    it.effect(`sampled timing on 2 ${isolation} workers: the same hits as exact timing, sampled Time, a sampled profile`, () =>
      Effect.gen(function* () {
        const { spin } = yield* load("../../fixtures/pool/cpu.ts")
        const inputs = range(400)
        const exact = yield* Pool.profileAll(spin, inputs, { concurrency: 2, isolation })
        const sampled = yield* Pool.profileAll(spin, inputs, { concurrency: 2, isolation, timing: "sampled", sampleInterval: "500 micros" })
        assert.deepStrictEqual(sampled.results, exact.results)
        assert.deepStrictEqual(hitsByLine(sampled.profile), hitsByLine(exact.profile))
        assert.deepStrictEqual(Profile.check(sampled.profile), [])
        const timing = Profile.timingOf(sampled.profile)
        assert.strictEqual(timing?.mode, "sampled")
        if (timing?.mode !== "sampled") return
        assert.strictEqual(timing.intervalNs, 500_000)
        assert.isAbove(Number(timing.samples), 0)
        assert.isAbove(Number(Profile.totalTimeNs(functionNamed(sampled.profile, "spin"))), 0)
        assert.strictEqual(Profile.timingOf(exact.profile)?.mode, "exact")
      }))
  }

  it.effect("a bad timing or sample interval fails with PoolOptionError", () =>
    Effect.gen(function* () {
      const { spin } = yield* load("../../fixtures/pool/cpu.ts")
      const badTiming = yield* Effect.flip(Pool.profileAll(spin, [1], { timing: "fast" as never }))
      assert.include(badTiming.message, `expected "exact" or "sampled", got fast`)
      const badInterval = yield* Effect.flip(Pool.profileAll(spin, [1], { timing: "sampled", sampleInterval: -1 }))
      assert.include(badInterval.message, "expected a positive duration")
    }))
})

describe("profileAll: the seed", () => {
  for (const isolation of ["thread", "process"] as const) {
    it.effect(`power3/child over 0..9999 on 4 ${isolation} workers: exact hits, same as one worker, same results`, () =>
      Effect.gen(function* () {
        const { child } = yield* seed
        const inputs = range(10_000)
        const run = yield* Pool.profileAll(child, inputs, { concurrency: 4, isolation })

        assert.deepStrictEqual(Profile.check(run.profile), [])
        assert.deepStrictEqual(run.results, inputs.map(child))
        assert.strictEqual(run.completed, 10_000)
        // Every statement line of both functions: exactly 10000 hits.
        for (const name of ["power3", "child"]) {
          const fn = functionNamed(run.profile, name)
          assert.deepStrictEqual(
            fn.lines.map((line) => [line.lineNo, line.hits]),
            statementLines(fn).map((lineNo) => [lineNo, 10_000n])
          )
          assert.isTrue(fn.lines.every((line) => line.timeNs > 0n))
        }
        // The merged profile is the merge of the per-worker profiles.
        assert.strictEqual(run.workerProfiles.length, 4)
        assert.deepStrictEqual(Profile.ProfileReducer.combineAll(run.workerProfiles), run.profile)

        const single = yield* Pool.profileAll(child, inputs, { concurrency: 1, isolation })
        assert.deepStrictEqual(hitsByLine(run.profile), hitsByLine(single.profile))

        const unprofiled = yield* Pool.profileAll(child, inputs, { concurrency: 4, isolation, profile: false })
        assert.deepStrictEqual(run.results, unprofiled.results)
        assert.deepStrictEqual(unprofiled.profile, Profile.empty)
      }))
  }

  it.effect("instruments the files the child imports under the current directory, with .ts line numbers", () =>
    Effect.gen(function* () {
      const { addTwo } = yield* load("../../fixtures/pool/imports.ts")
      const run = yield* Pool.profileAll(addTwo, range(50), { concurrency: 2 })
      assert.deepStrictEqual(run.results, range(50).map((k) => k + 2))
      const hits = hitsByLine(run.profile)
      // imports.ts: lines 5-6 of addTwo; helper.ts: line 3 of addOne, called twice a task.
      assert.deepStrictEqual([...hits.get("addTwo")!], [[5, 50n], [6, 50n]])
      assert.deepStrictEqual([...hits.get("addOne")!], [[3, 100n]])
      assert.isTrue(functionNamed(run.profile, "addOne").file.endsWith("helper.ts"))
    }))

  it.effect("runs plain ES module and CommonJS children", () =>
    Effect.gen(function* () {
      const { triple } = yield* load("../../fixtures/pool/plain.mjs")
      const common = yield* load("../../fixtures/pool/common.cjs")
      const tripled = yield* Pool.profileAll(triple, range(20), { concurrency: 2 })
      assert.deepStrictEqual(tripled.results, range(20).map((k) => k * 3))
      assert.deepStrictEqual([...hitsByLine(tripled.profile).get("triple")!.values()], [20n, 20n])
      const negated = yield* Pool.profileAll(common["default"].negate, range(20), { concurrency: 2, isolation: "process" })
      assert.deepStrictEqual(negated.results, range(20).map((k) => -k))
      assert.deepStrictEqual([...hitsByLine(negated.profile).get("negate")!.values()], [20n, 20n])
    }))

  it.effect("no inputs: no workers, no results, an empty profile", () =>
    Effect.gen(function* () {
      const { square } = yield* children
      const threads = watchThreads()
      const run = yield* Pool.profileAll(square, [])
      threads.stop()
      assert.deepStrictEqual(run, { results: [], profile: Profile.empty, workerProfiles: [], failures: [], completed: 0 })
      assert.strictEqual(threads.counts.started, 0)
    }))

  it.effect("accepts an explicit module URL and export name", () =>
    Effect.gen(function* () {
      const run = yield* Pool.profileAll<number, number>(
        { moduleUrl: urlOf("../../fixtures/pool/children.ts"), exportName: "square" },
        range(10),
        { concurrency: 2 }
      )
      assert.deepStrictEqual(run.results, range(10).map((k) => k * k))
    }))
})

describe("profileAll: async children and values", () => {
  it.effect("an async child: results in input order, hits exact, suspension goes to Wait", () =>
    Effect.gen(function* () {
      const { doubleLater } = yield* children
      const run = yield* Pool.profileAll(doubleLater, range(40), { concurrency: 3 })
      assert.deepStrictEqual(run.results, range(40).map((k) => ({ input: k, doubled: 2 * k })))
      const fn = functionNamed(run.profile, "doubleLater")
      assert.deepStrictEqual(fn.lines.map((line) => line.hits), [40n, 40n, 40n])
      const awaitLine = fn.lines.find((line) => fn.source?.[line.lineNo - fn.firstLine]?.includes("await"))
      assert.isTrue(awaitLine !== undefined && awaitLine.waitNs > 0n)
    }))

  for (const isolation of ["thread", "process"] as const) {
    it.effect(`bigint, Map, Date and nested values cross to ${isolation} workers and back`, () =>
      Effect.gen(function* () {
        const { echo } = yield* children
        const inputs = [12345678901234567890n, new Map([["a", [1, 2]]]), new Date(86_400_000), { deep: { set: new Set([1]) } }]
        const run = yield* Pool.profileAll(echo, inputs, { concurrency: 2, isolation })
        assert.deepStrictEqual(run.results, inputs)
      }))
  }
})

describe("profileAll: failures", () => {
  it.effect("a throwing input fails with TaskError: index, original error, profile of the completed tasks", () =>
    Effect.gen(function* () {
      const { throwsAt7 } = yield* children
      const error = yield* Effect.flip(Pool.profileAll(throwsAt7, range(30), { concurrency: 1 }))
      assert.strictEqual(error._tag, "TaskError")
      if (error._tag !== "TaskError") return
      assert.strictEqual(error.index, 7)
      assert.strictEqual(error.kind, "threw")
      assert.strictEqual(error.errorName, "RangeError")
      assert.strictEqual(error.errorMessage, "boom at 7")
      assert.strictEqual(error.message, "input 7: RangeError: boom at 7")
      assert.match(error.errorStack, /throwsAt7 .*children\.ts:\d+/)
      // One worker, in order: inputs 0..6 completed, and the profile is exactly theirs.
      assert.strictEqual(error.completed, 7)
      const fn = functionNamed(error.profile, "throwsAt7")
      assert.deepStrictEqual(fn.lines.map((line) => line.hits), [7n, 7n])
      // The failed task's own lines are kept apart: the test line and the throw.
      assert.deepStrictEqual(functionNamed(error.taskProfile, "throwsAt7").lines.map((line) => line.hits), [1n, 1n])
    }))

  it.effect("a rejected promise is a failed task like a throw", () =>
    Effect.gen(function* () {
      const { rejectsAt3 } = yield* children
      const error = yield* Effect.flip(Pool.profileAll(rejectsAt3, range(6), { concurrency: 2 }))
      assert.strictEqual(error._tag === "TaskError" && `${error.index} ${error.kind} ${error.errorName}`, "3 threw TypeError")
    }))

  it.effect("failures: 'collect' lists failures and goes on", () =>
    Effect.gen(function* () {
      const { throwsAt7 } = yield* children
      const run = yield* Pool.profileAll(throwsAt7, range(20), { concurrency: 3, failures: "collect" })
      assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind, failure.errorMessage]), [[7, "threw", "boom at 7"]])
      assert.deepStrictEqual(run.results, range(20).map((k) => (k === 7 ? undefined : k * k)))
      assert.strictEqual(run.completed, 19)
      // The return line ran in the 19 completed tasks only.
      assert.deepStrictEqual(functionNamed(run.profile, "throwsAt7").lines.map((line) => line.hits), [19n, 19n])
    }))

  for (const isolation of ["thread", "process"] as const) {
    it.effect(`a ${isolation} worker calling process.exit is replaced; its task failed, the rest kept`, () =>
      Effect.gen(function* () {
        const { exitsAt5 } = yield* children
        const run = yield* Pool.profileAll(exitsAt5, range(12), { concurrency: 2, isolation, failures: "collect" })
        assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind]), [[5, "workerDied"]])
        assert.match(run.failures[0]!.errorMessage, /exited with code 3/)
        assert.deepStrictEqual(run.results, range(12).map((k) => (k === 5 ? undefined : k * k)))
        // The 11 completed tasks are all in the profile, also those the dead worker ran before.
        const fn = functionNamed(run.profile, "exitsAt5")
        assert.deepStrictEqual(fn.lines.map((line) => line.hits), [11n, 11n])
      }))
  }

  for (const isolation of ["thread", "process"] as const) {
    it.effect(`chunks of 4 on ${isolation} workers: a failure mid-chunk is told apart from the tasks around it`, () =>
      Effect.gen(function* () {
        const { throwsAt7 } = yield* children
        const run = yield* Pool.profileAll(throwsAt7, range(20), { concurrency: 2, chunkSize: 4, isolation, failures: "collect" })
        assert.deepStrictEqual(run.failures.map((failure) => failure.index), [7])
        assert.deepStrictEqual(functionNamed(run.failures[0]!.taskProfile, "throwsAt7").lines.map((line) => line.hits), [1n, 1n])
        assert.deepStrictEqual(functionNamed(run.profile, "throwsAt7").lines.map((line) => line.hits), [19n, 19n])
        assert.deepStrictEqual(run.results, range(20).map((k) => (k === 7 ? undefined : k * k)))
      }))
  }

  it.effect("a worker that dies in a chunk: the chunk runs again task by task, only the culprit fails", () =>
    Effect.gen(function* () {
      const { exitsAt5 } = yield* children
      const run = yield* Pool.profileAll(exitsAt5, range(16), { concurrency: 2, chunkSize: 4, isolation: "process", failures: "collect" })
      assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind]), [[5, "workerDied"]])
      assert.strictEqual(run.completed, 15)
      // Inputs 4, 6 and 7 ran twice (before and after the death) but count once: their first deltas died with the worker.
      assert.deepStrictEqual(functionNamed(run.profile, "exitsAt5").lines.map((line) => line.hits), [15n, 15n])
    }))

  it.effect("workers that die on every task are replaced every time; every task is reported once", () =>
    Effect.gen(function* () {
      const { alwaysExits } = yield* children
      const run = yield* Pool.profileAll(alwaysExits, range(6), { concurrency: 2, chunkSize: 3, failures: "collect" })
      assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind]), range(6).map((k) => [k, "workerDied"]))
      assert.deepStrictEqual(run.results, range(6).map(() => undefined))
      assert.strictEqual(run.completed, 0)
      assert.deepStrictEqual(run.profile, Profile.empty)
    }))

  it.effect("a child process killed by a signal is replaced; its task failed", () =>
    Effect.gen(function* () {
      const { killedAt5 } = yield* children
      const run = yield* Pool.profileAll(killedAt5, range(12), { concurrency: 2, isolation: "process", failures: "collect" })
      assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind]), [[5, "workerDied"]])
      assert.match(run.failures[0]!.errorMessage, /killed by SIGKILL/)
      assert.strictEqual(run.completed, 11)
      assert.deepStrictEqual(functionNamed(run.profile, "killedAt5").lines.map((line) => line.hits), [11n, 11n])
    }))

  it.effect("a worker death fails the run by default, with the profile of what completed", () =>
    Effect.gen(function* () {
      const { exitsAt5 } = yield* children
      const error = yield* Effect.flip(Pool.profileAll(exitsAt5, range(12), { concurrency: 1, isolation: "process" }))
      assert.isTrue(error._tag === "TaskError" && error.index === 5 && error.kind === "workerDied")
      if (error._tag !== "TaskError") return
      assert.deepStrictEqual(functionNamed(error.profile, "exitsAt5").lines.map((line) => line.hits), [5n, 5n])
    }))

  it.effect("a task over the timeout fails and its stuck worker is replaced", () =>
    Effect.gen(function* () {
      const { spinsAt2 } = yield* children
      const run = yield* Pool.profileAll(spinsAt2, range(8), { concurrency: 2, timeout: "2 seconds", failures: "collect" })
      assert.deepStrictEqual(run.failures.map((failure) => [failure.index, failure.kind]), [[2, "timeout"]])
      assert.deepStrictEqual(run.results, range(8).map((k) => (k === 2 ? undefined : k)))
    }))

  it.effect("an input or a result that cannot cross is an error naming the input index", () =>
    Effect.gen(function* () {
      const { echo, uncloneableAt4 } = yield* children
      const badInput = yield* Effect.flip(Pool.profileAll(echo, [1, 2, () => 3], { concurrency: 1 }))
      assert.isTrue(badInput._tag === "TaskError" && badInput.index === 2 && badInput.kind === "notCloneable")
      assert.match(badInput.message, /^input 2: DataCloneError: the input cannot be sent to a worker/)
      const forked = yield* Effect.flip(Pool.profileAll(echo, [1, Symbol("s")], { concurrency: 1, isolation: "process" }))
      assert.isTrue(forked._tag === "TaskError" && forked.index === 1 && forked.kind === "notCloneable")
      const badResult = yield* Effect.flip(Pool.profileAll(uncloneableAt4, range(6), { concurrency: 2 }))
      assert.isTrue(badResult._tag === "TaskError" && badResult.index === 4 && badResult.kind === "notCloneable")
      assert.match(badResult.message, /^input 4: DataCloneError: the result cannot be sent back/)
    }))

  it.effect("a closure or a built-in is 'not runnable' before any worker starts", () =>
    Effect.gen(function* () {
      const { makeClosure } = yield* children
      const threads = watchThreads()
      const closure = yield* Effect.flip(Pool.profileAll(makeClosure(), range(4)))
      const builtin = yield* Effect.flip(Pool.profileAll(Math.sqrt, range(4)))
      threads.stop()
      assert.strictEqual(closure._tag, "NotExportedError")
      assert.match(closure.message, /^cannot locate function <anonymous>: .*children\.ts/)
      assert.strictEqual(builtin._tag, "NotExportedError")
      assert.strictEqual(builtin.message, "cannot locate function sqrt: it is a built-in function with no source module")
      assert.strictEqual(threads.counts.started, 0)
    }))

  it.effect("a worker that cannot load the child's module is WorkerStartError, not a restart loop", () =>
    Effect.gen(function* () {
      const { idle } = yield* load("../../fixtures/pool/noWorkers.ts")
      const error = yield* Effect.flip(Pool.profileAll(idle, range(8), { concurrency: 2, failures: "collect" }))
      assert.strictEqual(error._tag, "WorkerStartError", error.message)
      assert.match(error.message, /^lineprof pool: a worker could not load file:.*noWorkers\.ts: /)
      assert.notInclude(error.message, "\n")
    }))

  it.effect("bad options are one-line errors", () =>
    Effect.gen(function* () {
      const { square } = yield* children
      const error = yield* Effect.flip(Pool.profileAll(square, range(4), { concurrency: 0 }))
      assert.strictEqual(error.message, "lineprof pool: option concurrency: expected a positive integer, got 0")
      const chunked = yield* Effect.flip(Pool.profileAll(square, range(4), { chunkSize: 8, timeout: "1 second" }))
      assert.strictEqual(chunked.message, "lineprof pool: option chunkSize: a per-task timeout needs chunkSize 1 (leave chunkSize out)")
    }))

  // Live clock: the polling sleeps run in real time.
  it.live("interruption ends every worker thread", () =>
    Effect.gen(function* () {
      const { spinsAt2 } = yield* children
      const threads = watchThreads()
      // Input 2 spins forever and there is no task timeout: only the interruption ends it.
      const run = Pool.profileAll(spinsAt2, range(6), { concurrency: 3, chunkSize: 1 })
      const allStarted = Effect.gen(function* () {
        while (threads.counts.started < 3) yield* Effect.sleep("20 millis")
        yield* Effect.sleep("200 millis")
      })
      const winner = yield* Effect.raceFirst(Effect.as(run, "run"), Effect.as(allStarted, "interrupt"))
      threads.stop()
      assert.strictEqual(winner, "interrupt")
      assert.strictEqual(threads.counts.started, 3)
      assert.strictEqual(threads.counts.alive, 0)
    }))

  it.live("interruption ends every child process", () =>
    Effect.gen(function* () {
      const { recordPidThenSpin } = yield* children
      const dir = makeTempDir("pool-pids")
      const run = Pool.profileAll(recordPidThenSpin, [dir, dir], { concurrency: 2, isolation: "process", chunkSize: 1 })
      const bothSpinning = Effect.gen(function* () {
        while (readdirSync(dir).length < 2) yield* Effect.sleep("20 millis")
      })
      const winner = yield* Effect.raceFirst(Effect.as(run, "run"), Effect.as(bothSpinning, "interrupt"))
      const pids = readdirSync(dir).map(Number)
      assert.strictEqual(winner, "interrupt")
      assert.strictEqual(pids.length, 2)
      const alive = pids.filter((pid) => {
        try {
          process.kill(pid, 0)
          return true
        } catch {
          return false
        }
      })
      assert.deepStrictEqual(alive, [])
    }))
})

describe("profileAll under lineprof's preload", () => {
  it.effect("keeps `--import <lineprof>/register` out of the workers (no stats files from them)", () =>
    Effect.gen(function* () {
      const { doubleLater } = yield* children
      const dir = makeTempDir("pool")
      const register = fileURLToPath(new URL("../../../src/shell/record/register.ts", import.meta.url))
      const saved = {
        nodeOptions: process.env["NODE_OPTIONS"],
        dir: process.env["LINEPROF_DIR"],
        intervalMs: process.env["LINEPROF_INTERVAL_MS"]
      }
      const restore = Effect.sync(() => {
        for (
          const [name, value] of [
            ["NODE_OPTIONS", saved.nodeOptions],
            ["LINEPROF_DIR", saved.dir],
            ["LINEPROF_INTERVAL_MS", saved.intervalMs]
          ] as const
        ) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
      process.env["NODE_OPTIONS"] = `--import=${JSON.stringify(register)}`
      process.env["LINEPROF_DIR"] = dir
      // A preloaded worker would write its stats file every 10 ms; the async child leaves its timers room to run.
      process.env["LINEPROF_INTERVAL_MS"] = "10"
      const run = yield* Effect.ensuring(Pool.profileAll(doubleLater, range(200), { concurrency: 2, isolation: "process" }), restore)
      assert.deepStrictEqual(functionNamed(run.profile, "doubleLater").lines.map((line) => line.hits), [200n, 200n, 200n])
      const written = existsSync(dir) ? readdirSync(dir) : []
      assert.deepStrictEqual(written, [])
    }))
})

describe("profileStream", () => {
  it.effect("yields every task once in completion order; the summary covers them", () =>
    Effect.gen(function* () {
      const { square } = yield* children
      const { stream, summary } = Pool.profileStream(square, range(100), { concurrency: 3 })
      const items = yield* Stream.runCollect(stream)
      const seen = [...items].sort((a, b) => a.index - b.index)
      assert.deepStrictEqual(seen, range(100).map((k) => ({ index: k, input: k, result: k * k })))
      const { profile, completed } = yield* summary
      assert.strictEqual(completed, 100)
      assert.deepStrictEqual(functionNamed(profile, "square").lines.map((line) => line.hits), [100n, 100n])
    }))

  it.effect("a consumer that stops early gets the profile of exactly the completed tasks", () =>
    Effect.gen(function* () {
      const { square } = yield* children
      const { stream, summary } = Pool.profileStream(square, range(400), { concurrency: 2 })
      const taken = yield* Stream.runCollect(Stream.take(stream, 5))
      assert.strictEqual(taken.length, 5)
      const { profile, completed } = yield* summary
      assert.isAtLeast(completed, 5)
      assert.isBelow(completed, 400)
      assert.deepStrictEqual(functionNamed(profile, "square").lines.map((line) => line.hits), [BigInt(completed), BigInt(completed)])
    }))

  it.effect("a failed task fails the stream with TaskError; the summary still has the completed tasks", () =>
    Effect.gen(function* () {
      const { throwsAt7 } = yield* children
      const { stream, summary } = Pool.profileStream(throwsAt7, range(20), { concurrency: 1 })
      const error = yield* Effect.flip(Stream.runDrain(stream))
      assert.isTrue(error._tag === "TaskError" && error.index === 7)
      const { completed, profile } = yield* summary
      assert.strictEqual(completed, 7)
      assert.deepStrictEqual(functionNamed(profile, "throwsAt7").lines.map((line) => line.hits), [7n, 7n])
    }))
})
