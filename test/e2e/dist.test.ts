/**
 * The published artifact: `npm test` builds dist/ first (`npm run build`, as
 * `npm ci` does through `prepare`), and this runs the built bin, `dist/bin.js`,
 * the file package.json's `bin` names. It must find its own register module
 * (dist/shell/record/register.js) and lazily loaded siblings as .js files: a program
 * with two worker threads and a forked child gives the known totals, and the
 * four Python dumps render line_profiler's own text.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as Result from "effect/Result"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { fixturesDir, makeScratch, repoRoot } from "./bin.ts"

const distBin = join(repoRoot, "dist", "bin.js")
const runDist = (args: ReadonlyArray<string>, cwd: string) =>
  spawnSync(process.execPath, [distBin, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 })

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
  cpSync(join(fixturesDir, "run"), scratch.dir, { recursive: true })
})
afterAll(() => scratch.remove())

describe("the built bin (dist/bin.js)", () => {
  it("exists: npm test and npm ci build it", () => {
    expect(existsSync(distBin)).toBe(true)
    expect(readFileSync(distBin, "utf8").startsWith("#!/usr/bin/env node")).toBe(true)
  })

  it("run: two worker threads and a forked child merge into the known totals", () => {
    const result = runDist(["run", "-o", "out.json", "--", "threads.mjs"], scratch.dir)
    expect(result.stdout).toBe("done 42\n")
    expect(result.status).toBe(3)
    expect(result.stderr).not.toContain("not instrumented")
    const decoded = StatsFile.decode(readFileSync(join(scratch.dir, "out.json"), "utf8"), "out.json")
    if (Result.isFailure(decoded)) throw new Error(decoded.failure)
    const work = decoded.success.functions.find((fn) => fn.name === "work" && fn.file.endsWith("lib.mjs"))
    expect(work?.lines.map((line) => [line.lineNo, line.hits])).toEqual([
      [4, 42n],
      [5, expect.any(BigInt)],
      [6, 42n]
    ])
  })

  it("show: the four .lprof dumps render line_profiler's merged text", () => {
    const goldenDir = join(repoRoot, "test", "golden")
    const result = runDist(["show", "--unit", "1e-6", "worker-0.lprof", "worker-1.lprof", "worker-2.lprof", "worker-3.lprof"], goldenDir)
    expect(result.stderr).toBe("")
    expect(result.stdout).toBe(readFileSync(join(goldenDir, "merged_us.txt"), "utf8"))
  })
})
