import { assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Profile from "../../../src/core/Profile.ts"
import { hitsOf, runFixture } from "../../fixtures/engine/run.ts"

const N = 1000

/** The stats of a run are well formed and cover the functions named, each from one file. */
const checkProfile = (profile: Profile.Profile) => assert.deepStrictEqual(Profile.check(profile), [])

describe("Hooks (node --import register)", () => {
  it("ES modules: the seed's lines are hit exactly N times; stdout and exit code unchanged", async () => {
    const plain = await runFixture("esm/app.mjs", [String(N)], { profile: false })
    const run = await runFixture("esm/app.mjs", [String(N)])
    assert.strictEqual(run.code, 3)
    assert.strictEqual(run.code, plain.code)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.strictEqual(run.stderr, "")
    assert.strictEqual(run.statsFiles.length, 1)
    checkProfile(run.merged)
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 5: N, 6: N, 7: N })
    assert.deepStrictEqual(hitsOf(run.merged, "power3"), { 2: N })
    const power3 = run.merged.functions.find((fn) => fn.name === "power3")!
    assert.match(power3.file, /esm\/power3\.mjs$/)
    assert.deepStrictEqual(power3.source, ["export function power3(num) {", "  return num * num * num", "}"])
  })

  it("Function.prototype.toString gives instrumented functions their original text: serialised functions run without probes", async () => {
    const plain = await runFixture("tostring/app.mjs", [], { profile: false })
    const run = await runFixture("tostring/app.mjs", [])
    assert.strictEqual(run.stderr, "")
    assert.strictEqual(run.code, 0)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.include(run.stdout, "eval worker 2")
    // The file was instrumented: the arrow given to map ran twice, under probes.
    const mapped = run.merged.functions.find((fn) => fn.name === "<anonymous>" && fn.firstLine === 31)
    assert.deepStrictEqual(mapped?.lines.map((line) => [line.lineNo, Number(line.hits)]), [[31, 2]])
  })

  it("frozen intrinsics (toString cannot be replaced): the program still runs profiled", async () => {
    const env = { NODE_OPTIONS: "--frozen-intrinsics --no-warnings" }
    const plain = await runFixture("esm/app.mjs", [String(N)], { profile: false, env })
    const run = await runFixture("esm/app.mjs", [String(N)], { env })
    assert.strictEqual(run.stderr, "")
    assert.strictEqual(run.code, plain.code)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.deepStrictEqual(hitsOf(run.merged, "power3"), { 2: N })
  })

  it("--enable-source-maps: stack traces of a minified bundle map to the same source lines and names as unprofiled", async () => {
    const env = { NODE_OPTIONS: "--enable-source-maps" }
    const plain = await runFixture("sourcemap/out.mjs", [], { profile: false, env })
    const run = await runFixture("sourcemap/out.mjs", [], { env })
    assert.strictEqual(run.stderr, "")
    assert.match(plain.stdout, /at helper \(.*src\.ts:3:24\)/)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.isAbove(run.merged.functions.length, 0)
  })

  it("a file with a source map is reported in its original source; LINEPROF_SOURCE_MAPS=0 reports the generated file", async () => {
    const mapped = await runFixture("sourcemap/out.mjs", [])
    assert.deepStrictEqual([...new Set(mapped.merged.functions.map((fn) => path.basename(fn.file)))], ["src.ts"])
    const generated = await runFixture("sourcemap/out.mjs", [], { env: { LINEPROF_SOURCE_MAPS: "0" } })
    // (stdout holds stack traces, whose columns depend on where probes went: without --enable-source-maps they are the generated file's)
    assert.strictEqual(generated.code, mapped.code)
    assert.deepStrictEqual([...new Set(generated.merged.functions.map((fn) => path.basename(fn.file)))], ["out.mjs"])
  })

  it("CommonJS: require()d modules are instrumented too", async () => {
    const plain = await runFixture("cjs/app.cjs", [String(N)], { profile: false })
    const run = await runFixture("cjs/app.cjs", [String(N)])
    assert.strictEqual(run.stdout, plain.stdout)
    assert.strictEqual(run.code, 0)
    checkProfile(run.merged)
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 5: N, 6: N, 7: N })
    assert.deepStrictEqual(hitsOf(run.merged, "power3"), { 2: N })
  })

  it("TypeScript with types and interfaces: the report's lines are the .ts lines", async () => {
    const plain = await runFixture("ts/app.ts", [String(N)], { profile: false })
    const run = await runFixture("ts/app.ts", [String(N)])
    assert.strictEqual(run.stdout, plain.stdout)
    checkProfile(run.merged)
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 14: N, 15: N, 16: N })
    assert.deepStrictEqual(hitsOf(run.merged, "power3"), { 10: N })
    const child = run.merged.functions.find((fn) => fn.name === "child")!
    assert.strictEqual(child.source?.[1], "  let num: number = Math.sqrt(input.value)")
  })

  it("CommonJS TypeScript (.cts) through require()", async () => {
    const plain = await runFixture("cts/app.cts", [String(N)], { profile: false })
    const run = await runFixture("cts/app.cts", [String(N)])
    assert.strictEqual(run.stdout, plain.stdout)
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 9: N, 10: N })
    assert.deepStrictEqual(hitsOf(run.merged, "power3"), { 4: N })
  })

  it("a file that does not parse is loaded unchanged, with one warning line", async () => {
    const plain = await runFixture("broken/app.mjs", [], { profile: false })
    const run = await runFixture("broken/app.mjs", [])
    assert.strictEqual(plain.stdout, "SyntaxError\n")
    assert.strictEqual(run.stdout, plain.stdout)
    const warnings = run.stderr.split("\n").filter((line) => line !== "")
    assert.strictEqual(warnings.length, 1)
    assert.match(warnings[0]!, /^lineprof: .*broken\.mjs:4:2: cannot parse/)
  })

  it("files outside the include globs, and excluded ones, are not instrumented", async () => {
    const onlyApp = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_INCLUDE: "app.mjs" } })
    assert.deepStrictEqual(onlyApp.merged.functions.map((fn) => fn.name), ["child"])
    const excluded = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_EXCLUDE: "**/app.mjs" } })
    assert.deepStrictEqual(excluded.merged.functions.map((fn) => fn.name), ["power3"])
  })

  it("lineprof's own files are never instrumented, even when the globs select them", async () => {
    const repo = fileURLToPath(new URL("../../../", import.meta.url))
    const run = await runFixture("own/app.mjs", [], { env: { LINEPROF_INCLUDE: repo } })
    assert.strictEqual(run.stdout, "1\n")
    assert.deepStrictEqual(run.merged.functions.map((fn) => `${path.basename(fn.file)} ${fn.name}`), ["app.mjs count"])
  })

  it("a bad setting: one line naming the variable, and the program runs unprofiled", async () => {
    const run = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_INTERVAL_MS: "soon" } })
    assert.strictEqual(run.stderr, 'lineprof: LINEPROF_INTERVAL_MS="soon": expected a positive number of milliseconds; profiling is off\n')
    assert.strictEqual(run.code, 3)
    assert.strictEqual(run.statsFiles.length, 0)
  })
})
