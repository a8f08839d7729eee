/**
 * `lineprof show` and `lineprof merge` end to end, through the real bin:
 * exact merges, a golden text report, the corpus of bad inputs (one line,
 * exit 1, output neither created nor clobbered), --skip-bad, usage errors
 * (exit 2), help, completions and colour; a project folder as input (stats
 * files only: package.json passed over, node_modules not searched).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Result from "effect/Result"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { fixturesDir, makeScratch, readText, runBin, startBin } from "./bin.ts"

const fixture = (name: string) => join(fixturesDir, name)

const decodeFile = (path: string): Profile.Profile => {
  const decoded = StatsFile.decode(readText(path), path)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  return decoded.success
}

const lineOf = (profile: Profile.Profile, name: string, lineNo: number): Profile.LineStats => {
  const fn = profile.functions.find((candidate) => candidate.name === name)
  const line = fn?.lines.find((candidate) => candidate.lineNo === lineNo)
  if (line === undefined) throw new Error(`no line ${lineNo} in ${name}`)
  return line
}

const lines = (text: string): Array<string> => text.split("\n").filter((line) => line !== "")

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
})
afterAll(() => scratch.remove())

describe("lineprof merge", () => {
  it("adds hits and nanoseconds of equal lines exactly and keeps other functions", () => {
    const out = join(scratch.dir, "merged-ab.json")
    const result = runBin(["merge", "-o", out, fixture("a.json"), fixture("b.json")])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe(`lineprof: merged 2 stats files into ${out}\n`)
    const merged = decodeFile(out)
    // a.json line 3 of work: 3 hits, 90000 ns; b.json: 5 hits, 150000 ns.
    expect(lineOf(merged, "work", 3)).toEqual({ lineNo: 3, hits: 8n, timeNs: 240000n, waitNs: 0n })
    expect(lineOf(merged, "work", 2)).toEqual({ lineNo: 2, hits: 8n, timeNs: 8000n, waitNs: 0n })
    expect(lineOf(merged, "main", 8)).toEqual({ lineNo: 8, hits: 1n, timeNs: 2000n, waitNs: 10000000n })
    expect(lineOf(merged, "helper", 2)).toEqual({ lineNo: 2, hits: 40n, timeNs: 80000n, waitNs: 0n })
    expect(merged.functions.map((fn) => fn.name)).toEqual(["work", "main", "helper"])
    expect(Profile.check(merged)).toEqual([])
  })

  it("gives the same bytes whatever the order of the inputs", () => {
    const ab = join(scratch.dir, "order-ab.json")
    const ba = join(scratch.dir, "order-ba.json")
    expect(runBin(["merge", "-o", ab, fixture("a.json"), fixture("b.json")]).code).toBe(0)
    expect(runBin(["merge", "-o", ba, fixture("b.json"), fixture("a.json")]).code).toBe(0)
    expect(readText(ba)).toBe(readText(ab))
  })

  it("searches folders recursively and expands globs, skipping other files and folders named like stats files", () => {
    const tree = join(scratch.dir, "tree")
    mkdirSync(join(tree, "x", "y"), { recursive: true })
    mkdirSync(join(tree, "folder.json"))
    copyFileSync(fixture("a.json"), join(tree, "x", "y", "a.json"))
    copyFileSync(fixture("b.json"), join(tree, "b.json"))
    writeFileSync(join(tree, "notes.txt"), "not a stats file\n")
    const fromFiles = join(scratch.dir, "files.json")
    const fromFolder = join(scratch.dir, "folder-out.json")
    const fromGlob = join(scratch.dir, "glob-out.json")
    expect(runBin(["merge", "-o", fromFiles, fixture("a.json"), fixture("b.json")]).code).toBe(0)
    const folder = runBin(["merge", "-o", fromFolder, tree])
    expect(folder.stderr).toBe(`lineprof: merged 2 stats files into ${fromFolder}\n`)
    expect(readText(fromFolder)).toBe(readText(fromFiles))
    const glob = runBin(["merge", "-o", fromGlob, `${tree}/**/*.json`])
    expect(glob.code).toBe(0)
    expect(readText(fromGlob)).toBe(readText(fromFiles))
  })

  it("leaves its own output out when it lies in a merged folder", () => {
    const tree = join(scratch.dir, "self")
    mkdirSync(tree)
    copyFileSync(fixture("a.json"), join(tree, "a.json"))
    const out = join(tree, "merged.json")
    writeFileSync(out, readText(fixture("b.json")))
    const result = runBin(["merge", "-o", out, tree])
    expect(result.code).toBe(0)
    expect(readText(out)).toBe(readText(fixture("a.json")))
    // Its old contents are lost: said as when an input is the output.
    expect(result.stderr).toBe(
      `lineprof: warning: ${out} lies under an input: its current contents are left out of the merge and overwritten\n` +
        `lineprof: merged 1 stats file into ${out}\n`
    )
  })

  it("a FIFO in a merged folder is passed over; one named or matched by a glob is one line, exit 1, never a hang", () => {
    const tree = join(scratch.dir, "with-fifo")
    mkdirSync(tree)
    copyFileSync(fixture("a.json"), join(tree, "a.json"))
    execFileSync("mkfifo", [join(tree, "pipe.json")])
    const out = join(scratch.dir, "with-fifo.json")
    const merged = runBin(["merge", "-o", out, tree])
    expect(merged.code).toBe(0)
    expect(readText(out)).toBe(readText(fixture("a.json")))
    for (const input of [join(tree, "pipe.json"), join(tree, "*.json")]) {
      const result = runBin(["merge", "-o", out, input])
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(`lineprof: ${join(tree, "pipe.json")}: not a regular file: a named pipe (FIFO)\n`)
    }
  })
})

describe("a project folder as input", () => {
  /** package.json, tsconfig.json, node_modules/x/stats.json (b.json), stats/a.json (good); `extra` adds files. */
  const makeProject = (name: string, extra: Record<string, string> = {}): string => {
    const dir = join(scratch.dir, name)
    const files: Record<string, string> = {
      "package.json": `{"name": "app", "version": "1.0.0", "type": "module"}\n`,
      "tsconfig.json": `{"compilerOptions": {"strict": true}}\n`,
      "node_modules/x/stats.json": readText(fixture("b.json")),
      "stats/a.json": readText(fixture("a.json")),
      ...extra
    }
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(dir, file, ".."), { recursive: true })
      writeFileSync(join(dir, file), text)
    }
    return dir
  }

  it("merge reads its stats files only: package.json and tsconfig.json passed over, node_modules not searched", () => {
    const dir = makeProject("project-good")
    const out = join(scratch.dir, "project-good.json")
    const result = runBin(["merge", "-o", out, dir])
    expect(result.code).toBe(0)
    expect(lines(result.stderr)).toEqual([
      `lineprof: passed over 2 .json files that are not lineprof stats: ${dir}/package.json, ${dir}/tsconfig.json`,
      `lineprof: merged 1 stats file into ${out}`
    ])
    const merged = decodeFile(out)
    // a.json alone: node_modules/x/stats.json (b.json) would make these 8 hits and 240000 ns.
    expect(lineOf(merged, "work", 3)).toEqual({ lineNo: 3, hits: 3n, timeNs: 90000n, waitNs: 0n })
    expect(merged.functions.map((fn) => fn.name)).toEqual(["work", "main"])
    expect(readText(out)).toBe(readText(fixture("a.json")))
  })

  it("show renders the same merge, the summary line on stderr", () => {
    const dir = makeProject("project-show")
    const result = runBin(["show", "--format", "json", dir])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(readText(fixture("a.json")))
    expect(lines(result.stderr)).toEqual([
      `lineprof: passed over 2 .json files that are not lineprof stats: ${dir}/package.json, ${dir}/tsconfig.json`
    ])
  })

  it("a truncated stats file in it still stops the merge with one line, exit 1, no output; --skip-bad merges the rest", () => {
    const dir = makeProject("project-truncated", { "stats/b.json": readText(fixture("truncated.json")) })
    const out = join(scratch.dir, "project-truncated.json")
    const stopped = runBin(["merge", "-o", out, dir])
    expect(stopped.code).toBe(1)
    expect(lines(stopped.stderr)).toEqual([`lineprof: ${dir}/stats/b.json: truncated JSON: the text ends in the middle of a value`])
    expect(existsSync(out)).toBe(false)
    const skipped = runBin(["merge", "--skip-bad", "-o", out, dir])
    expect(skipped.code).toBe(0)
    expect(lines(skipped.stderr)).toEqual([
      `lineprof: warning: skipped ${dir}/stats/b.json: truncated JSON: the text ends in the middle of a value`,
      `lineprof: passed over 2 .json files that are not lineprof stats: ${dir}/package.json, ${dir}/tsconfig.json`,
      `lineprof: merged 1 stats file into ${out} (1 bad file skipped)`
    ])
    expect(lineOf(decodeFile(out), "work", 3)).toEqual({ lineNo: 3, hits: 3n, timeNs: 90000n, waitNs: 0n })
  })

  it("a folder holding no stats file besides package.json keeps the 'no stats files' error, exit 1", () => {
    const dir = join(scratch.dir, "project-empty")
    mkdirSync(join(dir, "node_modules", "x"), { recursive: true })
    writeFileSync(join(dir, "package.json"), `{"name": "app"}\n`)
    copyFileSync(fixture("a.json"), join(dir, "node_modules", "x", "stats.json"))
    const out = join(scratch.dir, "project-empty.json")
    for (const args of [["merge", "-o", out, dir], ["show", dir]]) {
      const result = runBin(args)
      expect(result.code).toBe(1)
      expect(lines(result.stderr)).toEqual([`lineprof: ${dir}: no stats files (*.json, *.lprof, *.pb.gz) in this folder`])
      expect(result.stdout).toBe("")
    }
    expect(existsSync(out)).toBe(false)
  })

  it("a package.json named outright is read and reported, exit 1", () => {
    const dir = makeProject("project-named")
    const out = join(scratch.dir, "project-named.json")
    const result = runBin(["merge", "-o", out, dir, join(dir, "package.json")])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toEqual([
      `lineprof: ${dir}/package.json: not a lineprof stats file: no "format" field (expected "format": "lineprof")`
    ])
    expect(existsSync(out)).toBe(false)
  })
})

describe("lineprof show", () => {
  it("renders a known merge exactly (line_profiler layout, microseconds)", () => {
    const result = runBin(["show", "--unit", "us", fixture("a.json"), fixture("b.json")])
    expect(result.code).toBe(0)
    expect(result.stderr).toBe("")
    expect(result.stdout).toBe(readText(fixture("a+b.us.txt")))
  })

  it("writes the report to -o instead of stdout", () => {
    const out = join(scratch.dir, "report.txt")
    const result = runBin(["show", "--unit", "us", "-o", out, fixture("a.json"), fixture("b.json")])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("")
    expect(readText(out)).toBe(readText(fixture("a+b.us.txt")))
  })

  it("--format json prints the merged stats file, as merge writes it", () => {
    const out = join(scratch.dir, "for-json.json")
    expect(runBin(["merge", "-o", out, fixture("a.json"), fixture("b.json")]).code).toBe(0)
    const result = runBin(["show", "--format", "json", fixture("a.json"), fixture("b.json")])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(readText(out))
  })

  it("--format html prints one HTML document with every function", () => {
    const result = runBin(["show", "--format", "html", fixture("a.json"), fixture("b.json")])
    expect(result.code).toBe(0)
    expect(result.stdout.trimStart().toLowerCase().startsWith("<!doctype html>")).toBe(true)
    for (const name of ["work", "main", "helper"]) expect(result.stdout).toContain(name)
  })

  it("stops quietly, exit 0, when the reader closes the pipe early (| head)", async () => {
    // 400 functions: a report far larger than a pipe's buffer.
    const big = join(scratch.dir, "big.json")
    const template = readText(fixture("a.json"))
    const functions = Array.from({ length: 400 }, (_, k) => template.split("\n").find((line) => line.includes('"name":"work"'))!.replace('"name":"work"', `"name":"work${k}"`))
    writeFileSync(big, `{"format":"lineprof","version":1,"functions":[\n${functions.map((line) => line.replace(/,$/, "")).join(",\n")}\n]}\n`)
    const child = startBin(["show", big])
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    let firstChunk = ""
    await new Promise<void>((resolve) =>
      child.stdout.once("data", (chunk: Buffer) => {
        firstChunk = chunk.toString()
        child.stdout.destroy()
        resolve()
      })
    )
    expect(firstChunk.startsWith("Timer unit: 1e-06 s")).toBe(true)
    expect(await exited).toBe(0)
    expect(stderr).toBe("")
  })

  it("colours hot lines when FORCE_COLOR is set, and never when NO_COLOR is", () => {
    const coloured = runBin(["show", fixture("a.json")], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } })
    const hotRow = coloured.stdout.split("\n").find((line) => line.includes("for (let i = 0"))
    // Bold red, as util.styleText writes it.
    expect(hotRow?.startsWith("\u001b[1m\u001b[31m")).toBe(true)
    const plain = runBin(["show", fixture("a.json")], { env: { NO_COLOR: "1", FORCE_COLOR: "1" } })
    expect(plain.stdout).not.toContain("\u001b[")
    // Without either variable the output is a pipe, not a terminal: no colour.
    const piped = runBin(["show", fixture("a.json")], { env: { NO_COLOR: undefined } })
    expect(piped.stdout).not.toContain("\u001b[")
    expect(coloured.stdout.replace(/\u001b\[[0-9;]*m/g, "")).toBe(piped.stdout)
  })
})

describe("bad inputs", () => {
  // Root reads any file, so the bin runs without the capabilities that allow it.
  const asUser = { withoutReadOverride: true }

  interface BadCase {
    readonly name: string
    /** Makes the bad input inside `dir`; returns its path. */
    readonly make: (dir: string) => string
    readonly problem: string
  }

  const copyBad = (name: string) => (dir: string) => {
    const path = join(dir, name)
    copyFileSync(fixture(name), path)
    return path
  }

  const cases: ReadonlyArray<BadCase> = [
    { name: "truncated JSON", make: copyBad("truncated.json"), problem: "truncated JSON" },
    { name: "a wrong version", make: copyBad("wrong-version.json"), problem: "lineprof stats version 99 was written by a newer lineprof" },
    { name: "binary garbage", make: copyBad("garbage.json"), problem: "binary data" },
    { name: "a negative count", make: copyBad("negative.json"), problem: "(hits): expected a non-negative integer, got -1" },
    { name: "a missing file", make: (dir) => join(dir, "missing.json"), problem: "no such file or folder" },
    {
      name: "a folder without stats files",
      make: (dir) => {
        const path = join(dir, "empty.json")
        mkdirSync(path)
        return path
      },
      problem: "no stats files"
    },
    {
      name: "a folder holding a bad file",
      make: (dir) => {
        const path = join(dir, "holder")
        mkdirSync(path)
        copyFileSync(fixture("truncated.json"), join(path, "inner.json"))
        return path
      },
      problem: "inner.json: truncated JSON"
    },
    {
      name: "an unreadable file",
      make: (dir) => {
        const path = join(dir, "secret.json")
        copyFileSync(fixture("a.json"), path)
        chmodSync(path, 0o000)
        return path
      },
      problem: "permission denied"
    }
  ]

  for (const bad of cases) {
    describe(bad.name, () => {
      const setup = () => {
        const dir = mkdtempSync(join(scratch.dir, `${bad.name.replace(/\W+/g, "-")}-`))
        chmodSync(dir, 0o777)
        const good = join(dir, "good.json")
        copyFileSync(fixture("a.json"), good)
        return { dir, good, input: bad.make(dir) }
      }

      it("merge stops with one line naming the file and the problem, exit 1, and creates no output", () => {
        const { dir, good, input } = setup()
        const out = join(dir, "out-new.json")
        const result = runBin(["merge", "-o", out, good, input], asUser)
        expect(result.code).toBe(1)
        expect(lines(result.stderr)).toHaveLength(1)
        expect(result.stderr.startsWith("lineprof: ")).toBe(true)
        expect(result.stderr).toContain(bad.problem)
        expect(result.stderr).not.toMatch(/\n\s+at /)
        expect(existsSync(out)).toBe(false)
      })

      it("merge leaves an existing output untouched", () => {
        const { dir, good, input } = setup()
        const out = join(dir, "out-old.json")
        writeFileSync(out, "precious\n", { mode: 0o666 })
        const result = runBin(["merge", "-o", out, good, input], asUser)
        expect(result.code).toBe(1)
        expect(readText(out)).toBe("precious\n")
      })

      it("show stops with one line, exit 1, nothing on stdout and no -o file", () => {
        const { dir, good, input } = setup()
        const out = join(dir, "report-new.txt")
        const toStdout = runBin(["show", good, input], asUser)
        expect(toStdout.code).toBe(1)
        expect(toStdout.stdout).toBe("")
        expect(lines(toStdout.stderr)).toHaveLength(1)
        expect(toStdout.stderr).toContain(bad.problem)
        const toFile = runBin(["show", "-o", out, good, input], asUser)
        expect(toFile.code).toBe(1)
        expect(existsSync(out)).toBe(false)
      })
    })
  }

  it("--verbose adds details, still exit 1", () => {
    const result = runBin(["merge", "--verbose", "-o", join(scratch.dir, "never.json"), fixture("truncated.json")])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)[0]).toContain("truncated JSON")
    expect(lines(result.stderr).length).toBeGreaterThan(1)
  })

  it("merge --skip-bad warns once per bad file and merges the good ones exactly", () => {
    const dir = join(scratch.dir, "skip-bad")
    mkdirSync(dir)
    const bads = ["truncated.json", "wrong-version.json", "garbage.json", "negative.json"].map((name) => {
      const path = join(dir, name)
      copyFileSync(fixture(name), path)
      return path
    })
    const out = join(dir, "out.json")
    const expected = join(scratch.dir, "skip-bad-expected.json")
    expect(runBin(["merge", "-o", expected, fixture("a.json"), fixture("b.json")]).code).toBe(0)
    const result = runBin(["merge", "--skip-bad", "-o", out, fixture("a.json"), ...bads, fixture("b.json")])
    expect(result.code).toBe(0)
    const warnings = lines(result.stderr).filter((line) => line.startsWith("lineprof: warning: skipped "))
    expect(warnings).toHaveLength(bads.length)
    for (const bad of bads) expect(warnings.some((line) => line.includes(bad))).toBe(true)
    expect(lines(result.stderr).at(-1)).toBe(`lineprof: merged 2 stats files into ${out} (4 bad files skipped)`)
    expect(readText(out)).toBe(readText(expected))
  })

  it("merge --skip-bad with only bad files writes nothing and exits 1", () => {
    const out = join(scratch.dir, "only-bad.json")
    const result = runBin(["merge", "--skip-bad", "-o", out, fixture("truncated.json")])
    expect(result.code).toBe(1)
    expect(existsSync(out)).toBe(false)
  })

  it("an output in a folder that does not exist: one line naming -o as given, before any input is read", () => {
    for (const [args, out] of [
      [["merge", "-o", "no-such-folder/all.json", fixture("truncated.json")], "no-such-folder/all.json"],
      [["show", "-o", "no-such-folder/report.txt", fixture("truncated.json")], "no-such-folder/report.txt"],
      [["show", "--format", "html", "-o", "no-such-folder/report.html", fixture("a.json")], "no-such-folder/report.html"]
    ] as const) {
      const result = runBin(args, { cwd: scratch.dir })
      expect(result.code).toBe(1)
      // truncated.json is bad too: the output is checked first.
      expect(result.stderr).toBe(`lineprof: ${out}: cannot write: folder no-such-folder does not exist\n`)
      expect(existsSync(join(scratch.dir, "no-such-folder"))).toBe(false)
    }
  })

  it("an output under a file: one line saying the parent is a file, not that a folder is missing", () => {
    writeFileSync(join(scratch.dir, "plain.txt"), "x")
    for (const [args, out] of [
      [["merge", "-o", "plain.txt/all.json", fixture("a.json")], "plain.txt/all.json"],
      [["show", "-o", "plain.txt/deeper/report.txt", fixture("a.json")], "plain.txt/deeper/report.txt"]
    ] as const) {
      const result = runBin(args, { cwd: scratch.dir })
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(`lineprof: ${out}: cannot write: plain.txt is a file, not a folder\n`)
    }
  })

  it("an output path that is a folder is refused", () => {
    const result = runBin(["merge", "-o", scratch.dir, fixture("a.json")])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`lineprof: ${scratch.dir}: is a folder; -o needs a file path\n`)
  })
})

describe("usage", () => {
  const usageCases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
    ["merge without -o", ["merge", "a.json"], "--output"],
    ["show without a file", ["show"], "file"],
    ["an unknown flag", ["show", "--bogus", "a.json"], "--bogus"],
    ["a bad --unit", ["show", "--unit", "hours", "a.json"], "hours"],
    ["a bad --format", ["show", "--format", "pdf", "a.json"], "pdf"],
    ["an unknown command", ["frobnicate"], "frobnicate"],
    ["run without a program", ["run"], "name the program to run"],
    ["run with a bad --interval", ["run", "--interval", "soon", "--", "app.js"], "--interval"]
  ]
  for (const [name, args, mention] of usageCases) {
    it(`${name}: one line on stderr, exit 2`, () => {
      const result = runBin(args)
      expect(result.code).toBe(2)
      expect(result.stdout).toBe("")
      expect(lines(result.stderr)).toHaveLength(1)
      expect(result.stderr.startsWith("lineprof: ")).toBe(true)
      expect(result.stderr).toContain(mention)
    })
  }

  it("no command at all prints the help on stderr and exits 2", () => {
    const result = runBin([])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain("SUBCOMMANDS")
  })

  for (const command of ["run", "show", "merge"]) {
    it(`${command} --help shows usage and examples on stdout, exit 0`, () => {
      const result = runBin([command, "--help"])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`lineprof ${command}`)
      expect(result.stdout).toContain("EXAMPLES")
    })
  }

  it("--completions prints a shell script naming the subcommands", () => {
    const result = runBin(["--completions", "bash"])
    expect(result.code).toBe(0)
    for (const word of ["lineprof", "run", "show", "merge", "--skip-bad"]) expect(result.stdout).toContain(word)
  })

  it("bash completions offer file names for stats files, -o and run's script, and keep values for --unit", () => {
    const dir = mkdtempSync(join(scratch.dir, "completion-"))
    for (const name of ["app.js", "app.js.lineprof.json", "notes.txt"]) writeFileSync(join(dir, name), "")
    mkdirSync(join(dir, "runs"))
    const script = join(dir, "lineprof.bash")
    writeFileSync(script, runBin(["--completions", "bash"]).stdout)
    // Bash calls the function with the command, the current word and the previous word.
    const complete = (line: string): Array<string> => {
      const driver = [
        `source ${JSON.stringify(script)}`,
        `COMP_LINE=${JSON.stringify(line)}; COMP_WORDS=($COMP_LINE); [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")`,
        `COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMP_POINT=\${#COMP_LINE}`,
        `_lineprof lineprof "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"`,
        `printf '%s\\n' "\${COMPREPLY[@]}"`
      ].join("\n")
      const result = spawnSync("bash", ["-c", driver], { cwd: dir, encoding: "utf8" })
      return lines(result.stdout).sort()
    }
    expect(complete("lineprof show app")).toEqual(["app.js", "app.js.lineprof.json"])
    expect(complete("lineprof merge -o all.json ru")).toEqual(["runs"])
    expect(complete("lineprof merge -o no")).toEqual(["notes.txt"])
    expect(complete("lineprof run -- app.")).toEqual(["app.js", "app.js.lineprof.json"])
    expect(complete("lineprof show --unit m")).toEqual(["ms"])
  })

  it("--version prints the version", () => {
    const result = runBin(["--version"])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^lineprof v\d+\.\d+\.\d+/)
  })
})
