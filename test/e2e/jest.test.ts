/**
 * `lineprof/jest` through the real `lineprof run` bin
 * (test/fixtures/runners/jest: babel-jest with babel's TypeScript preset,
 * chained by `["lineprof/jest", { transformer: "babel-jest" }]`). jest runs
 * each test file in a vm context of its own, in its main process (in band),
 * in worker processes or in worker threads; the counts reach lineprof.
 *
 * The two spec files run src/shapes.ts as `expectedShapesHits` says; lines
 * are those of the .ts file, whose type-only lines babel removes.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import { repoRoot } from "./bin.ts"
import { decodeStats, expectedShapesHits, hitsByFunction, makeRunnerProject, runPlain, runProfiled } from "./runners.ts"

const jestBin = join(repoRoot, "node_modules", "jest", "bin", "jest.js")

let project: ReturnType<typeof makeRunnerProject>
beforeAll(() => {
  project = makeRunnerProject("jest", ["jest", "babel-jest", "@babel", "@jest"])
})
afterAll(() => project.remove())

const plainJest = () => runPlain(project.dir, [jestBin])
const profiledJest = (name: string, args: ReadonlyArray<string>) => runProfiled(project.dir, name, [jestBin, ...args])

describe("lineprof/jest", () => {
  it("jest without lineprof: the transform only chains to babel-jest (tests pass, no stats)", () => {
    // Also fills jest's transform cache with the plain files, which the profiled runs must not reuse.
    const result = plainJest()
    expect(result.stderr).toContain("Tests:       5 passed, 5 total")
    expect(result.status).toBe(0)
    expect(existsSync(join(project.dir, ".lineprof"))).toBe(false)
  })

  it("in band under lineprof run: exact hits on the .ts lines, from every test file's vm context", () => {
    const result = profiledJest("in-band", ["--runInBand"])
    expect(result.stderr).toContain("Tests:       5 passed, 5 total")
    expect(result.code).toBe(0)
    const profile = decodeStats(result.out)
    expect(Profile.check(profile)).toEqual([])
    expect(hitsByFunction(profile, "src/shapes.ts")).toEqual(expectedShapesHits)
    expect(profile.functions.find((fn) => fn.name === "norm1")?.source?.[1]).toBe("  const ax: number = Math.abs(p.x)")
  })

  for (const [workers, flags] of [["processes", []], ["threads", ["--workerThreads"]]] as const) {
    it(`two worker ${workers} under lineprof run (a fresh cache): exact hits, added up over the workers`, () => {
      const cache = join(project.dir, `.jest-cache-${workers}`)
      const result = profiledJest(`workers-${workers}`, ["--maxWorkers=2", ...flags, "--cacheDirectory", cache])
      expect(result.stderr).toContain("Tests:       5 passed, 5 total")
      expect(result.code).toBe(0)
      expect(result.stderr).toMatch(/lineprof: wrote .* \([2-9] stats files merged\)/)
      expect(hitsByFunction(decodeStats(result.out), "src/shapes.ts")).toEqual(expectedShapesHits)
    })
  }

  it("jest after profiled runs, without lineprof: the cached files are the plain ones (no stats)", () => {
    const result = plainJest()
    expect(result.stderr).toContain("Tests:       5 passed, 5 total")
    expect(result.status).toBe(0)
    expect(existsSync(join(project.dir, ".lineprof"))).toBe(false)
  })
})
