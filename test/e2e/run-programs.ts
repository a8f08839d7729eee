/**
 * What the e2e tests of `lineprof run` share: a scratch folder holding a copy
 * of the programs in test/fixtures/cli/run (made before a test file's tests,
 * removed after), and the decoding of the stats files they leave.
 */
import { cpSync } from "node:fs"
import { join } from "node:path"
import * as Result from "effect/Result"
import { afterAll, beforeAll } from "vitest"
import type * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { fixturesDir, makeScratch, readText } from "./bin.ts"

/** Registers the folder's set-up and removal; `dir` (the scratch folder) and `programs` (the copy) are set once the tests run. */
export const usePrograms = (): { dir: string; programs: string } => {
  const paths = { dir: "", programs: "" }
  let remove = () => {}
  beforeAll(() => {
    const scratch = makeScratch()
    remove = scratch.remove
    paths.dir = scratch.dir
    paths.programs = join(scratch.dir, "programs")
    cpSync(join(fixturesDir, "run"), paths.programs, { recursive: true })
  })
  afterAll(() => remove())
  return paths
}

/** A stats file decoded, or the test fails with the decoder's message. */
export const decodeFile = (path: string): Profile.Profile => {
  const decoded = StatsFile.decode(readText(path), path)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  return decoded.success
}
