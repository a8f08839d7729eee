/**
 * Python's dumps through the real bin: `lineprof show` of the four worker
 * .lprof files (run from test/golden, where their source seed_pool.py lives)
 * is line_profiler's own rendering of their merge, byte for byte, whether the
 * unit is named (us, ns) or given as line_profiler's seconds (1e-6, 1e-9).
 * A crafted dump gets no text but that of regular .py files under the folder
 * lineprof runs in, or under --source-root.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { lprofNaming } from "../fixtures/hostile/corpus.ts"
import { makeScratch, readText, repoRoot, runBin } from "./bin.ts"

const goldenDir = join(repoRoot, "test", "golden")
const dumps = ["worker-0.lprof", "worker-1.lprof", "worker-2.lprof", "worker-3.lprof"]

describe("lineprof show of Python line_profiler dumps", () => {
  for (const [unit, golden] of [
    ["us", "merged_us.txt"],
    ["1e-6", "merged_us.txt"],
    ["ns", "merged_native.txt"],
    ["1e-9", "merged_native.txt"]
  ] as const) {
    it(`--unit ${unit} renders ${golden}`, () => {
      const run = runBin(["show", "--unit", unit, ...dumps], { cwd: goldenDir })
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(run.stdout).toBe(readText(join(goldenDir, golden)))
    })
  }

  it("an unknown unit is a usage error (exit 2) naming the flag", () => {
    const run = runBin(["show", "--unit", "1e-4", ...dumps], { cwd: goldenDir })
    expect(run.code).toBe(2)
    expect(run.stdout).toBe("")
    expect(run.stderr).toContain("unit")
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
  })
})

describe("where a dump's Python sources are read from", () => {
  const secret = "SECRET_TOKEN_4f1c"
  /**
   * project/ holds ok.py (read) and notes.txt (not .py); secret.py lies
   * beside project/, reached as ../secret.py, by its absolute path and through
   * project/link.py; /proc/self/environ is named too.
   */
  const setUp = () => {
    const scratch = makeScratch()
    const project = join(scratch.dir, "project")
    mkdirSync(project)
    writeFileSync(join(project, "ok.py"), "def f0():\n    return 1\n")
    writeFileSync(join(project, "notes.txt"), `${secret}\n`)
    writeFileSync(join(scratch.dir, "secret.py"), `def f():\n    x = "${secret}"\n`)
    symlinkSync(join(scratch.dir, "secret.py"), join(project, "link.py"))
    execFileSync("mkfifo", [join(project, "pipe.py")])
    const named = ["ok.py", "../secret.py", join(scratch.dir, "secret.py"), "link.py", "notes.txt", "/proc/self/environ", "pipe.py"]
    writeFileSync(join(project, "dump.lprof"), lprofNaming(named))
    return { scratch, project }
  }

  it("only regular .py files under the folder it runs in: nothing else reaches the JSON or the HTML", () => {
    const { scratch, project } = setUp()
    try {
      const json = runBin(["show", "--format", "json", "dump.lprof"], { cwd: project })
      expect(json.stderr).toBe("")
      expect(json.code).toBe(0)
      const functions = JSON.parse(json.stdout).functions as Array<{ file: string; source: Array<string> | null }>
      expect(new Map(functions.map((fn) => [fn.file, fn.source]))).toEqual(
        new Map<string, Array<string> | null>([
          [join(scratch.dir, "secret.py"), null],
          ["../secret.py", null],
          ["/proc/self/environ", null],
          ["link.py", null],
          ["notes.txt", null],
          ["ok.py", ["def f0():", "    return 1"]],
          ["pipe.py", null]
        ])
      )
      const merged = runBin(["merge", "dump.lprof", "-o", "all.json"], { cwd: project })
      expect(merged.code).toBe(0)
      const html = runBin(["show", "--format", "html", "dump.lprof", "all.json"], { cwd: project })
      expect(html.code).toBe(0)
      for (const text of [json.stdout, readText(join(project, "all.json")), html.stdout]) {
        expect(text).not.toContain(secret)
        expect(text).not.toContain("PATH=")
      }
      expect(html.stdout).toContain("return 1")
    } finally {
      scratch.remove()
    }
  })

  it("--source-root names the folder instead, for show and merge; a missing one is one line, exit 1", () => {
    const { scratch, project } = setUp()
    try {
      const shown = runBin(["show", "--format", "json", "--source-root", "project", "project/dump.lprof"], { cwd: scratch.dir })
      expect(shown.code).toBe(0)
      const okSource = (text: string) =>
        (JSON.parse(text).functions as Array<{ file: string; source: unknown }>).find((fn) => fn.file === "ok.py")?.source
      expect(okSource(shown.stdout)).toEqual(["def f0():", "    return 1"])
      expect(shown.stdout).not.toContain(secret)
      // From scratch/ without --source-root, ../secret.py and the rest are outside too, and ok.py is not found.
      expect(okSource(runBin(["show", "--format", "json", "project/dump.lprof"], { cwd: scratch.dir }).stdout)).toBeNull()
      const merged = runBin(["merge", "--source-root", "project", "project/dump.lprof", "-o", "all.json"], { cwd: scratch.dir })
      expect(merged.code).toBe(0)
      expect(okSource(readText(join(scratch.dir, "all.json")))).toEqual(["def f0():", "    return 1"])
      const missing = runBin(["show", "--source-root", "nowhere", "project/dump.lprof"], { cwd: scratch.dir })
      expect(missing.code).toBe(1)
      expect(missing.stderr).toBe("lineprof: --source-root nowhere: no such folder\n")
    } finally {
      scratch.remove()
    }
  })
})
