/**
 * Source maps end to end, through the real bin: the three TypeScript files of
 * test/fixtures/sourcemaps compiled by tsc (`sourceMap`, `inlineSourceMap`),
 * bundled by esbuild, and bundled and minified by esbuild, each run with 100
 * rounds and reported in the original .ts files with exact hits; and a real
 * published package that ships minified code and a map (marked).
 *
 * The builds are made here, in a scratch folder that is removed afterwards.
 * What 100 rounds run (main.ts → Circle.area and sumTo → square):
 * main: its lines once, the loop header 101 times, the body 100; square 200
 * calls (100 from area, 100 from sumTo); the constructor and area 100 calls.
 */
import { execFileSync } from "node:child_process"
import { cpSync, mkdirSync, readdirSync } from "node:fs"
import { join, relative } from "node:path"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import * as Locate from "../../src/shell/pool/Locate.ts"
import * as Pool from "../../src/shell/pool/Pool.ts"
import * as ProfileCall from "../../src/shell/pool/ProfileCall.ts"
import { hitsOf100Rounds } from "../fixtures/sourcemaps/expected.ts"
import { makeScratch, readText, repoRoot, runBin } from "./bin.ts"

const bin = (name: string): string => join(repoRoot, "node_modules", ".bin", name)

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
  cpSync(join(repoRoot, "test", "fixtures", "sourcemaps"), scratch.dir, { recursive: true })
  const build = (command: string, args: ReadonlyArray<string>) => execFileSync(bin(command), args, { cwd: scratch.dir, stdio: "pipe" })
  build("tsc", ["-p", ".", "--outDir", "out"])
  build("tsc", ["-p", ".", "--outDir", "inline", "--sourceMap", "false", "--inlineSourceMap"])
  build("esbuild", ["src/main.ts", "--bundle", "--sourcemap", "--format=esm", "--platform=node", "--outfile=bundle/main.js", "--log-level=warning"])
  build("esbuild", ["src/main.ts", "--bundle", "--minify", "--sourcemap", "--format=esm", "--platform=node", "--outfile=min/main.js", "--log-level=warning"])
}, 60_000)
afterAll(() => scratch.remove())

const decode = (path: string): Profile.Profile => {
  const decoded = StatsFile.decode(readText(path), path)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  return decoded.success
}

/** `{ "file function": { line: hits } }` of a profile, files relative to the scratch folder. */
const hitsByFunction = (profile: Profile.Profile): Record<string, Record<number, number>> =>
  Object.fromEntries(
    profile.functions.map((fn) => [
      `${relative(scratch.dir, fn.file)} ${fn.name}`,
      Object.fromEntries(fn.lines.map((line) => [line.lineNo, Number(line.hits)]))
    ])
  )

const profileOf = (name: string, args: ReadonlyArray<string>) => {
  const output = join(scratch.dir, `${name}.json`)
  const run = runBin(["run", "-o", output, ...args], { cwd: scratch.dir })
  expect(run.stdout).toBe("328350 985050\n")
  expect(run.code).toBe(0)
  return { run, profile: decode(output) }
}

/** What 100 rounds run, on the original lines. */
const expected = hitsOf100Rounds

describe("source maps", () => {
  it("tsc with sourceMap: the report is in the .ts files, with their lines, text and names", () => {
    const { run, profile } = profileOf("tsc", ["--", "out/main.js", "100"])
    expect(hitsByFunction(profile)).toEqual(expected)
    expect(Profile.check(profile)).toEqual([])
    expect(run.stderr).toContain("File: src/math.ts\nFunction: sumTo at line 6")
    expect(run.stderr).toContain("    9       100")
    const area = profile.functions.find((fn) => fn.name === "Circle.area")!
    expect(area.source).toEqual(["  area(): number {", "    const r2 = square(this.radius)", "    return Math.round(r2 * 3)", "  }"])
    expect(run.stderr).not.toContain("out/")
  })

  it("tsc with inlineSourceMap (a data: URL)", () => {
    expect(hitsByFunction(profileOf("inline", ["--", "inline/main.js", "100"]).profile)).toEqual(expected)
  })

  it("an esbuild bundle of three TS files: each original file's functions under it", () => {
    expect(hitsByFunction(profileOf("bundle", ["--", "bundle/main.js", "100"]).profile)).toEqual(expected)
  })

  it("a minified bundle (one line of code): one probe per original line, exact hits", () => {
    const { profile } = profileOf("min", ["--", "min/main.js", "100"])
    expect(readText(join(scratch.dir, "min", "main.js")).split("\n").length).toBe(3)
    // The minifier folds square's `const product = …; return product` into one
    // `return o*o`, mapped to line 3: line 2 no longer exists as a statement.
    expect(hitsByFunction(profile)).toEqual({ ...expected, "src/math.ts square": { 3: 200 } })
  })

  it("--no-source-maps and LINEPROF_SOURCE_MAPS=0 report the generated code", () => {
    const { profile } = profileOf("generated", ["--no-source-maps", "--", "out/main.js", "100"])
    expect(Object.keys(hitsByFunction(profile)).sort()).toEqual(
      ["out/main.js main", "out/math.js square", "out/math.js sumTo", "out/shapes.js Circle.area", "out/shapes.js Circle.constructor"]
    )
    const viaEnv = runBin(["run", "--no-report", "-o", "env.json", "--", "min/main.js", "100"], {
      cwd: scratch.dir,
      env: { LINEPROF_SOURCE_MAPS: "0" }
    })
    expect(viaEnv.code).toBe(0)
    // Under run the flag decides (it defaults to on): the environment reaches only bare `--import` users.
    expect(Object.keys(hitsByFunction(decode(join(scratch.dir, "env.json"))))).toContain("src/math.ts square")
  })

  it("profileAll: original sources by default, the generated code with sourceMaps: false", async () => {
    const sumTo = { moduleUrl: pathToFileURL(join(scratch.dir, "out", "math.js")).href, exportName: "sumTo" }
    const mapped = await Effect.runPromise(Pool.profileAll(sumTo, [100, 100], { concurrency: 1 }))
    expect(mapped.results).toEqual([328350, 328350])
    expect(hitsByFunction(mapped.profile)).toEqual({
      "src/math.ts square": { 2: 200, 3: 200 },
      "src/math.ts sumTo": { 7: 2, 8: 202, 9: 200, 11: 2 }
    })
    const generated = await Effect.runPromise(Pool.profileAll(sumTo, [100], { concurrency: 1, sourceMaps: false }))
    expect(hitsByFunction(generated.profile)).toEqual({
      "out/math.js square": { 2: 100, 3: 100 },
      "out/math.js sumTo": { 6: 1, 7: 101, 8: 100, 10: 1 }
    })
  })

  it("profileCall: original sources by default; profileCallWith sourceMaps: false gives the generated code", async () => {
    const math = await Locate.nativeImport(pathToFileURL(join(scratch.dir, "out", "math.js")).href)
    const mapped = await Effect.runPromise(ProfileCall.profileCall(math["sumTo"] as (limit: number) => number, 100))
    expect(mapped.result).toBe(328350)
    expect(hitsByFunction(mapped.profile)).toEqual({ "src/math.ts square": { 2: 100, 3: 100 }, "src/math.ts sumTo": expected["src/math.ts sumTo"] })
    const generated = await Effect.runPromise(ProfileCall.profileCallWith({ sourceMaps: false }, math["sumTo"] as (limit: number) => number, 100))
    expect(hitsByFunction(generated.profile)).toEqual({
      "out/math.js square": { 2: 100, 3: 100 },
      "out/math.js sumTo": { 6: 1, 7: 101, 8: 100, 10: 1 }
    })
  })

  it("--function profiles only the functions named (qualified-name globs); the rest runs unprofiled", () => {
    const { profile } = profileOf("only", ["--function", "Circle.*", "--function", "squ*", "--", "bundle/main.js", "100"])
    expect(hitsByFunction(profile)).toEqual({
      "src/math.ts square": expected["src/math.ts square"],
      "src/shapes.ts Circle.constructor": expected["src/shapes.ts Circle.constructor"],
      "src/shapes.ts Circle.area": expected["src/shapes.ts Circle.area"]
    })
    const plain = profileOf("only-plain", ["--function", "sumTo", "--", "out/main.js", "100"]).profile
    expect(hitsByFunction(plain)).toEqual({ "src/math.ts sumTo": expected["src/math.ts sumTo"] })
  })
})

describe("a published package with minified code and a map (marked)", () => {
  const markdown = "# Title\\n\\nSome *emphasis* and **strong** text.\\n\\n- one\\n- two\\n"
  beforeAll(() => {
    mkdirSync(join(scratch.dir, "pkg", "node_modules"), { recursive: true })
    cpSync(join(repoRoot, "node_modules", "marked"), join(scratch.dir, "pkg", "node_modules", "marked"), { recursive: true })
    cpSync(join(scratch.dir, "render.mjs"), join(scratch.dir, "pkg", "render.mjs"))
  })

  it("--include 'node_modules/marked/**' profiles marked, reported in its TypeScript sources with exact hits", () => {
    const cwd = join(scratch.dir, "pkg")
    const run = runBin(["run", "--include", "node_modules/marked/**", "-o", "marked.json", "--", "render.mjs", "50", markdown], { cwd })
    expect(run.code).toBe(0)
    const profile = decode(join(cwd, "marked.json"))
    expect(Profile.check(profile)).toEqual([])
    const files = [...new Set(profile.functions.map((fn) => relative(cwd, fn.file)))].sort()
    expect(files).toContain("node_modules/marked/src/Lexer.ts")
    expect(files.every((file) => /^node_modules\/marked\/src\/\w+\.ts$/.test(file))).toBe(true)
    // 50 calls of marked.parse: the static Lexer.lex and the instance's lex run 50 times each.
    const hitsOn = (name: string, text: string): Array<number> =>
      profile.functions.filter((fn) => fn.name === name).flatMap((fn) =>
        fn.lines.filter((line) => fn.source?.[line.lineNo - fn.firstLine]?.trim() === text).map((line) => Number(line.hits))
      )
    expect(hitsOn("_Lexer.lex", "return lexer.lex(src);")).toEqual([50])
    expect(hitsOn("_Lexer.lex", "src = src.replace(other.carriageReturn, '\\n');")).toEqual([50])
    // Joined into one statement by the minifier, split again by the map: its own hits.
    expect(hitsOn("_Lexer.lex", "this.blockTokens(src, this.tokens);")).toEqual([50])
    // The text is the original TypeScript, and the report is a report of lines, not of 8000-character chunks.
    expect(run.stderr).toContain("File: node_modules/marked/src/Lexer.ts")
    const longest = Math.max(...run.stderr.split("\n").map((line) => line.length))
    expect(longest).toBeLessThan(1000)
    expect(run.stderr.length).toBeLessThan(400_000)
  })

  it("--exclude '' excludes nothing (node_modules under the current folder is profiled); an explicit --exclude wins over --include", () => {
    const cwd = join(scratch.dir, "pkg")
    const all = runBin(["run", "--exclude", "", "--no-report", "-o", "all.json", "--", "render.mjs", "2", markdown], { cwd })
    expect(all.code).toBe(0)
    expect(decode(join(cwd, "all.json")).functions.some((fn) => fn.file.endsWith("marked/src/Lexer.ts"))).toBe(true)
    const carved = runBin(["run", "--include", "node_modules/marked/**", "--exclude", "**/marked.esm.js", "-o", "carved.json", "--", "render.mjs", "2", markdown], { cwd })
    expect(carved.code).toBe(0)
    expect(carved.stderr).toContain("no stats were recorded")
  })

  it("without --include, node_modules stays out (the default exclude)", () => {
    const cwd = join(scratch.dir, "pkg")
    const run = runBin(["run", "-o", "none.json", "--", "render.mjs", "1", markdown], { cwd })
    expect(run.code).toBe(0)
    expect(readdirSync(cwd)).not.toContain("none.json")
    expect(run.stderr).toContain("no stats were recorded")
  })
})
