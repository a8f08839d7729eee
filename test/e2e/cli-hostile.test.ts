/**
 * The hostile-input corpus (test/fixtures/hostile) through the real bin:
 * every bad file gives exit 1 and one line on stderr from `show` and from
 * `merge` (which then writes nothing), and every valid file with extreme
 * numbers renders; each run within a time and peak-memory ceiling (5 s and
 * 300 MB for a file under 1 MB). Peak RSS and CPU time come from the process
 * itself (process.resourceUsage, written at exit by report-rss.mjs): CPU time,
 * not wall time, so that a machine busy with other work does not fail the
 * test; a hang (which spends no CPU) is caught by the 30 s timeout instead.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { writeBadFiles, writeExtremeFiles } from "../fixtures/hostile/corpus.ts"
import { binPath, makeScratch, repoRoot } from "./bin.ts"

const rssReporter = join(repoRoot, "test", "fixtures", "hostile", "report-rss.mjs")

interface Measured {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** CPU seconds, user + system. */
  readonly seconds: number
  readonly peakMb: number
}

// Made when the file is collected: the corpus is written then, to name the tests.
const scratch = makeScratch()
afterAll(() => scratch.remove())

const runMeasured = (args: ReadonlyArray<string>): Measured => {
  const rssFile = join(scratch.dir, `rss-${Math.random().toString(16).slice(2)}`)
  const result = spawnSync(process.execPath, ["--import", rssReporter, binPath, ...args], {
    cwd: scratch.dir,
    env: { ...process.env, NO_COLOR: "1", LINEPROF_TEST_RSS_FILE: rssFile },
    encoding: "utf8",
    timeout: 30_000,
    maxBuffer: 256 * 2 ** 20
  })
  const usage = existsSync(rssFile)
    ? (JSON.parse(readFileSync(rssFile, "utf8")) as { maxRssKb: number; cpuUs: number })
    : { maxRssKb: Infinity, cpuUs: Infinity }
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, seconds: usage.cpuUs / 1e6, peakMb: usage.maxRssKb / 1024 }
}

/** The ceilings of the brief: 5 s and 300 MB for a file under 1 MB; a bigger file gets them per started MB. */
const ceilingsFor = (path: string) => {
  const bytes = statSync(path, { throwIfNoEntry: false })?.size ?? 0
  const scale = Math.max(1, Math.ceil(bytes / 2 ** 20))
  return { seconds: 5 * scale, peakMb: 300 * scale }
}

describe("hostile files: exit 1, one line, within 5 s and 300 MB", () => {
  const bad = writeBadFiles(scratch.dir)

  for (const file of bad) {
    it(`show ${file.name}`, () => {
      const run = runMeasured(["show", file.path])
      expect(run.code).toBe(1)
      expect(run.stdout).toBe("")
      expect(run.stderr).toMatch(/^lineprof: [^\n]*\n$/)
      expect(run.stderr).toMatch(file.problem)
      expect(run.stderr).toContain(file.path)
      const ceilings = ceilingsFor(file.path)
      expect(run.seconds).toBeLessThan(ceilings.seconds)
      expect(run.peakMb).toBeLessThan(ceilings.peakMb)
    })

    it(`merge ${file.name}`, () => {
      const output = join(scratch.dir, `merged-${file.name}.json`)
      const run = runMeasured(["merge", file.path, "-o", output])
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/^lineprof: [^\n]*\n$/)
      expect(run.stderr).toMatch(file.problem)
      expect(existsSync(output)).toBe(false)
      const ceilings = ceilingsFor(file.path)
      expect(run.seconds).toBeLessThan(ceilings.seconds)
      expect(run.peakMb).toBeLessThan(ceilings.peakMb)
    })
  }
})

describe("valid files with extreme numbers render within the ceilings", () => {
  const extreme = writeExtremeFiles(scratch.dir)

  for (const file of extreme) {
    it(`show and merge ${file.name}`, () => {
      const ceilings = ceilingsFor(file.path)
      const shown = runMeasured(["show", file.path])
      expect(shown.stderr).toBe("")
      expect(shown.code).toBe(0)
      expect(shown.seconds).toBeLessThan(ceilings.seconds)
      expect(shown.peakMb).toBeLessThan(ceilings.peakMb)
      const output = join(scratch.dir, `merged-${file.name}`)
      const merged = runMeasured(["merge", file.path, "-o", output])
      expect(merged.code).toBe(0)
      expect(merged.seconds).toBeLessThan(ceilings.seconds)
      expect(merged.peakMb).toBeLessThan(ceilings.peakMb)
      expect(readFileSync(output, "utf8")).toBe(runMeasured(["show", "--format", "json", file.path]).stdout)
    })
  }

  it("a function of 5·10^7 lines without source shows only the lines that ran", () => {
    const [hugeSpan] = extreme
    const rows = runMeasured(["show", hugeSpan!.path]).stdout.split("\n").filter((line) => /^\s*\d+\s+\d/.test(line))
    expect(rows.map((row) => Number(row.trim().split(/\s+/)[0]))).toEqual([1, 50_000_000])
  })
})
