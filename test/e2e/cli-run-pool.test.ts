/**
 * `lineprof run` on programs that use `profileAll` (test/fixtures/cli/pool),
 * through the real bin: the pool's workers run without lineprof's preload,
 * and the deltas the pool brings back reach `run`'s merged stats through the
 * stats file of the thread that ran the pool, each exactly once, whether
 * that file was written at exit, by a periodic flush only (the program was
 * SIGKILLed), or by the main thread for a worker that was terminate()d.
 *
 * Every fixture runs `child` (child.ts) on inputs 0..999 with concurrency 2;
 * each call is one hit on each of its body lines 4, 5 and 6.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import * as Result from "effect/Result"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { fixturesDir, makeScratch, readText, runBin } from "./bin.ts"

const programs = join(fixturesDir, "pool")
/** What main.ts prints: its results' sum and the pool's own measurement, the same with and without lineprof. */
const mainStdout = "sum 999000 completed 1000 child 4:1000,5:1000,6:1000\n"

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
})
afterAll(() => scratch.remove())

const decodeFile = (path: string): Profile.Profile => {
  const decoded = StatsFile.decode(readText(path), path)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  return decoded.success
}

/** Hits of `child` in child.ts by line number. */
const hitsOfChild = (profile: Profile.Profile): Record<number, bigint> => {
  const child = profile.functions.find((fn) => fn.name === "child" && fn.file.endsWith(join("pool", "child.ts")))
  return Object.fromEntries((child?.lines ?? []).map((line) => [line.lineNo, line.hits]))
}
const everyCallOnce = { 4: 1000n, 5: 1000n, 6: 1000n }

/** A worker's output and the main thread's reach stdout in either order. */
const linesOf = (stdout: string): Array<string> => stdout.split("\n").filter((line) => line !== "").sort()

/** `lineprof run --no-report --interval 50ms -o <scratch>/<name>.json -- <script>`, from the fixtures' folder. */
const runUnderLineprof = (script: string, name: string) => {
  const out = join(scratch.dir, `${name}.json`)
  const result = runBin(["run", "--no-report", "--interval", "50ms", "-o", out, "--", script], { cwd: programs })
  return { ...result, out }
}

describe("lineprof run with profileAll in the program", () => {
  it("adds the pool's work to run's stats exactly once, across periodic flushes; stdout and exit code unchanged", () => {
    const plain = spawnSync(process.execPath, ["main.ts"], { cwd: programs, encoding: "utf8", timeout: 120_000 })
    expect(plain.stdout).toBe(mainStdout)
    expect(plain.status).toBe(5)

    const result = runUnderLineprof("main.ts", "main")
    expect(result.stdout).toBe(plain.stdout)
    expect(result.code).toBe(plain.status)
    // One stats file, the main thread's: the pool's workers write none.
    expect(result.stderr).toBe(`lineprof: wrote ${result.out} (1 stats file merged)\n`)
    const profile = decodeFile(result.out)
    expect(hitsOfChild(profile)).toEqual(everyCallOnce)
    expect(Profile.check(profile)).toEqual([])
  })

  it("a periodic flush alone holds the pool's work (the program dies of SIGKILL after it)", () => {
    const result = runUnderLineprof("killed.ts", "killed")
    expect(result.stdout).toBe(mainStdout)
    expect(result.code).toBe(128 + 9)
    expect(hitsOfChild(decodeFile(result.out))).toEqual(everyCallOnce)
  })

  it("a pool in a worker thread: its deltas reach the worker's file, also when the worker is terminate()d", () => {
    const ended = runUnderLineprof("in-worker.ts", "in-worker")
    expect(linesOf(ended.stdout)).toEqual(linesOf(`${mainStdout}worker exit 5\n`))
    expect(ended.code).toBe(5)
    expect(hitsOfChild(decodeFile(ended.out))).toEqual(everyCallOnce)

    // The worker spins until terminate()d, so the main thread writes its final file.
    const terminated = runUnderLineprof("terminated.ts", "terminated")
    expect(linesOf(terminated.stdout)).toEqual(linesOf(`${mainStdout}worker exit 1\n`))
    expect(terminated.code).toBe(0)
    expect(hitsOfChild(decodeFile(terminated.out))).toEqual(everyCallOnce)
  })
})
