/**
 * shell/Cli in-process: the argument helpers, and `main` run from an argv
 * array with captured streams (exit codes, one-line errors, where output goes).
 * The end-to-end tests in test/e2e spawn the real bin.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll } from "vitest"
import * as Lprof from "../../../src/core/python/Lprof.ts"
import * as Profile from "../../../src/core/Profile.ts"
import * as StatsFile from "../../../src/core/StatsFile.ts"
import * as Cli from "../../../src/shell/cli/Cli.ts"

const fixtures = resolve(import.meta.dirname, "..", "..", "fixtures", "cli")
const scratch = mkdtempSync(join(tmpdir(), "lineprof-cli-test-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
// A stand-in for an old Node: `node --version` answers v20.1.0.
mkdirSync(join(scratch, "old-node"))
mkdirSync(join(scratch, "taken.html"))
writeFileSync(join(scratch, "old-node", "node"), "#!/bin/sh\necho v20.1.0\n", { mode: 0o755 })

describe("argument helpers", () => {
  it("splitRunArgs puts -- before the program when it is missing, skipping lineprof's flags and their values", () => {
    assert.deepStrictEqual(Cli.splitRunArgs(["run", "app.js", "--port", "1"]), ["run", "--", "app.js", "--port", "1"])
    assert.deepStrictEqual(Cli.splitRunArgs(["run", "-o", "x.json", "--sort", "app.js", "-v"]), [
      "run",
      "-o",
      "x.json",
      "--sort",
      "--",
      "app.js",
      "-v"
    ])
    assert.deepStrictEqual(Cli.splitRunArgs(["run", "--unit", "ms", "--", "app.js"]), ["run", "--unit", "ms", "--", "app.js"])
    assert.deepStrictEqual(Cli.splitRunArgs(["show", "run"]), ["show", "run"])
    assert.deepStrictEqual(Cli.splitRunArgs(["run", "--sort"]), ["run", "--sort"])
  })

  it("parseInterval reads ms, s, bare milliseconds and Duration's own units, and refuses the rest with one line", () => {
    const ms = (text: string) => Result.map(Cli.parseInterval(text), Duration.toMillis)
    assert.deepStrictEqual(ms("250ms"), Result.succeed(250))
    assert.deepStrictEqual(ms("1.5s"), Result.succeed(1500))
    assert.deepStrictEqual(ms("40"), Result.succeed(40))
    assert.deepStrictEqual(ms(" 2 s "), Result.succeed(2000))
    assert.deepStrictEqual(ms("300 millis"), Result.succeed(300))
    assert.deepStrictEqual(Cli.parseInterval("0s"), Result.fail('--interval: must be more than 0, got "0s"'))
    assert.deepStrictEqual(Cli.parseInterval("soon"), Result.fail('--interval: expected a duration such as 250ms or 1s, got "soon"'))
    assert.strictEqual(Result.isFailure(Cli.parseInterval("-1s")), true)
    assert.strictEqual(Result.isFailure(Cli.parseInterval("Infinity")), true)
  })

  it("isScript tells scripts from commands", () => {
    for (const script of ["app.js", "a.mjs", "b.cjs", "src/main.ts", "x.mts", "y.cts"]) assert.strictEqual(Cli.isScript(script), true)
    for (const command of ["npm", "node", "npx", "vitest", "script.sh", "app.json"]) assert.strictEqual(Cli.isScript(command), false)
  })

  it("scriptOf finds the script a program or command runs, skipping Node's flags and their values", () => {
    assert.strictEqual(Cli.scriptOf("app.ts", ["x.js"]), "app.ts")
    assert.strictEqual(Cli.scriptOf("node", ["app.js", "in.json"]), "app.js")
    assert.strictEqual(Cli.scriptOf("/usr/bin/node", ["--inspect", "-r", "./setup.cjs", "--import=./hook.mjs", "src/main.mjs"]), "src/main.mjs")
    assert.strictEqual(Cli.scriptOf("tsx", ["--", "tool/main.ts"]), "tool/main.ts")
    assert.strictEqual(Cli.scriptOf("npm", ["test"]), undefined)
    assert.strictEqual(Cli.scriptOf("node", ["-e", "1+1"]), undefined)
  })

  it("scriptOf passes over glob patterns and configuration files, which name no program", () => {
    assert.strictEqual(Cli.scriptOf("node", ["--test", "ntest/*.test.ts"]), undefined)
    assert.strictEqual(Cli.scriptOf("vitest", ["--config", "vitest.config.ts", "run"]), undefined)
    assert.strictEqual(Cli.scriptOf("jest", ["-c", "jest.config.mjs", "src/a.test.{js,ts}"]), undefined)
    assert.strictEqual(Cli.scriptOf("node", ["--test", "ntest/*.test.ts", "extra.mjs"]), "extra.mjs")
  })

  it("commandNameOf is the command's first word, or the package a package runner runs", () => {
    assert.strictEqual(Cli.commandNameOf("npm", ["test"]), "npm")
    assert.strictEqual(Cli.commandNameOf("npx", ["vitest", "run"]), "vitest")
    assert.strictEqual(Cli.commandNameOf("npx", ["--yes", "@scope/tool@2.1", "x"]), "tool")
    assert.strictEqual(Cli.commandNameOf("pnpm", ["exec", "jest", "--ci"]), "jest")
    assert.strictEqual(Cli.commandNameOf("pnpm", ["test"]), "pnpm")
    assert.strictEqual(Cli.commandNameOf("/usr/local/bin/node", ["--test"]), "node")
    assert.strictEqual(Cli.commandNameOf("npx", []), "npx")
  })

  it("defaultOutputOf names the output after the script, else the command", () => {
    assert.strictEqual(Cli.defaultOutputOf("src/app.ts", []), "app.ts.lineprof.json")
    assert.strictEqual(Cli.defaultOutputOf("node", ["--inspect", "../tool/main.mjs"]), "main.mjs.lineprof.json")
    assert.strictEqual(Cli.defaultOutputOf("npx", ["vitest", "run"]), "vitest.lineprof.json")
    assert.strictEqual(Cli.defaultOutputOf("npm", ["test"]), "npm.lineprof.json")
    assert.strictEqual(Cli.defaultOutputOf("node", ["--test", "ntest/*.test.ts"]), "node.lineprof.json")
  })

  it("numberedName numbers an output before its extension", () => {
    assert.strictEqual(Cli.numberedName("app.js.lineprof.json", 2), "app.js.lineprof.2.json")
    assert.strictEqual(Cli.numberedName("out/prof.pb.gz", 3), "out/prof.3.pb.gz")
    assert.strictEqual(Cli.numberedName("stats", 2), "stats.2")
    assert.strictEqual(Cli.defaultOutputOf("app.ts", [], "pb.gz"), "app.ts.lineprof.pb.gz")
  })

  it("testRunnerOf spots vitest and jest however they are started", () => {
    assert.strictEqual(Cli.testRunnerOf("npx", ["vitest", "run"]), "vitest")
    assert.strictEqual(Cli.testRunnerOf("node", ["node_modules/.bin/jest", "--ci"]), "jest")
    assert.strictEqual(Cli.testRunnerOf("vitest", []), "vitest")
    assert.strictEqual(Cli.testRunnerOf("npm", ["test"]), undefined)
    assert.strictEqual(Cli.testRunnerOf("node", ["app.js"]), undefined)
  })

  it("isNodeTooOld compares with 22.19", () => {
    for (const old of ["v20.20.2", "v22.18.0", "v18.0.0", "22.9.1"]) assert.strictEqual(Cli.isNodeTooOld(old), true, old)
    for (const fine of ["v22.19.0", "v22.20.1", "v24.21.0", "v100.0.0"]) assert.strictEqual(Cli.isNodeTooOld(fine), false, fine)
  })

  it("describeInputs names a few inputs and summarises many", () => {
    assert.strictEqual(Cli.describeInputs(["a.json"]), "a.json")
    assert.strictEqual(Cli.describeInputs(["a", "b", "c", "d"]), "a, b, c, d")
    assert.strictEqual(Cli.describeInputs(Array.from({ length: 10_000 }, (_, k) => `s${k}.json`)), "s0.json, s1.json, s2.json and 9997 more")
  })

  it("oneLine folds effect/cli's suggestion block into the sentence", () => {
    assert.strictEqual(Cli.oneLine('Unknown subcommand "x" for "lineprof"\n\n  Did you mean this?\n    show\n    merge'), 'Unknown subcommand "x" for "lineprof"; did you mean show or merge?')
    assert.strictEqual(Cli.oneLine("Missing required flag: --output"), "Missing required flag: --output")
    assert.strictEqual(Cli.oneLine("Invalid value\n  for --unit"), "Invalid value for --unit")
  })

  it("defaultInclude adds the script's folder only when it lies outside the current one", () => {
    assert.strictEqual(Cli.defaultInclude("/work/app", "/work/app/src/main.js"), undefined)
    assert.strictEqual(Cli.defaultInclude("/work/app", undefined), undefined)
    assert.deepStrictEqual(Cli.defaultInclude("/work/app", "/work/tool/main.js"), ["/work/app", "/work/tool"])
  })

  it("withImport appends a quoted --import to NODE_OPTIONS", () => {
    assert.strictEqual(Cli.withImport(undefined, "/a b/register.ts"), '--import="/a b/register.ts"')
    assert.strictEqual(Cli.withImport("--max-old-space-size=100", "/r.ts"), '--max-old-space-size=100 --import="/r.ts"')
  })

  it("exitCodeOf passes the program's code on, and 128 + n for a signal", () => {
    assert.strictEqual(Cli.exitCodeOf({ code: 7, signal: null }), 7)
    assert.strictEqual(Cli.exitCodeOf({ code: null, signal: "SIGTERM" }), 143)
    assert.strictEqual(Cli.exitCodeOf({ code: null, signal: "SIGKILL" }), 137)
  })

  it("the register module is found in shell/record, with Cli's own extension", () => {
    assert.strictEqual(Cli.registerPath(), resolve(import.meta.dirname, "..", "..", "..", "src", "shell", "record", "preload.ts"))
    assert.strictEqual(existsSync(Cli.registerPath()), true)
  })
})

/** Runs `main` in-process with captured stdout and stderr. */
const runMain = (argv: ReadonlyArray<string>, options: { readonly cwd?: string } = {}) =>
  Effect.gen(function* () {
    let stdout = ""
    let stderr = ""
    const environment: Cli.Environment = {
      ...Cli.nodeEnvironment(),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: { NO_COLOR: "1" },
      stdout: { isTTY: false, write: (text: string) => (stdout += text) },
      stderr: { isTTY: false, write: (text: string) => (stderr += text) }
    }
    const code = yield* Cli.main(argv, environment)
    return { code, stdout, stderr }
  }).pipe(Effect.provide(NodeServices.layer))

describe("planRun", () => {
  const runFixtures = join(fixtures, "run")
  const input = (command: ReadonlyArray<string>, flags: Partial<Cli.RunInput> = {}): Cli.RunInput => ({
    output: Option.none(),
    report: true,
    include: [],
    exclude: [],
    function: [],
    sourceMaps: true,
    timing: Option.none(),
    recalibrate: false,
    interval: Option.none(),
    compensate: Option.none(),
    command,
    format: "text",
    unit: Option.none(),
    skipZero: false,
    sort: false,
    summary: false,
    ...flags
  })
  const environment = (env: Record<string, string | undefined> = process.env): Cli.Environment => ({ ...Cli.nodeEnvironment(), cwd: runFixtures, env })
  const plan = (command: ReadonlyArray<string>, flags: Partial<Cli.RunInput> = {}, env?: Record<string, string | undefined>) =>
    Cli.planRun(input(command, flags), environment(env)).pipe(Effect.provide(NodeServices.layer))

  it.effect("a script: run with lineprof's Node, output named after it, the interval in milliseconds", () =>
    Effect.gen(function* () {
      const planned = yield* plan(["child.mjs", "3"], { interval: Option.some("1.5s") })
      assert.strictEqual(planned.file, process.execPath)
      assert.deepStrictEqual(planned.args, ["child.mjs", "3"])
      assert.deepStrictEqual([planned.output.shown, planned.output.path], ["child.mjs.lineprof.json", join(runFixtures, "child.mjs.lineprof.json")])
      assert.strictEqual(planned.config.intervalMs, 1500)
      assert.strictEqual(planned.html, undefined)
      assert.strictEqual(planned.testRunner, undefined)
    }))

  it.effect("a command: run as given, output named after the command, its test runner noted, the HTML path planned", () =>
    Effect.gen(function* () {
      const planned = yield* plan(["npx", "vitest", "run"], { format: "html" })
      assert.deepStrictEqual([planned.file, planned.args], ["npx", ["vitest", "run"]])
      assert.strictEqual(planned.output.shown, "vitest.lineprof.json")
      assert.strictEqual(planned.html?.shown, "vitest.lineprof.html")
      assert.strictEqual(planned.testRunner, "vitest")
    }))

  it.effect("refuses before the program starts: no program, a bad interval or glob, a missing script, an HTML path that is a folder", () =>
    Effect.gen(function* () {
      const messages = [
        yield* Effect.flip(plan([])),
        yield* Effect.flip(plan(["child.mjs"], { interval: Option.some("soon") })),
        yield* Effect.flip(plan(["child.mjs"], { include: ["src/[a"] })),
        yield* Effect.flip(plan(["nope.mjs"])),
        yield* Effect.flip(plan(["child.mjs"], { format: "html", output: Option.some(join(scratch, "taken.json")) }))
      ].map((error) => [error._tag, error.message.split(":")[0]])
      assert.deepStrictEqual(messages, [
        ["UsageError", "run"],
        ["UsageError", "--interval"],
        ["UsageError", "--include"],
        ["CommandError", "nope.mjs"],
        ["CommandError", join(scratch, "taken.html")]
      ])
    }))

  it.effect("a Node too old on PATH for a command: a UsageError naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(plan(["node", "child.mjs"], {}, { PATH: join(scratch, "old-node") }))
      assert.deepStrictEqual([error._tag, error.message], ["UsageError", `lineprof needs Node >= 22.19 (found v20.1.0: ${join(scratch, "old-node", "node")})`])
    }))
})

describe("main", () => {
  it.effect("show: the report on stdout, exit 0", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["show", "--unit", "us", join(fixtures, "a.json"), join(fixtures, "b.json")])
      assert.deepStrictEqual(result, { code: 0, stdout: readFileSync(join(fixtures, "a+b.us.txt"), "utf8"), stderr: "" })
    }))

  it.effect("a usage error: one line on stderr, exit 2", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["merge", join(fixtures, "a.json")])
      assert.strictEqual(result.code, Cli.ExitCode.usage)
      assert.strictEqual(result.stdout, "")
      assert.strictEqual(result.stderr, "lineprof: Missing required flag: --output (see: lineprof merge --help)\n")
    }))

  it.effect("a bad input: one line on stderr, exit 1, no output file", () =>
    Effect.gen(function* () {
      const out = join(scratch, "never.json")
      const bad = join(fixtures, "wrong-version.json")
      const result = yield* runMain(["merge", "-o", out, join(fixtures, "a.json"), bad])
      assert.deepStrictEqual(result, {
        code: Cli.ExitCode.badInput,
        stdout: "",
        stderr: `lineprof: ${bad}: lineprof stats version 99 was written by a newer lineprof; this one reads versions 1 and 2 (upgrade lineprof)\n`
      })
      assert.strictEqual(existsSync(out), false)
    }))

  it.effect("show --format html shows files under the current folder relative to it, as the text report does", () =>
    Effect.gen(function* () {
      // a.json profiles /src/app.js: from /src it is app.js.
      const result = yield* runMain(["show", "--format", "html", join(fixtures, "a.json")], { cwd: "/src" })
      assert.strictEqual(result.code, 0)
      assert.include(result.stdout, "<code>app.js</code>")
      assert.notInclude(result.stdout, "/src/app.js")
    }))

  it.effect("show --format html titles the page with the first inputs when there are many", () =>
    Effect.gen(function* () {
      const a = join(fixtures, "a.json")
      const result = yield* runMain(["show", "--format", "html", a, a, a, a, join(fixtures, "b.json")])
      assert.strictEqual(result.code, 0)
      assert.include(result.stdout, `<title>lineprof: ${a}, ${a}, ${a} and 2 more</title>`)
    }))

  it.effect("run --help says where each --format goes (json: no report, the stats file is the JSON)", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["run", "--help"])
      assert.strictEqual(result.code, 0)
      assert.include(result.stdout, "text (on stderr, line_profiler layout)")
      assert.include(result.stdout, "html (a self-contained page written beside -o as <output>.html)")
      assert.include(result.stdout, "json (no report: the stats file -o is the JSON)")
    }))

  it.effect("merge --help names the output by its flag", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["merge", "--help"])
      assert.include(result.stdout, "leaves the -o file untouched (neither created nor overwritten), unless --skip-bad")
      assert.notInclude(result.stdout, "OUT")
    }))

  it.effect("show --format html --skip-zero leaves out functions that never ran, as the text report does", () =>
    Effect.gen(function* () {
      const path = join(scratch, "with-zero.json")
      writeFileSync(
        path,
        StatsFile.encode(
          Profile.make([
            { file: "/src/a.js", name: "ran", firstLine: 1, lastLine: 2, fileHash: "h", source: ["f()", "g()"], lines: [Profile.makeLine(1, { hits: 1n, timeNs: 5n })] },
            { file: "/src/a.js", name: "neverRan", firstLine: 4, lastLine: 4, fileHash: "h", source: ["h()"], lines: [] }
          ])
        )
      )
      const skipped = yield* runMain(["show", "--format", "html", "--skip-zero", path])
      assert.strictEqual(skipped.code, 0)
      assert.include(skipped.stdout, ">ran</a>")
      assert.notInclude(skipped.stdout, "neverRan")
      const all = yield* runMain(["show", "--format", "html", path])
      assert.include(all.stdout, ">neverRan</a>")
    }))

  it.effect("show of a script (run was meant) fails with one line that says how to profile it", () =>
    Effect.gen(function* () {
      const script = join(fixtures, "run", "lib.mjs")
      const result = yield* runMain(["show", script])
      assert.strictEqual(result.code, Cli.ExitCode.badInput)
      assert.strictEqual(result.stdout, "")
      assert.match(result.stderr, /^lineprof: \S+lib\.mjs: not JSON: [^\n]* \(a script\? profile it with: lineprof run -- \S+lib\.mjs\)\n$/)
    }))

  it.effect("a mistyped command or flag: one line with effect/cli's suggestion, exit 2", () =>
    Effect.gen(function* () {
      const command = yield* runMain(["shw", "a.json"])
      assert.deepStrictEqual(command, {
        code: Cli.ExitCode.usage,
        stdout: "",
        stderr: `lineprof: Unknown subcommand "shw" for "lineprof"; did you mean show? (see: lineprof --help)\n`
      })
      const flag = yield* runMain(["show", "--sumary", "a.json"])
      assert.strictEqual(flag.stderr, "lineprof: Unrecognized flag: --sumary in command lineprof show; did you mean --summary? (see: lineprof show --help)\n")
    }))

  it.effect("a script where the command belongs (run left out): one line saying how to profile it, exit 2", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["app.ts", "--port", "80"])
      assert.strictEqual(result.code, Cli.ExitCode.usage)
      assert.strictEqual(
        result.stderr,
        `lineprof: Unknown subcommand "app.ts" for "lineprof"; to profile it: lineprof run -- app.ts (see: lineprof --help)\n`
      )
    }))

  it.effect("merge warns when the output is also named as an input (a rerun of merge -o all.json *.json)", () =>
    Effect.gen(function* () {
      const out = join(scratch, "accumulate.json")
      writeFileSync(out, readFileSync(join(fixtures, "a.json"), "utf8"))
      const result = yield* runMain(["merge", "-o", out, out, join(fixtures, "b.json")])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(
        result.stderr,
        `lineprof: warning: ${out} is also an input: its current contents are merged in (a rerun counts them twice)\n` +
          `lineprof: merged 2 stats files into ${out}\n`
      )
      const quiet = yield* runMain(["merge", "-o", join(scratch, "fresh.json"), join(fixtures, "a.json")])
      assert.notInclude(quiet.stderr, "warning")
    }))

  it.effect("--help shows how to install the completions, not only how to print them", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["--help"])
      assert.include(result.stdout, "lineprof --completions bash > ~/.lineprof-completion.bash && echo '. ~/.lineprof-completion.bash' >> ~/.bashrc")
    }))

  it.effect("show finds the Python source of a stats file merged from .lprof dumps away from their .py files", () =>
    Effect.gen(function* () {
      const golden = resolve(import.meta.dirname, "..", "..", "golden")
      // What `lineprof merge worker-0.lprof -o x.json` writes where seed_pool.py is not at hand: no source.
      const withoutSource = Result.getOrThrow(Lprof.decode(readFileSync(join(golden, "worker-0.lprof"))))
      assert.isTrue(withoutSource.functions.every((fn) => fn.source === undefined))
      const path = join(scratch, "merged-from-lprof.json")
      writeFileSync(path, StatsFile.encode(withoutSource))
      // Shown from test/golden, where seed_pool.py is: line_profiler's own text of that dump.
      const result = yield* runMain(["show", "--unit", "1e-6", path], { cwd: golden })
      assert.deepStrictEqual(result, { code: 0, stdout: readFileSync(join(golden, "worker-0_us.txt"), "utf8"), stderr: "" })
    }))
})
