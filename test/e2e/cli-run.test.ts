/**
 * `lineprof run` end to end, through the real bin, on the programs in
 * test/fixtures/cli/run: stats from worker threads and child processes merged
 * into known totals of hits, a worker that is terminate()d, a child killed by
 * SIGTERM, lineprof itself signalled, stdin/stdout/exit code passed through.
 *
 * Every fixture calls `work` (lib.mjs) a known number of times; one call is
 * one hit on line 4 (`let total = 0`) and one on line 6 (`return total`).
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import { readText, runBin, startBin } from "./bin.ts"
import { decodeFile, usePrograms } from "./run-programs.ts"

const paths = usePrograms()

/** Hits of `work` on lines 4 and 6, which each count the calls of `work`. */
const callsOfWork = (profile: Profile.Profile): readonly [bigint | undefined, bigint | undefined] => {
  const work = profile.functions.find((fn) => fn.name === "work" && fn.file.endsWith("lib.mjs"))
  const hitsAt = (lineNo: number) => work?.lines.find((line) => line.lineNo === lineNo)?.hits
  return [hitsAt(4), hitsAt(6)]
}

const run = (args: ReadonlyArray<string>, options: { readonly input?: string } = {}) =>
  runBin(["run", ...args], { ...options, cwd: paths.programs })

describe("lineprof run", () => {
  it("merges the main thread, two worker threads and a forked child into the known totals", () => {
    const result = run(["--", "threads.mjs"])
    // The program's stdout and exit code, untouched; the report on stderr.
    expect(result.stdout).toBe("done 42\n")
    expect(result.code).toBe(3)
    expect(result.stderr).toContain("Function: work at line 3")
    expect(result.stderr.trimEnd().split("\n").at(-1)).toBe("lineprof: wrote threads.mjs.lineprof.json (4 stats files merged)")
    const profile = decodeFile(join(paths.programs, "threads.mjs.lineprof.json"))
    expect(callsOfWork(profile)).toEqual([42n, 42n])
    expect(Profile.check(profile)).toEqual([])
  })

  it("--include splits on commas as LINEPROF_INCLUDE does: a comma inside {a,b} belongs to the glob", () => {
    const out = join(paths.dir, "braces.json")
    const result = run(["--no-report", "-o", out, "--include", "{lib,nothing}.mjs,other.mjs", "--", "threads.mjs"])
    expect(result.stderr).toBe(`lineprof: wrote ${out} (4 stats files merged)\n`)
    expect(result.code).toBe(3)
    const profile = decodeFile(out)
    expect(callsOfWork(profile)).toEqual([42n, 42n])
    // Only lib.mjs matched: threads.mjs's own functions are not profiled.
    expect(new Set(profile.functions.map((fn) => fn.file.split("/").at(-1)))).toEqual(new Set(["lib.mjs"]))
  })

  it("runs a command as given (not a script name) and profiles the Node processes it starts", () => {
    const out = join(paths.dir, "command.json")
    const result = run(["--no-report", "-o", out, "--", process.execPath, "threads.mjs"])
    expect(result.code).toBe(3)
    expect(result.stdout).toBe("done 42\n")
    expect(result.stderr).toBe(`lineprof: wrote ${out} (4 stats files merged)\n`)
    expect(callsOfWork(decodeFile(out))).toEqual([42n, 42n])
  })

  it("keeps the counts of a worker that is terminate()d mid-work", () => {
    const out = join(paths.dir, "terminate.json")
    const result = run(["--no-report", "-o", out, "--", "terminate.mjs"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("terminated\n")
    // 1000 calls in the terminated worker, 2 in the main thread.
    expect(callsOfWork(decodeFile(out))).toEqual([1002n, 1002n])
  })

  it("keeps the counts of a child process killed by SIGTERM", () => {
    const out = join(paths.dir, "sigterm.json")
    const result = run(["--no-report", "-o", out, "--", "sigterm.mjs"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("child ended by SIGTERM\n")
    expect(callsOfWork(decodeFile(out))).toEqual([301n, 301n])
  })

  it("keeps what a child killed by SIGKILL flushed (--interval)", () => {
    const out = join(paths.dir, "sigkill.json")
    const result = run(["--no-report", "--interval", "50ms", "-o", out, "--", "sigkill.mjs"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("child ended by SIGKILL\n")
    expect(callsOfWork(decodeFile(out))).toEqual([301n, 301n])
  })

  /** Starts sleeper.mjs under lineprof, waits for its "ready", signals, and returns how lineprof ended. */
  const signalled = async (out: string, send: (pid: number) => void) => {
    const child = startBin(["run", "--no-report", "-o", out, "--", "sleeper.mjs"], { cwd: paths.programs, detached: true })
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        if (stdout.includes("ready\n")) resolve()
      })
    })
    send(child.pid!)
    const code = await exited
    return { code, stdout, stderr }
  }

  it("passes SIGTERM on to the program, collects its stats and exits 128 + 15", async () => {
    const out = join(paths.dir, "sleeper-term.json")
    // Only lineprof gets the signal; it passes it on.
    const result = await signalled(out, (pid) => process.kill(pid, "SIGTERM"))
    expect(result).toEqual({ code: 143, stdout: "ready\n", stderr: `lineprof: wrote ${out} (1 stats file merged)\n` })
    expect(callsOfWork(decodeFile(out))).toEqual([50n, 50n])
  })

  it("on Ctrl-C (SIGINT to the whole process group) outlives the program, collects its stats and exits 128 + 2", async () => {
    const out = join(paths.dir, "sleeper-int.json")
    const result = await signalled(out, (pid) => process.kill(-pid, "SIGINT"))
    expect(result).toEqual({ code: 130, stdout: "ready\n", stderr: `lineprof: wrote ${out} (1 stats file merged)\n` })
    expect(callsOfWork(decodeFile(out))).toEqual([50n, 50n])
  })

  it("passes stdin through to a TypeScript script", () => {
    const out = join(paths.dir, "echo.json")
    const result = run(["--no-report", "-o", out, "--", "echo.ts"], { input: "one\ntwo\nthree\n" })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("ONE\nTWO\nTHREE\n")
    expect(callsOfWork(decodeFile(out))).toEqual([3n, 3n])
    expect(decodeFile(out).functions.some((fn) => fn.file.endsWith("echo.ts"))).toBe(true)
  })

  it("takes the script and its arguments without --", () => {
    const out = join(paths.dir, "no-dashes.json")
    const result = run(["--no-report", "-o", out, "child.mjs", "9"])
    expect(result.code).toBe(0)
    expect(callsOfWork(decodeFile(out))).toEqual([9n, 9n])
  })

  it("profiles a script outside the current folder too", () => {
    const elsewhere = join(paths.dir, "elsewhere")
    mkdirSync(elsewhere)
    const result = runBin(["run", "--no-report", "--", "../programs/child.mjs", "6"], { cwd: elsewhere })
    expect(result.code).toBe(0)
    expect(callsOfWork(decodeFile(join(elsewhere, "child.mjs.lineprof.json")))).toEqual([6n, 6n])
  })

  it("node <script> as a command: the output is named after the script, which is profiled even outside the current folder", () => {
    const elsewhere = join(paths.dir, "node-command")
    mkdirSync(elsewhere)
    const result = runBin(["run", "--no-report", "--", process.execPath, "--no-warnings", "../programs/child.mjs", "4"], { cwd: elsewhere })
    expect(result.code).toBe(0)
    expect(result.stderr).toBe("lineprof: wrote child.mjs.lineprof.json (1 stats file merged)\n")
    expect(callsOfWork(decodeFile(join(elsewhere, "child.mjs.lineprof.json")))).toEqual([4n, 4n])
  })

  it("--exclude leaves matching files unprofiled", () => {
    const out = join(paths.dir, "excluded.json")
    const result = run(["--no-report", "--exclude", "lib.mjs", "-o", out, "--", "threads.mjs"])
    expect(result.code).toBe(3)
    const profile = decodeFile(out)
    expect(callsOfWork(profile)).toEqual([undefined, undefined])
    expect(profile.functions.some((fn) => fn.file.endsWith("threads.mjs"))).toBe(true)
  })

  it("--format html writes the HTML report next to the stats file", () => {
    const out = join(paths.dir, "html-run.json")
    const result = run(["--format", "html", "-o", out, "--", "child.mjs", "2"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("")
    const html = readText(join(paths.dir, "html-run.html"))
    expect(html.toLowerCase()).toContain("<!doctype html>")
    expect(html).toContain("work")
  })

  it("a command that starts no Node process: its exit code, a warning, no stats file", () => {
    const out = join(paths.dir, "none.json")
    const result = run(["-o", out, "--", "sh", "-c", "echo hi; exit 4"])
    expect(result.code).toBe(4)
    expect(result.stdout).toBe("hi\n")
    expect(result.stderr).toContain("lineprof: warning: no stats were recorded")
    expect(existsSync(out)).toBe(false)
  })

  it("a script with top-level code only: its exit code, and a warning that says top-level code is not profiled", () => {
    const result = run(["--", "toplevel.mjs"])
    expect(result.code).toBe(5)
    expect(result.stderr).toBe(
      "lineprof: warning: no stats were recorded: no function of a profiled file ran (top-level code is not profiled; " +
        "see --include / --exclude), or no Node process started; nothing written\n"
    )
  })

  it("a missing script or command: one line, exit 1", () => {
    const missingScript = run(["--", "nope.mjs"])
    expect(missingScript.code).toBe(1)
    expect(missingScript.stderr).toBe("lineprof: nope.mjs: no such script\n")
    const missingCommand = run(["--", "no-such-command-lineprof"])
    expect(missingCommand.code).toBe(1)
    expect(missingCommand.stderr).toBe("lineprof: no-such-command-lineprof: cannot run: command not found\n")
  })

  it("an output in a folder that does not exist fails before the program starts: one line, exit 1", () => {
    const result = run(["-o", "no-such-folder/threads.json", "--", "threads.mjs"])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe("lineprof: no-such-folder/threads.json: cannot write: folder no-such-folder does not exist\n")
  })

  it("a reader that closes stderr early (2>&1 | head): the stats file is written, the temporary folder removed, the program's code kept", async () => {
    const tmp = join(paths.dir, "tmp-epipe")
    mkdirSync(tmp)
    const out = join(paths.dir, "epipe.json")
    const child = startBin(["run", "-o", out, "--", "child.mjs", "7"], { cwd: paths.programs, env: { TMPDIR: tmp } })
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    // Closed before lineprof writes anything: the report and the last line both meet EPIPE.
    child.stderr.destroy()
    expect(await exited).toBe(0)
    expect(callsOfWork(decodeFile(out))).toEqual([7n, 7n])
    expect(readdirSync(tmp)).toEqual([])
  })

  it("removes its temporary stats folder", () => {
    const tmp = join(paths.dir, "tmp")
    mkdirSync(tmp)
    const out = join(paths.dir, "tmp-check.json")
    const result = runBin(["run", "--no-report", "-o", out, "--", "child.mjs", "1"], { cwd: paths.programs, env: { TMPDIR: tmp } })
    expect(result.code).toBe(0)
    expect(callsOfWork(decodeFile(out))).toEqual([1n, 1n])
    expect(readdirSync(tmp)).toEqual([])
  })
})
