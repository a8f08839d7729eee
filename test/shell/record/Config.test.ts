import { assert, describe, it } from "@effect/vitest"
import * as Glob from "effect/Glob"
import * as Result from "effect/Result"
import * as Config from "../../../src/shell/record/Config.ts"

const fromEnv = (env: Record<string, string>, cwd = "/w/p"): Config.Config => Result.getOrThrow(Config.fromEnv(env, cwd))

const problem = (env: Record<string, string>): string => {
  const result = Config.fromEnv(env, "/w")
  if (Result.isSuccess(result)) throw new Error("expected a ConfigError")
  return result.failure.message
}

describe("Config.fromEnv", () => {
  it("defaults: files under the current directory, outside node_modules, into .lineprof, every second, compensated", () => {
    const config = fromEnv({})
    assert.deepStrictEqual(config, {
      cwd: "/w/p",
      include: [],
      exclude: ["**/node_modules/**"],
      functions: [],
      sourceMaps: true,
      dir: "/w/p/.lineprof",
      intervalMs: 1000,
      compensate: true,
      timing: "exact",
      sampleIntervalNs: 1_000_000
    })
    const matches = Config.makeMatcher(config)
    assert.isTrue(matches("/w/p/app.js"))
    assert.isTrue(matches("/w/p/src/deep/x.ts"))
    assert.isFalse(matches("/w/pq/app.js"))
    assert.isFalse(matches("/w/p/node_modules/effect/dist/index.js"))
    assert.isFalse(matches("/other/app.js"))
  })

  it("include and exclude globs: anchored at the current directory unless they start with **/ or are absolute", () => {
    const matches = Config.makeMatcher(
      fromEnv({ LINEPROF_INCLUDE: "src/**/*.{ts,js}, **/lib/*.mjs,/abs/one.cjs", LINEPROF_EXCLUDE: "**/*.test.ts" })
    )
    assert.isTrue(matches("/w/p/src/a.ts"))
    assert.isTrue(matches("/w/p/src/x/y.js"))
    assert.isFalse(matches("/w/p/src/x/y.cjs"))
    assert.isFalse(matches("/w/p/src/x/y.test.ts"))
    assert.isTrue(matches("/anywhere/lib/a.mjs"))
    assert.isFalse(matches("/anywhere/lib/sub/a.mjs"))
    assert.isTrue(matches("/abs/one.cjs"))
    assert.isTrue(matches("/w/p/src/.hidden/a.ts"))
    assert.isFalse(matches("/w/p/src/a.tsx"))
    // An explicit exclude replaces the default one.
    assert.isTrue(matches("/w/p/src/node_modules/q/a.ts"))
  })

  it("an explicit include beats the default exclude; an explicit exclude still wins; an empty one excludes nothing", () => {
    const marked = Config.makeMatcher(fromEnv({ LINEPROF_INCLUDE: "node_modules/marked/**" }))
    assert.isTrue(marked("/w/p/node_modules/marked/lib/marked.esm.js"))
    assert.isFalse(marked("/w/p/node_modules/other/index.js"))
    assert.isFalse(marked("/w/p/app.js"))
    const carved = Config.makeMatcher(fromEnv({ LINEPROF_INCLUDE: "node_modules/marked/**", LINEPROF_EXCLUDE: "**/*.umd.js" }))
    assert.isTrue(carved("/w/p/node_modules/marked/lib/marked.esm.js"))
    assert.isFalse(carved("/w/p/node_modules/marked/lib/marked.umd.js"))
    const nothingExcluded = Config.makeMatcher(fromEnv({ LINEPROF_EXCLUDE: "" }))
    assert.isTrue(nothingExcluded("/w/p/node_modules/effect/dist/index.js"))
    assert.isFalse(nothingExcluded("/other/app.js"))
    assert.deepStrictEqual(Result.getOrThrow(Config.make({ cwd: "/w", include: ["a/**"] })).exclude, [])
    assert.deepStrictEqual(Result.getOrThrow(Config.make({ cwd: "/w" })).exclude, ["**/node_modules/**"])
    // Through toEnv, a child keeps "nothing excluded" rather than falling back to the default.
    const child = Config.makeMatcher(fromEnv(Config.toEnv(fromEnv({ LINEPROF_INCLUDE: "node_modules/marked/**" })), "/elsewhere"))
    assert.isTrue(child("/w/p/node_modules/marked/lib/marked.esm.js"))
  })

  it("LINEPROF_FUNCTIONS selects qualified names by glob; LINEPROF_SOURCE_MAPS switches maps off", () => {
    const config = fromEnv({ LINEPROF_FUNCTIONS: "Parser.parseStatement,*Token*", LINEPROF_SOURCE_MAPS: "0" })
    assert.deepStrictEqual(config.functions, ["Parser.parseStatement", "*Token*"])
    assert.isFalse(config.sourceMaps)
    const selected = Config.makeFunctionMatcher(config)!
    assert.isTrue(selected("Parser.parseStatement"))
    assert.isFalse(selected("Parser.parse"))
    assert.isTrue(selected("Tokenizer.space"))
    assert.isTrue(selected("lexToken"))
    assert.isUndefined(Config.makeFunctionMatcher(fromEnv({})))
    const child = fromEnv(Config.toEnv(config), "/elsewhere")
    assert.deepStrictEqual([child.functions, child.sourceMaps], [["Parser.parseStatement", "*Token*"], false])
    assert.strictEqual(problem({ LINEPROF_SOURCE_MAPS: "maybe" }), 'LINEPROF_SOURCE_MAPS="maybe": expected on/off, true/false, yes/no or 1/0')
    assert.strictEqual(problem({ LINEPROF_FUNCTIONS: "a{b" }), 'LINEPROF_FUNCTIONS="a{b": glob "a{b": unclosed {')
  })

  it("a path and `**/name/**` (matched without the glob engine) select what effect/Glob selects", () => {
    const paths = ["/w/p", "/w/p/a.js", "/w/pq/a.js", "/w/p/node_modules", "/w/p/node_modules/x/y.js", "/node_modules/a.js", "/w/p/my_node_modules/a.js", "/w/p[1]/a.js", "/w/p/.git/x"]
    for (const [glob, engine] of [
      ["/w/p", ["w/p", "w/p/**"]],
      ["/w/p\\[1\\]", ["w/p\\[1\\]", "w/p\\[1\\]/**"]],
      ["**/node_modules/**", ["**/node_modules/**", "**/node_modules/**/**"]],
      ["**/.git/**", ["**/.git/**", "**/.git/**/**"]]
    ] as const) {
      const matches = Config.makeMatcher(fromEnv({ LINEPROF_INCLUDE: glob, LINEPROF_EXCLUDE: "" }))
      const globs = engine.map((pattern) => Glob.make(pattern, { dot: true }))
      for (const file of paths) {
        assert.strictEqual(matches(file), globs.some((compiled) => Glob.match(compiled, file.slice(1))), `${glob} ${file}`)
      }
    }
  })

  it("a folder pattern selects every file below it", () => {
    for (const folder of ["lib", "lib/", "/w/p/lib/"]) {
      const matches = Config.makeMatcher(fromEnv({ LINEPROF_INCLUDE: folder }))
      assert.isTrue(matches("/w/p/lib/a/b.js"))
      assert.isFalse(matches("/w/p/library.js"))
    }
  })

  it("LINEPROF_DIR, LINEPROF_INTERVAL_MS and LINEPROF_COMPENSATE", () => {
    const config = fromEnv({ LINEPROF_DIR: "out/stats", LINEPROF_INTERVAL_MS: "250", LINEPROF_COMPENSATE: "off" })
    assert.strictEqual(config.dir, "/w/p/out/stats")
    assert.strictEqual(config.intervalMs, 250)
    assert.isFalse(config.compensate)
    assert.strictEqual(fromEnv({ LINEPROF_DIR: "/tmp/x" }).dir, "/tmp/x")
  })

  it("bad values: one line naming the variable", () => {
    assert.strictEqual(problem({ LINEPROF_INTERVAL_MS: "soon" }), 'LINEPROF_INTERVAL_MS="soon": expected a positive number of milliseconds')
    assert.strictEqual(problem({ LINEPROF_INTERVAL_MS: "0" }), 'LINEPROF_INTERVAL_MS="0": expected a positive number of milliseconds')
    assert.strictEqual(problem({ LINEPROF_COMPENSATE: "maybe" }), 'LINEPROF_COMPENSATE="maybe": expected on/off, true/false, yes/no or 1/0')
    assert.strictEqual(problem({ LINEPROF_INCLUDE: "src/{a" }), 'LINEPROF_INCLUDE="src/{a": glob "src/{a": unclosed {')
    assert.strictEqual(problem({ LINEPROF_EXCLUDE: "x,[ab" }), 'LINEPROF_EXCLUDE="x,[ab": glob "[ab": unclosed [')
  })

  it("LINEPROF_TIMING and LINEPROF_SAMPLE_INTERVAL_US: sampled timing and its interval, passed on by toEnv", () => {
    const config = fromEnv({ LINEPROF_TIMING: "Sampled", LINEPROF_SAMPLE_INTERVAL_US: "250" })
    assert.deepStrictEqual([config.timing, config.sampleIntervalNs], ["sampled", 250_000])
    const child = fromEnv(Config.toEnv(config), "/elsewhere")
    assert.deepStrictEqual([child.timing, child.sampleIntervalNs], ["sampled", 250_000])
    assert.strictEqual(problem({ LINEPROF_TIMING: "fast" }), 'LINEPROF_TIMING="fast": expected exact or sampled')
    assert.strictEqual(problem({ LINEPROF_SAMPLE_INTERVAL_US: "0" }), 'LINEPROF_SAMPLE_INTERVAL_US="0": expected a positive number of microseconds')
  })

  it("toEnv pins the settings for children that run in another directory", () => {
    const parent = fromEnv({ LINEPROF_INCLUDE: "src/**" }, "/w/p[1]")
    const child = fromEnv(Config.toEnv(parent), "/elsewhere")
    const matches = Config.makeMatcher(child)
    assert.isTrue(matches("/w/p[1]/src/a.js"))
    assert.isFalse(matches("/elsewhere/src/a.js"))
    assert.strictEqual(child.dir, "/w/p[1]/.lineprof")
    const byDefault = Config.makeMatcher(fromEnv(Config.toEnv(fromEnv({}, "/w/p[1]")), "/elsewhere"))
    assert.isTrue(byDefault("/w/p[1]/a.js"))
    assert.isFalse(byDefault("/w/p1/a.js"))
    assert.isFalse(byDefault("/w/p[1]/node_modules/a.js"))
  })
})
