/**
 * Test-runner projects for the e2e tests of `lineprof/vite` and
 * `lineprof/jest`: a fixture under test/fixtures/runners copied into a
 * scratch folder, with a node_modules of symlinks (lineprof itself and the
 * packages the project needs, from this repository's node_modules), as an
 * `npm install lineprof` would leave it. `lineprof/...` thus resolves through
 * package.json's "exports" to dist/: run `npm run build` first (npm test does).
 */
import { cpSync, mkdirSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import * as Result from "effect/Result"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { makeScratch, readText, repoRoot } from "./bin.ts"

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
