/**
 * shell/Merge: expanding files, folders and globs; folding stats files one at
 * a time into exactly the combined profile, whatever their order; --skip-bad;
 * folder searches that select stats files only (no node_modules or .git, a
 * project's package.json passed over, bad stats files still reported).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll } from "vitest"
import * as Profile from "../../../src/core/Profile.ts"
import * as StatsFile from "../../../src/core/StatsFile.ts"
import * as Merge from "../../../src/shell/files/Merge.ts"
import type { Progress } from "../../../src/shell/cli/Terminal.ts"

const fixtures = resolve(import.meta.dirname, "..", "..", "fixtures", "cli")
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

  it.effect("reports the `ignore`d files an expansion left out, unless they were named outright", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        for (const name of ["in.json", "out.json"]) writeFileSync(join(dir, name), "")
        const out = join(dir, "out.json")
        assert.deepStrictEqual((yield* Merge.findStats([dir], { ignore: [out] })).leftOut, [out])
        assert.deepStrictEqual((yield* Merge.findStats([`${dir}/*.json`], { ignore: [out] })).leftOut, [out])
        const named = yield* Merge.findStats([dir, out], { ignore: [out] })
        assert.deepStrictEqual(named.leftOut, [])
        assert.deepStrictEqual(named.paths, [join(dir, "in.json"), out])
      })
    ))

  it.effect("fails with one line for a missing path, an empty folder and a glob that matches nothing", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        const cases: ReadonlyArray<readonly [string, string]> = [
          [join(dir, "missing.json"), `${join(dir, "missing.json")}: no such file or folder`],
          [dir, `${dir}: no stats files (*.json, *.lprof, *.pb.gz) in this folder`],
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

  it.effect("refuses to merge a sampled profile with an exact one, in either order, with one line naming the file", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        const exactPath = join(fixtures, "a.json")
        const exact = Result.getOrThrow(StatsFile.decode(readFileSync(exactPath, "utf8"), "a.json"))
        const sampledPath = join(dir, "sampled.json")
        const sampledProfile = Profile.make(exact.functions, { mode: "sampled", intervalNs: 1e6, samples: 12n })
        writeFileSync(sampledPath, StatsFile.encode(sampledProfile))
        const why = "cannot merge sampled and exact profiles: their Times measure different things"
        const afterExact = yield* Effect.flip(Merge.mergeFiles([exactPath, sampledPath]))
        assert.match(afterExact.message, new RegExp(`^${sampledPath}: sampled timing: ${why} \\([^\n]*\\)$`))
        const afterSampled = yield* Effect.flip(Merge.mergeFiles([sampledPath, exactPath]))
        assert.match(afterSampled.message, new RegExp(`^${exactPath}: exact timing: ${why}`))
        const twice = yield* Merge.mergeFiles([sampledPath, sampledPath])
        assert.deepStrictEqual(twice.profile.timing, { mode: "sampled", intervalNs: 1e6, samples: 24n })
      })
    ))

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

// -- folder searches select stats files only -------------------------------------------------

const writeJson = (path: string, text: string) => {
  mkdirSync(join(path, ".."), { recursive: true })
  writeFileSync(path, text)
}

/** A project folder: package.json, tsconfig.json, a stats file in node_modules and one in .git, and `stats/a.json` (good). */
const projectFolder = (): string => {
  const dir = freshFolder()
  writeJson(join(dir, "package.json"), `{"name": "app", "version": "1.0.0"}\n`)
  writeJson(join(dir, "tsconfig.json"), `{"compilerOptions": {"strict": true}}\n`)
  writeJson(join(dir, "node_modules", "x", "stats.json"), readFixture("b.json"))
  writeJson(join(dir, ".git", "stats.json"), readFixture("b.json"))
  writeJson(join(dir, "stats", "a.json"), readFixture("a.json"))
  return dir
}

const readFixture = (name: string): string => readFileSync(join(fixtures, name), "utf8")

const decodeFixture = (name: string): Profile.Profile => {
  const decoded = StatsFile.decode(readFixture(name), name)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  return decoded.success
}

describe("folder searches", () => {
  it.effect("do not descend into node_modules or .git, at any depth, but walk such a folder named outright", () =>
    run(
      Effect.gen(function* () {
        const dir = projectFolder()
        writeJson(join(dir, "src", "node_modules", "y.json"), readFixture("a.json"))
        writeJson(join(dir, "src", "git", "z.json"), readFixture("a.json"))
        const found = yield* Merge.findStatsFiles([dir])
        assert.deepStrictEqual(
          found.map((path) => path.slice(dir.length + 1)),
          ["package.json", "src/git/z.json", "stats/a.json", "tsconfig.json"]
        )
        const inside = yield* Merge.findStatsFiles([join(dir, "node_modules")])
        assert.deepStrictEqual(inside, [join(dir, "node_modules", "x", "stats.json")])
      })
    ))

  it.effect("mark files found by walking, not files named outright or matched by a glob", () =>
    run(
      Effect.gen(function* () {
        const dir = projectFolder()
        const found = yield* Merge.findStats([dir, join(dir, "package.json"), `${dir}/*.json`])
        assert.deepStrictEqual([...found.walked], [join(dir, "stats", "a.json")])
        assert.deepStrictEqual(found.walkedInputs.map((walk) => walk.input), [dir])
        assert.deepStrictEqual(
          found.paths,
          ["package.json", "stats/a.json", "tsconfig.json"].map((name) => join(dir, name))
        )
      })
    ))

  it.effect("a project folder merges its stats files only and passes over package.json and tsconfig.json", () =>
    run(
      Effect.gen(function* () {
        const dir = projectFolder()
        const result = yield* Merge.mergeInputs([dir])
        assert.deepStrictEqual(result.profile, decodeFixture("a.json"))
        assert.strictEqual(result.mergedFiles, 1)
        assert.deepStrictEqual(result.passedOver, [join(dir, "package.json"), join(dir, "tsconfig.json")])
        assert.deepStrictEqual(result.skipped, [])
      })
    ))

  it.effect("passes over JSON that is no lineprof document; still stops at a bad one, lineprof header or not", () =>
    run(
      Effect.gen(function* () {
        const foreign = [`[1, 2]`, `"text"`, `{"format": "chrome-cpuprofile", "nodes": []}`, `{"version": 1}`]
        const bad: ReadonlyArray<readonly [string, string]> = [
          [readFixture("truncated.json"), "truncated JSON: the text ends in the middle of a value"],
          [readFixture("wrong-version.json"), "lineprof stats version 99 was written by a newer lineprof"],
          [readFixture("garbage.json"), "binary data, not a lineprof stats file (expected JSON text)"],
          [readFixture("negative.json"), "(hits): expected a non-negative integer, got -1"],
          [`{"format": "lineprof", "functions": []}`, `no "version" field in the lineprof header`],
          [`{"format": "lineprof", "version": 1}`, "functions: missing"],
          ["Timer unit: 1e-06 s\n", "not JSON: "],
          ["", "empty file, expected lineprof stats (JSON)"]
        ]
        for (const text of foreign) {
          const dir = freshFolder()
          writeJson(join(dir, "good.json"), readFixture("a.json"))
          writeJson(join(dir, "other.json"), text)
          const result = yield* Merge.mergeInputs([dir])
          assert.deepStrictEqual(result.passedOver, [join(dir, "other.json")], text)
          assert.deepStrictEqual(result.profile, decodeFixture("a.json"))
        }
        for (const [text, problem] of bad) {
          const dir = freshFolder()
          writeJson(join(dir, "good.json"), readFixture("a.json"))
          writeJson(join(dir, "package.json"), `{"name": "app"}`)
          writeJson(join(dir, "stats.json"), text)
          const failed = yield* Effect.flip(Merge.mergeInputs([dir]))
          assert.strictEqual(failed._tag, "StatsFileError")
          assert.isTrue(failed.message.startsWith(`${join(dir, "stats.json")}: `), failed.message)
          assert.include(failed.message, problem)
          const skipped = yield* Merge.mergeInputs([dir], { skipBad: true })
          assert.deepStrictEqual(skipped.skipped.map((file) => file.path), [join(dir, "stats.json")])
          assert.deepStrictEqual(skipped.passedOver, [join(dir, "package.json")])
          assert.deepStrictEqual(skipped.profile, decodeFixture("a.json"))
        }
      })
    ))

  it.effect("a file named outright or matched by a glob is read and reported, whatever it holds", () =>
    run(
      Effect.gen(function* () {
        const dir = projectFolder()
        const packageJson = join(dir, "package.json")
        const message = `${packageJson}: not a lineprof stats file: no "format" field (expected "format": "lineprof")`
        for (const inputs of [[dir, packageJson], [join(dir, "stats"), `${dir}/package.*`]]) {
          const failed = yield* Effect.flip(Merge.mergeInputs(inputs))
          assert.strictEqual(failed.message, message)
          const skipped = yield* Merge.mergeInputs(inputs, { skipBad: true })
          assert.deepStrictEqual(skipped.skipped, [{ path: packageJson, message }])
        }
      })
    ))

  it.effect("a folder (or a glob's folders) holding only foreign JSON fails as a folder without stats files", () =>
    run(
      Effect.gen(function* () {
        const dir = freshFolder()
        const project = join(dir, "project")
        writeJson(join(project, "package.json"), `{"name": "app"}`)
        writeJson(join(project, "node_modules", "x", "stats.json"), readFixture("a.json"))
        writeJson(join(dir, "good.json"), readFixture("a.json"))
        for (const skipBad of [false, true]) {
          const folder = yield* Effect.flip(Merge.mergeInputs([join(dir, "good.json"), project], { skipBad }))
          assert.deepStrictEqual(
            folder,
            new Merge.MergeInputError({ input: project, message: `${project}: no stats files (*.json, *.lprof, *.pb.gz) in this folder` })
          )
        }
        const pattern = `${dir}/proj*`
        const glob = yield* Effect.flip(Merge.mergeInputs([join(dir, "good.json"), pattern]))
        assert.deepStrictEqual(
          glob,
          new Merge.MergeInputError({
            input: pattern,
            message: `${pattern}: no stats files (*.json, *.lprof, *.pb.gz) in the folders this pattern matches`
          })
        )
        // The same folder within a larger one that has stats files is fine.
        const result = yield* Merge.mergeInputs([dir])
        assert.deepStrictEqual(result.passedOver, [join(project, "package.json")])
        assert.strictEqual(result.mergedFiles, 1)
      })
    ))
})
