/**
 * `lineprof/vite` under vitest (forks, threads and vmThreads pools) and a Vite SSR dev server, through the real
 * `lineprof run` bin (test/fixtures/runners/vitest). vitest evaluates modules
 * with its own module runner, which Node's load hooks never see; the plugin
 * instruments them in Vite's pipeline and they register with the recorder of
 * whichever fork or worker thread runs them.
 *
 * The two spec files run src/shapes.ts as `expectedShapesHits` says; the
 * SSR script calls norm1 9 times. Lines are those of the .ts file, whose
 * type-only lines Vite's TypeScript transform removes.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import { repoRoot, runBin } from "./bin.ts"
import { decodeStats, expectedShapesHits, hitsByFunction, makeRunnerProject, runPlain, runProfiled } from "./runners.ts"

const vitestBin = join(repoRoot, "node_modules", "vitest", "vitest.mjs")

let project: ReturnType<typeof makeRunnerProject>
beforeAll(() => {
  project = makeRunnerProject("vitest", ["vitest", "vite"])
})
afterAll(() => project.remove())

const plainVitest = () => runPlain(project.dir, [vitestBin, "run"])
const profiledVitest = (pool: string) => runProfiled(project.dir, pool, [vitestBin, "run", "--pool", pool])

describe("lineprof/vite", () => {
  it("vitest without lineprof: the plugin does nothing (tests pass, no stats)", () => {
    // Also fills vitest's module cache with the plain modules, which the profiled runs must not reuse.
    const result = plainVitest()
    expect(result.stdout).toContain("5 passed")
    expect(result.status).toBe(0)
    expect(existsSync(join(project.dir, ".lineprof"))).toBe(false)
  })

  for (const pool of ["forks", "threads", "vmThreads"]) {
    it(`vitest --pool ${pool} under lineprof run: exact hits on the .ts lines, added up over the test files`, () => {
      const result = profiledVitest(pool)
      expect(result.stdout).toContain("5 passed")
      expect(result.code).toBe(0)
      expect(result.stderr).toContain(`lineprof: wrote ${result.out}`)
      const profile = decodeStats(result.out)
      expect(Profile.check(profile)).toEqual([])
      expect(hitsByFunction(profile, "src/shapes.ts")).toEqual(expectedShapesHits)
      // The report shows the original text of those lines.
      const norm1 = profile.functions.find((fn) => fn.name === "norm1")!
      expect(norm1.source).toEqual([
        "export function norm1(p: Point): number {",
        "  const ax: number = Math.abs(p.x)",
        "  const ay: number = Math.abs(p.y)",
        "  return ax + ay",
        "}"
      ])
    })
  }

  it("vitest after profiled runs, without lineprof: the cached modules are the plain ones (no stats)", () => {
    const result = plainVitest()
    expect(result.stdout).toContain("5 passed")
    expect(result.status).toBe(0)
    expect(existsSync(join(project.dir, ".lineprof"))).toBe(false)
  })

  it("without the plugin, lineprof run records nothing, and its warning says what to add to vitest.config.ts", () => {
    const result = runProfiled(project.dir, "no-plugin", [vitestBin, "run", "--config", "plain.config.mjs"])
    expect(result.stdout).toContain("5 passed")
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^lineprof: warning: no stats were recorded: .*; vitest runs test and source files itself: add lineprof's Vite plugin to vitest\.config\.ts \(import lineprof from "lineprof\/vite"; plugins: \[lineprof\(\)\]\)$/m)
    expect(existsSync(result.out)).toBe(false)
  })

  it("a Vite SSR dev server (ssrLoadModule) under lineprof run: exact hits", () => {
    const out = join(project.dir, "ssr.json")
    const result = runBin(["run", "--no-report", "-o", out, "--", "ssr.mjs"], { cwd: project.dir })
    expect(result.stdout).toBe("total 45\n")
    expect(result.code).toBe(0)
    expect(hitsByFunction(decodeStats(out), "src/shapes.ts")).toEqual({ norm1: { 9: 9n, 10: 9n, 11: 9n } })
  })
})
