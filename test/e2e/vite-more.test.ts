/**
 * More of `lineprof/vite` (test/fixtures/runners/vitest): a Vite SSR dev
 * server (`ssrLoadModule`, ssr.mjs calls norm1 9 times) under `lineprof run`;
 * vitest with only LINEPROF_DIR set, no `lineprof run` and so no preload (the
 * plugin starts the recorder in vitest's process, Runtime in each fork or
 * thread); and run's warning when vitest ran without the plugin.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot, runBin } from "./bin.ts"
import { decodeStats, expectedShapesHits, hitsByFunction, makeRunnerProject, runProfiled } from "./runners.ts"

const vitestBin = join(repoRoot, "node_modules", "vitest", "vitest.mjs")

let project: ReturnType<typeof makeRunnerProject>
beforeAll(() => {
  project = makeRunnerProject("vitest", ["vitest", "vite"])
})
afterAll(() => project.remove())

describe("lineprof/vite, more", () => {
  it("a Vite SSR dev server (ssrLoadModule) under lineprof run: exact hits", () => {
    const out = join(project.dir, "ssr.json")
    const result = runBin(["run", "--no-report", "-o", out, "--", "ssr.mjs"], { cwd: project.dir })
    expect(result.stdout).toBe("total 45\n")
    expect(result.code).toBe(0)
    expect(hitsByFunction(decodeStats(out), "src/shapes.ts")).toEqual({ norm1: { 9: 9n, 10: 9n, 11: 9n } })
  })

  for (const pool of ["forks", "threads"]) {
    it(`vitest --pool ${pool} with LINEPROF_DIR set and no lineprof run (no preload): the stats files merge to exact hits`, () => {
      const statsDir = join(project.dir, `env-stats-${pool}`)
      const result = spawnSync(process.execPath, [vitestBin, "run", "--pool", pool], {
        cwd: project.dir,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, NO_COLOR: "1", LINEPROF_DIR: statsDir }
      })
      expect(result.stdout).toContain("5 passed")
      expect(result.status).toBe(0)
      const out = join(project.dir, `env-${pool}.json`)
      expect(runBin(["merge", "-o", out, statsDir]).code).toBe(0)
      expect(hitsByFunction(decodeStats(out), "src/shapes.ts")).toEqual(expectedShapesHits)
    })
  }

  it("without the plugin, lineprof run records nothing, and its warning says what to add to vitest.config.ts", () => {
    const result = runProfiled(project.dir, "no-plugin", [vitestBin, "run", "--config", "plain.config.mjs"])
    expect(result.stdout).toContain("5 passed")
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^lineprof: warning: no stats were recorded: vitest runs test and source files itself: add lineprof's Vite plugin to vitest\.config\.ts \(import lineprof from "lineprof\/vite"; plugins: \[lineprof\(\)\]\); nothing written$/m)
    expect(existsSync(result.out)).toBe(false)
  })
})
