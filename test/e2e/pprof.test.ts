/**
 * pprof through the real bin: `show --format pprof -o`, `merge` and `show`
 * reading pprof files (exactly, mixed with JSON), `merge -o *.pb.gz`,
 * `run --format pprof`, the built package (dist/ bin and API), and the
 * one-line errors (no -o, another tool's pprof, a pprof that go tool pprof
 * rewrote). Go's `go tool pprof -list` shows a run's hits beside the source.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import * as Result from "effect/Result"
import * as PprofFormat from "pprof-format"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import * as PprofFiles from "../../src/shell/files/Pprof.ts"
import { fixturesDir, makeScratch, readText, repoRoot, runBin } from "./bin.ts"
import { goPprof, goPprofBytes } from "./go.ts"

const fixture = (name: string) => join(fixturesDir, name)

const readJson = (path: string): Profile.Profile => Result.getOrThrow(StatsFile.decode(readText(path), path))
const readPprof = (path: string): Profile.Profile => Result.getOrThrow(PprofFiles.decodeGzip(readFileSync(path), path))

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
})
afterAll(() => scratch.remove())

const inScratch = (name: string) => join(scratch.dir, name)

describe("lineprof show --format pprof", () => {
  it("writes the merged profile as gzipped profile.proto that reads back exactly", () => {
    const out = inScratch("ab.pb.gz")
    const result = runBin(["show", "--format", "pprof", "-o", out, fixture("a.json"), fixture("b.json")])
    expect(result).toMatchObject({ code: 0, stdout: "", stderr: "" })
    expect(PprofFiles.isGzip(readFileSync(out))).toBe(true)
    expect(readPprof(out)).toEqual(Profile.combine(readJson(fixture("a.json")), readJson(fixture("b.json"))))
  })

  it("needs -o (pprof is binary): usage error, exit 2", () => {
    const result = runBin(["show", "--format", "pprof", fixture("a.json")])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe("lineprof: show: --format pprof writes binary data: name the file with -o (e.g. -o prof.pb.gz)\n")
  })
})

describe("the built package (dist/)", () => {
  it("its bin writes pprof, and its public API reads it back (PprofFiles) and encodes it (Pprof)", async () => {
    const out = inScratch("dist.pb.gz")
    const result = spawnSync(process.execPath, [join(repoRoot, "dist", "bin.js"), "show", "--format", "pprof", "-o", out, fixture("a.json")], {
      encoding: "utf8",
      timeout: 120_000
    })
    expect(result).toMatchObject({ status: 0, stderr: "" })
    const api = (await import(join(repoRoot, "dist", "index.js"))) as typeof import("../../src/index.ts")
    const profile = Result.getOrThrow(api.PprofFiles.decodeGzip(readFileSync(out), out))
    expect(profile).toEqual(readJson(fixture("a.json")))
    expect(Result.getOrThrow(api.Pprof.decode(api.Pprof.encode(profile), "again"))).toEqual(profile)
  })
})

describe("lineprof show and merge read pprof", () => {
  it("show of a pprof file gives the same text report as show of the JSON it came from", () => {
    const out = inScratch("a.pb.gz")
    expect(runBin(["show", "--format", "pprof", "-o", out, fixture("a.json")]).code).toBe(0)
    const fromPprof = runBin(["show", out])
    expect(fromPprof.code).toBe(0)
    expect(fromPprof.stdout).toBe(runBin(["show", fixture("a.json")]).stdout)
    expect(fromPprof.stdout).toContain("Function: work at line 1")
  })

  it("merge adds pprof and JSON inputs exactly, and writes pprof for an -o ending in .pb.gz", () => {
    const pprofB = inScratch("b.pb.gz")
    expect(runBin(["show", "--format", "pprof", "-o", pprofB, fixture("b.json")]).code).toBe(0)
    const expected = Profile.combine(readJson(fixture("a.json")), readJson(fixture("b.json")))
    const json = inScratch("mixed.json")
    expect(runBin(["merge", "-o", json, fixture("a.json"), pprofB])).toMatchObject({ code: 0, stderr: `lineprof: merged 2 stats files into ${json}\n` })
    expect(readJson(json)).toEqual(expected)
    const pprof = inScratch("mixed.pb.gz")
    expect(runBin(["merge", "-o", pprof, fixture("a.json"), pprofB]).code).toBe(0)
    expect(readPprof(pprof)).toEqual(expected)
  })

  it("another tool's pprof: one line naming the file, exit 1, the output not created", () => {
    const strings = new PprofFormat.StringTable()
    const cpu = inScratch("cpu.pb.gz")
    writeFileSync(cpu, gzipSync(new PprofFormat.Profile({ sampleType: [{ type: strings.dedup("cpu"), unit: strings.dedup("nanoseconds") }], stringTable: strings }).encode()))
    const out = inScratch("never.json")
    const result = runBin(["merge", "-o", out, fixture("a.json"), cpu])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`lineprof: ${cpu}: a pprof profile not written by lineprof (lineprof reads back only the pprof files it writes)\n`)
    expect(existsSync(out)).toBe(false)
  })
})

describe("a lineprof pprof rewritten by go tool pprof -proto", () => {
  it("is refused with one line that says why", () => {
    const original = inScratch("to-rewrite.pb.gz")
    expect(runBin(["show", "--format", "pprof", "-o", original, fixture("a.json")]).code).toBe(0)
    const rewritten = inScratch("rewritten.pb.gz")
    writeFileSync(rewritten, goPprofBytes(["-proto", original], { cwd: scratch.dir, home: scratch.dir }))
    const result = runBin(["show", rewritten])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      `lineprof: ${rewritten}: lineprof extras: not JSON (rewritten by another pprof tool? lineprof reads back only the files it wrote)\n`
    )
  })
})

describe("lineprof run --format pprof", () => {
  it("writes <script>.lineprof.pb.gz instead of a report; go tool pprof -list shows the hits beside the source", () => {
    const programs = inScratch("programs")
    cpSync(join(fixturesDir, "run"), programs, { recursive: true })
    const result = runBin(["run", "--format", "pprof", "--", "threads.mjs"], { cwd: programs })
    // threads.mjs exits with 3 and prints "done 42"; no report on stderr.
    expect(result).toMatchObject({ code: 3, stdout: "done 42\n", stderr: "lineprof: wrote threads.mjs.lineprof.pb.gz (4 stats files merged)\n" })
    const profile = readPprof(join(programs, "threads.mjs.lineprof.pb.gz"))
    const work = profile.functions.find((fn) => fn.name === "work" && fn.file === join(programs, "lib.mjs"))
    // 42 calls of work: one hit each on lines 4 and 6.
    expect([4, 6].map((lineNo) => work?.lines.find((line) => line.lineNo === lineNo)?.hits)).toEqual([42n, 42n])
    const listing = goPprof(["-list", "^work$", "-sample_index=hits", "threads.mjs.lineprof.pb.gz"], { cwd: programs, home: scratch.dir })
    expect(listing).toContain(`ROUTINE ======================== work in ${join(programs, "lib.mjs")}`)
    expect(listing).toMatch(/^\s+42\s+42\s+4:  let total = 0$/m)
    expect(listing).toMatch(/^\s+42\s+42\s+6:  return total$/m)
  })

  it("an -o ending in .pprof is written as pprof, and the text report still goes to stderr", () => {
    const programs = inScratch("programs-o")
    cpSync(join(fixturesDir, "run"), programs, { recursive: true })
    const out = inScratch("threads.pprof")
    const result = runBin(["run", "-o", out, "--", "threads.mjs"], { cwd: programs })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain("Function: work at line 3")
    expect(result.stderr.trimEnd().split("\n").at(-1)).toBe(`lineprof: wrote ${out} (4 stats files merged)`)
    const work = readPprof(out).functions.find((fn) => fn.name === "work")
    expect(work?.lines.find((line) => line.lineNo === 4)?.hits).toBe(42n)
  })
})
