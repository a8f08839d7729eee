/**
 * Fast start through the real bin (issue 14): a second `lineprof run` takes
 * every profiled file of every process and thread from the instrument cache
 * and counts the same hits; `--verbose` says so; the calibration is taken
 * from the cache unless `--recalibrate`; `LINEPROF_CACHE=off` writes no
 * cache; and the build ships the command and the register module as single
 * files while the library entry points stay tsc's.
 */
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as Result from "effect/Result"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as StatsFile from "../../src/core/StatsFile.ts"
import * as CalibrationCache from "../../src/shell/record/CalibrationCache.ts"
import { fixturesDir, makeScratch, repoRoot, runBin } from "./bin.ts"
import { makeTempDir } from "../support/TempDir.ts"

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
  cpSync(join(fixturesDir, "run"), scratch.dir, { recursive: true })
})
afterAll(() => scratch.remove())

/** Hits of `work` (lib.mjs) on line 4: one a call. */
const callsOfWork = (file: string): bigint | undefined => {
  const decoded = StatsFile.decode(readFileSync(file, "utf8"), file)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  const work = decoded.success.functions.find((fn) => fn.name === "work" && fn.file.endsWith("lib.mjs"))
  return work?.lines.find((line) => line.lineNo === 4)?.hits
}

const CACHE_LINE = /^lineprof: pid \d+(?: thread \d+)?: (\d+) of (\d+) files? from the instrument cache \((\d+)%\), [\d.]+ ms instrumenting$/gm

describe("lineprof run with caches", () => {
  it("a second run takes every file of its processes and threads from the instrument cache, with the same hits (--verbose)", () => {
    const cacheDir = makeTempDir("startup-cache")
    const runOnce = (output: string) => runBin(["run", "--verbose", "--no-report", "-o", output, "--", "threads.mjs"], { cwd: scratch.dir, env: { LINEPROF_CACHE_DIR: cacheDir } })
    const cold = runOnce("cold.json")
    const warm = runOnce("warm.json")
    for (const result of [cold, warm]) {
      expect(result.stdout).toBe("done 42\n")
      expect(result.code).toBe(3)
    }
    const coldLines = [...cold.stderr.matchAll(CACHE_LINE)]
    const warmLines = [...warm.stderr.matchAll(CACHE_LINE)]
    // The main thread, two worker threads and the forked child each report.
    expect(coldLines.length).toBe(4)
    expect(warmLines.length).toBe(4)
    expect(coldLines.reduce((sum, line) => sum + Number(line[1]), 0)).toBeLessThan(coldLines.reduce((sum, line) => sum + Number(line[2]), 0))
    for (const line of warmLines) {
      expect(line[1]).toBe(line[2])
      expect(line[3]).toBe("100")
    }
    expect(callsOfWork(join(scratch.dir, "cold.json"))).toBe(42n)
    expect(callsOfWork(join(scratch.dir, "warm.json"))).toBe(42n)
    expect(readdirSync(join(cacheDir, "instrument")).length).toBeGreaterThan(0)
  })

  it("takes the cached calibration; --recalibrate measures again and rewrites it", () => {
    const cacheDir = makeTempDir("startup-cache")
    const key = CalibrationCache.currentKey()
    // Recognisable, and plausible: a cost far above a clock read would be taken as calibrated under load and measured again.
    const known = { clock: "performance.now", costNs: 1.2345 }
    CalibrationCache.write(cacheDir, key, known)
    const runOnce = (flags: ReadonlyArray<string>) =>
      runBin(["run", ...flags, "--no-report", "-o", "out.json", "--", "threads.mjs"], { cwd: scratch.dir, env: { LINEPROF_CACHE_DIR: cacheDir } })
    const adopted = runOnce([])
    expect(adopted.code).toBe(3)
    expect(CalibrationCache.read(cacheDir, key)).toEqual(known)
    const measured = runOnce(["--recalibrate"])
    expect(measured.code).toBe(3)
    expect(callsOfWork(join(scratch.dir, "out.json"))).toBe(42n)
    const fresh = CalibrationCache.read(cacheDir, key)
    expect(fresh).toBeDefined()
    expect(fresh).not.toEqual(known)
  })

  it("LINEPROF_CACHE=off: nothing is cached, the run is the same", () => {
    const parent = makeTempDir("startup-cache")
    const cacheDir = join(parent, "cache")
    const result = runBin(["run", "--no-report", "-o", "off.json", "--", "threads.mjs"], {
      cwd: scratch.dir,
      env: { LINEPROF_CACHE_DIR: cacheDir, LINEPROF_CACHE: "off" }
    })
    expect(result.code).toBe(3)
    expect(callsOfWork(join(scratch.dir, "off.json"))).toBe(42n)
    expect(existsSync(cacheDir)).toBe(false)
  })
})

describe("the build", () => {
  const dist = join(repoRoot, "dist")
  it("ships the command, the register module and the stats encoder as single files (no import of effect left)", () => {
    for (const file of ["shell/cli/Main.js", "shell/record/register.js", "shell/record/StatsEncoder.js"]) {
      const text = readFileSync(join(dist, file), "utf8")
      // Import statements only (Schema's code generators hold strings such as 'import * as Cause from "effect/Cause"').
      const importFrom = (target: string) => new RegExp(`(?:^|[;\\n])\\s*import\\s*[^;'"\`]*?from\\s*["']${target}`)
      expect(text).not.toMatch(importFrom("effect/"))
      expect(text).not.toMatch(importFrom("@effect/"))
      expect(text).not.toMatch(importFrom("\\.\\.?/"))
    }
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"))
    // The ./register export is the preload, which checks the Node version before it imports the register bundle.
    expect(pkg.exports["./register"]).toBe("./dist/shell/record/preload.js")
    expect(readFileSync(join(dist, "shell/record/preload.js"), "utf8")).toMatch(/import\(.*`\.\/register\$\{/)
  })

  it("keeps the library's entry point and its types (tsc's output)", async () => {
    expect(existsSync(join(dist, "index.d.ts"))).toBe(true)
    const library = await import(join(dist, "index.js"))
    expect(typeof library.Instrument.instrumentSource).toBe("function")
    expect(typeof library.Recorder.snapshot).toBe("function")
  })
})
