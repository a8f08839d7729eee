/**
 * Test-runner projects for the e2e tests of `lineprof/vite` and
 * `lineprof/jest`: a fixture under test/fixtures/runners copied into a
 * scratch folder, with a node_modules of symlinks (lineprof itself and the
 * packages the project needs, from this repository's node_modules), as an
 * `npm install lineprof` would leave it. `lineprof/...` thus resolves through
 * package.json's "exports" to dist/: run `npm run build` first (npm test does).
 */
import { spawnSync } from "node:child_process"
import { cpSync, mkdirSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import * as Result from "effect/Result"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { makeScratch, readText, repoRoot, runBin } from "./bin.ts"

export const runnersFixturesDir = join(repoRoot, "test", "fixtures", "runners")

/** A scratch copy of `test/fixtures/runners/<fixture>` with `packages` (and lineprof) linked into its node_modules. */
export const makeRunnerProject = (fixture: string, packages: ReadonlyArray<string>) => {
  const scratch = makeScratch()
  cpSync(join(runnersFixturesDir, fixture), scratch.dir, { recursive: true })
  const modules = join(scratch.dir, "node_modules")
  mkdirSync(modules)
  symlinkSync(repoRoot, join(modules, "lineprof"))
  for (const name of packages) {
    if (name.includes("/")) mkdirSync(join(modules, name.split("/")[0]!), { recursive: true })
    symlinkSync(join(repoRoot, "node_modules", name), join(modules, name))
  }
  return scratch
}

export const decodeStats = (path: string): Profile.Profile => {
  const decoded = StatsFile.decode(readText(path), path)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  return decoded.success
}

/** Hits by line number of each function of `file` (a path ending), as `{ name: { line: hits } }`. */
export const hitsByFunction = (profile: Profile.Profile, file: string): Record<string, Record<number, bigint>> =>
  Object.fromEntries(
    profile.functions
      .filter((fn) => fn.file.endsWith(file))
      .map((fn) => [fn.name, Object.fromEntries(fn.lines.map((line) => [line.lineNo, line.hits]))])
  )

/**
 * What the spec files of both projects run in src/shapes.ts (the same file in
 * each, so that each project stands alone): norm1 5 and 7
 * times (12 in all), sumTo(10) once, later twice and where once; by line.
 */
export const expectedShapesHits = {
  norm1: { 9: 12n, 10: 12n, 11: 12n },
  sumTo: { 15: 1n, 16: 11n, 17: 10n, 19: 1n },
  later: { 23: 2n, 24: 2n, 25: 2n },
  where: { 29: 1n }
}

/** Runs `node ...args` in `cwd` without lineprof. */
export const runPlain = (cwd: string, args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, args, { cwd, encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } })

/** Runs `lineprof run --no-report -o <cwd>/<name>.json -- node ...args` in `cwd`; `out` is the stats file. */
export const runProfiled = (cwd: string, name: string, args: ReadonlyArray<string>) => {
  const out = join(cwd, `${name}.json`)
  const result = runBin(["run", "--no-report", "-o", out, "--", process.execPath, ...args], { cwd })
  return { ...result, out }
}
