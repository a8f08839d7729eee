/**
 * `lineprof/vite` under vitest's forks, threads and vmThreads pools, through
 * the real `lineprof run` bin (test/fixtures/runners/vitest; the SSR server,
 * LINEPROF_* without `run`, and run's hint are in vite-more.test.ts). vitest evaluates modules
 * with its own module runner, which Node's load hooks never see; the plugin
 * instruments them in Vite's pipeline and they register with the recorder of
 * whichever fork or worker thread runs them.
 *
 * The two spec files run src/shapes.ts as `expectedShapesHits` says. Lines
 * are those of the .ts file, whose type-only lines Vite's TypeScript
 * transform removes.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import { repoRoot } from "./bin.ts"
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
})
