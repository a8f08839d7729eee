/**
 * shell/Merge: expanding files, folders and globs; folding stats files one at
 * a time into exactly the combined profile, whatever their order; --skip-bad.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "fast-check"
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import * as Merge from "../../src/shell/Merge.ts"
import type { Progress } from "../../src/shell/Terminal.ts"

const fixtures = resolve(import.meta.dirname, "..", "fixtures", "cli")
const root = mkdtempSync(join(tmpdir(), "lineprof-merge-test-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let folders = 0
const freshFolder = (): string => {
  const dir = join(root, `case-${folders++}`)
  mkdirSync(dir)
  return dir
}

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) => Effect.provide(effect, NodeServices.layer)

describe("findStatsFiles", () => {
  it.effect("expands folders recursively and globs, sorted, duplicates removed, other files and folders skipped", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        mkdirSync(join(dir, "a", "b"), { recursive: true })
        mkdirSync(join(dir, "looks-like.json"))
        for (const name of ["a/b/2.json", "a/1.json", "z.lprof", "notes.txt"]) writeFileSync(join(dir, name), "")
        const found = yield* Merge.findStatsFiles([dir, join(dir, "a", "1.json"), `${dir}/a/**/*.json`])
        assert.deepStrictEqual(
          found.map((path) => path.slice(dir.length + 1)),
          ["a/1.json", "a/b/2.json", "z.lprof"]
        )
      })
    ))

  it.effect("keeps a named file whatever its name, and leaves `ignore`d files out of expansions", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        for (const name of ["in.json", "out.json", "odd.txt"]) writeFileSync(join(dir, name), "")
        const found = yield* Merge.findStatsFiles([dir, join(dir, "odd.txt")], { ignore: [join(dir, "out.json")] })
        assert.deepStrictEqual(found, [join(dir, "in.json"), join(dir, "odd.txt")])
      })
    ))

  it.effect("fails with one line for a missing path, an empty folder and a glob that matches nothing", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        const cases: ReadonlyArray<readonly [string, string]> = [
          [join(dir, "missing.json"), `${join(dir, "missing.json")}: no such file or folder`],
          [dir, `${dir}: no stats files (*.json, *.lprof) in this folder`],
          [`${dir}/*.json`, `${dir}/*.json: no files match this pattern`]
        ]
        for (const [input, message] of cases) {
          const exit = yield* Effect.exit(Merge.findStatsFiles([input]))
          assert.deepStrictEqual(exit, Exit.fail(new Merge.MergeInputError({ input, message })))
        }
      })
    ))
})

// -- the fold -----------------------------------------------------------------------------

const names = ["f", "g", "h"] as const
const functionProfile = fc
  .record({
    name: fc.constantFrom(...names),
    fileHash: fc.constantFrom("h1", "h2"),
    lines: fc.array(
      fc.record({
        lineNo: fc.integer({ min: 2, max: 4 }),
        hits: fc.bigInt({ min: 0n, max: 2n ** 60n }),
        timeNs: fc.bigInt({ min: 0n, max: 2n ** 64n }),
        waitNs: fc.bigInt({ min: 0n, max: 1000n })
      }),
      { maxLength: 3 }
    )
  })
  .map(({ name, fileHash, lines }): Profile.FunctionProfile => ({
    file: "/app/x.ts",
    name,
    firstLine: 1,
    lastLine: 4,
    fileHash,
    source: undefined,
    lines
  }))
const profile = fc.array(functionProfile, { maxLength: 4 }).map(Profile.make)
/** Profiles and an order in which to read their files. */
const withOrder = fc
  .array(profile, { minLength: 1, maxLength: 6 })
  .chain((profiles) =>
    fc.tuple(
      fc.constant(profiles),
      fc.shuffledSubarray(profiles.map((_, k) => k), { minLength: profiles.length, maxLength: profiles.length })
    )
  )

describe("mergeFiles", () => {
  it("equals the combined profile of the files, in any order", async () => {
    await fc.assert(
      fc.asyncProperty(withOrder, async ([profiles, order]) => {
        const dir = freshFolder()
        const paths = profiles.map((value, k) => {
          const path = join(dir, `${k}.json`)
          writeFileSync(path, StatsFile.encode(value))
          return path
        })
        const shuffled = order.map((k) => paths[k]!)
        const result = await Effect.runPromise(run(Merge.mergeFiles(shuffled)))
        assert.deepStrictEqual(result.profile, Profile.ProfileReducer.combineAll(profiles))
        assert.strictEqual(result.mergedFiles, profiles.length)
        assert.deepStrictEqual(Profile.check(result.profile), [])
      }),
      { numRuns: 60 }
    )
  })

  it.effect("stops at the first bad file, or with skipBad reports each one and merges the rest", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        const good = [join(fixtures, "a.json"), join(fixtures, "b.json")]
        const bad = join(dir, "truncated.json")
        copyFileSync(join(fixtures, "truncated.json"), bad)
        const failed = yield* Effect.flip(Merge.mergeFiles([good[0]!, bad, good[1]!]))
        assert.strictEqual(failed.message, `${bad}: truncated JSON: the text ends in the middle of a value`)

        const reported: Array<string> = []
        const ticks: Array<number> = []
        let finished = 0
        const progress: Progress = { tick: (done) => ticks.push(done), finish: () => finished++ }
        const skipped = yield* Merge.mergeFiles([good[0]!, bad, good[1]!], {
          skipBad: true,
          onBad: (file) => Effect.sync(() => reported.push(file.path)),
          progress
        })
        const alone = yield* Merge.mergeFiles(good)
        assert.deepStrictEqual(skipped.profile, alone.profile)
        assert.deepStrictEqual(reported, [bad])
        assert.deepStrictEqual(skipped.skipped.map((file) => file.path), [bad])
        assert.strictEqual(skipped.mergedFiles, 2)
        assert.deepStrictEqual(ticks, [1, 2, 3])
        assert.strictEqual(finished, 1)
      })
    ))
})
