/**
 * `lineprof run` end to end, on what surrounds the program: signals sent to
 * lineprof (passed on once, never twice), processes left behind, outputs
 * checked before the program starts, a full disk, a failed final write,
 * two runs writing the same output, default output names, the Node version
 * check and the advice for test runners. Fixtures: test/fixtures/cli/run.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { describe, expect, it } from "vitest"
import type * as Profile from "../../src/core/Profile.ts"
import { binPath, runBin, startBin } from "./bin.ts"
import { decodeFile, usePrograms } from "./run-programs.ts"

const paths = usePrograms()

/** Calls of `work` (lib.mjs): the hits of its line 4, which runs once a call. */
const callsOfWork = (profile: Profile.Profile): bigint | undefined =>
  profile.functions.find((fn) => fn.name === "work" && fn.file.endsWith("lib.mjs"))?.lines.find((line) => line.lineNo === 4)?.hits

const run = (args: ReadonlyArray<string>, env?: Record<string, string | undefined>) =>
  runBin(["run", ...args], { cwd: paths.programs, ...(env === undefined ? {} : { env }) })

/** Starts `lineprof run …` in a process group of its own, waits for "ready" on stdout, signals, and returns how lineprof ended. */
const signalled = async (args: ReadonlyArray<string>, send: (pid: number) => void) => {
  const child = startBin(["run", ...args], { cwd: paths.programs, detached: true })
  let stdout = ""
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  await new Promise<void>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes("ready\n")) resolve()
    })
  })
  send(child.pid!)
  const { code, signal } = await exited
  return { code, signal, stdout, stderr }
}

describe("lineprof run: signals sent to lineprof", () => {
  it("kill -INT <lineprof pid> stops the run: the program gets the SIGINT, dies of it, and its stats are written (exit 130)", async () => {
    const out = join(paths.dir, "int-pid.json")
    const result = await signalled(["--no-report", "-o", out, "--", "sleeper.mjs"], (pid) => process.kill(pid, "SIGINT"))
    expect(result).toEqual({ code: 130, signal: null, stdout: "ready\n", stderr: `lineprof: wrote ${out} (1 stats file merged)\n` })
    expect(callsOfWork(decodeFile(out))).toBe(50n)
  })

  it("kill -HUP <lineprof pid> is passed on too (exit 129)", async () => {
    const out = join(paths.dir, "hup-pid.json")
    const result = await signalled(["--no-report", "-o", out, "--", "sleeper.mjs"], (pid) => process.kill(pid, "SIGHUP"))
    expect(result.code).toBe(129)
    expect(callsOfWork(decodeFile(out))).toBe(50n)
  })

  it("a program with its own SIGINT handler gets exactly one SIGINT, whether lineprof's pid or the whole group was signalled", async () => {
    const toPid = await signalled(["--no-report", "-o", join(paths.dir, "count-pid.json"), "--", "sigcount.mjs"], (pid) => process.kill(pid, "SIGINT"))
    expect(toPid.stdout).toBe("ready\nsigints 1\n")
    expect(toPid.code).toBe(0)
    const out = join(paths.dir, "count-group.json")
    const toGroup = await signalled(["--no-report", "-o", out, "--", "sigcount.mjs"], (pid) => process.kill(-pid, "SIGINT"))
    expect(toGroup.stdout).toBe("ready\nsigints 1\n")
    expect(toGroup.code).toBe(0)
    expect(callsOfWork(decodeFile(out))).toBe(20n)
  })

  it("Ctrl-C typed on a terminal (util-linux script gives it a pty) reaches the program once", async () => {
    const out = join(paths.dir, "count-tty.json")
    // `script -c` runs the command through $SHELL; `exec` makes lineprof the terminal's session leader whatever
    // that shell is (dash, /bin/sh on Debian, would otherwise stay in the foreground group and die of the Ctrl-C).
    const command = `exec ${[process.execPath, binPath, "run", "--no-report", "-o", out, "--", "sigcount.mjs"].map((arg) => `'${arg}'`).join(" ")}`
    const terminal = spawn("script", ["-qfec", command, "/dev/null"], { cwd: paths.programs, env: { ...process.env, NO_COLOR: "1" } })
    let typed = ""
    let pressed = false
    const exited = new Promise<number | null>((resolve) => terminal.once("exit", resolve))
    // The Ctrl-C byte is typed once the program is ready: the terminal turns it into SIGINT for its foreground group.
    terminal.stdout.on("data", (chunk: Buffer) => {
      typed += chunk.toString()
      if (!pressed && typed.includes("ready")) {
        pressed = true
        terminal.stdin.write("\x03")
      }
    })
    expect(await exited, `the terminal showed ${JSON.stringify(typed)}`).toBe(0)
    expect(typed).toContain("sigints 1")
    expect(typed).not.toContain("sigints 2")
    expect(callsOfWork(decodeFile(out))).toBe(20n)
  })
})

describe("lineprof run: what the program leaves behind", () => {
  it("says how many processes of the program were still running when it exited", () => {
    const out = join(paths.dir, "detach.json")
    const result = run(["--no-report", "-o", out, "--", "detach.mjs", "20000"])
    const detachedPid = Number(/detached (\d+)/.exec(result.stdout)?.[1])
    try {
      expect(result.code).toBe(0)
      // The lingering child's periodic flush (after 1 s) may or may not be in the folder yet.
      expect(result.stderr).toMatch(new RegExp(
        `^lineprof: 1 process of the program still running \\(pid ${detachedPid}\\): its stats are not in the report\n` +
          `lineprof: wrote .*detach\\.json \\([12] stats files? merged\\)\n$`
      ))
    } finally {
      process.kill(detachedPid, "SIGKILL")
    }
  })
})

describe("lineprof run: outputs", () => {
  it("--format html whose HTML path is a folder fails before the program starts: one line, exit 1", () => {
    mkdirSync(join(paths.dir, "taken.html"))
    const result = run(["--format", "html", "-o", join(paths.dir, "taken.json"), "--", "threads.mjs"])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe(`lineprof: ${join(paths.dir, "taken.html")}: is a folder; --format html writes the report to that path\n`)
  })

  it("a second run of the same script that ends after the first wrote the output writes <name>.2.json and says so", async () => {
    const gateA = join(paths.dir, "gate-a")
    const gateB = join(paths.dir, "gate-b")
    writeFileSync(gateB, "")
    const first = startBin(["run", "--no-report", "--", "gated.mjs", "3", gateA], { cwd: paths.programs })
    let firstErr = ""
    first.stderr.on("data", (chunk: Buffer) => (firstErr += chunk.toString()))
    const firstExit = new Promise<number | null>((resolve) => first.once("exit", resolve))
    // The first run's program is running, so the first run has looked at the output already.
    await new Promise<void>((resolve) => first.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve()))
    const second = run(["--no-report", "--", "gated.mjs", "5", gateB])
    expect(second.stdout).toBe("ready\n")
    expect(second.stderr).toBe("lineprof: wrote gated.mjs.lineprof.json (1 stats file merged)\n")
    writeFileSync(gateA, "")
    expect(await firstExit).toBe(0)
    expect(firstErr).toBe(
      "lineprof: warning: gated.mjs.lineprof.json was written by another run while this one ran; this run's stats go to gated.mjs.lineprof.2.json\n" +
        "lineprof: wrote gated.mjs.lineprof.2.json (1 stats file merged)\n"
    )
    expect(callsOfWork(decodeFile(join(paths.programs, "gated.mjs.lineprof.json")))).toBe(5n)
    expect(callsOfWork(decodeFile(join(paths.programs, "gated.mjs.lineprof.2.json")))).toBe(3n)
  })

  it("a command's output is named after the command, never after a glob among its arguments", () => {
    const result = run(["--no-report", "--", process.execPath, "--test", "ntest/*.test.mjs"])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^lineprof: wrote node\.lineprof\.json \(\d+ stats files? merged\)\n$/)
    expect(callsOfWork(decodeFile(join(paths.programs, "node.lineprof.json")))).toBe(5n)
    expect(readdirSync(paths.programs).filter((name) => name.includes("*"))).toEqual([])
  })
})

/** Root can mount a small tmpfs: a real full disk. */
const canMount = (() => {
  if (process.getuid?.() !== 0) return false
  const probe = mkdtempSync(join(tmpdir(), "lineprof-mount-probe-"))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stdio: "ignore" })
    execFileSync("umount", [probe], { stdio: "ignore" })
    return true
  } catch {
    return false
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
})()

/** Runs `body` with a fresh tmpfs of `size` mounted on a new folder. */
const withTmpfs = (size: string, body: (dir: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), "lineprof-tmpfs-"))
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=1777`, "tmpfs", dir])
  try {
    body(dir)
  } finally {
    execFileSync("umount", [dir])
    rmSync(dir, { recursive: true, force: true })
  }
}

describe.runIf(canMount)("lineprof run: a full disk (a small tmpfs, as root)", () => {
  it("stats that found no room: says the device is full and exits 1, not 'no function ran' and 0", () => {
    withTmpfs("1m", (dir) => {
      const out = join(paths.dir, "full.json")
      const result = run(["--no-report", "-o", out, "--", "fill.mjs"], { TMPDIR: dir })
      expect(result.stdout).toBe("ENOSPC\n")
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/\nlineprof: no space left on the device of .*lineprof-\w+: the program's stats could not be written\n$/)
      expect(result.stderr).not.toContain("no function")
      expect(existsSync(out)).toBe(false)
    })
  })

  it("a final -o write that fails keeps the run's stats in the temporary folder and says where", () => {
    withTmpfs("64k", (dir) => {
      writeFileSync(join(dir, "filler"), Buffer.alloc(0))
      try {
        writeFileSync(join(dir, "filler"), Buffer.alloc(1 << 20))
      } catch {
        // Full now.
      }
      const out = join(dir, "out.json")
      const result = run(["--no-report", "-o", out, "--", "child.mjs", "7"])
      expect(result.code).toBe(1)
      const kept = /the run's stats are kept in (\S+) \(lineprof merge -o <file> \S+\)\n$/.exec(result.stderr)?.[1]
      expect(kept).toBeDefined()
      expect(result.stderr).toContain(`${out}: cannot write: no space left on the device`)
      try {
        const files = readdirSync(kept!).filter((name) => name.endsWith(".json"))
        expect(files.length).toBe(1)
        expect(callsOfWork(decodeFile(join(kept!, files[0]!)))).toBe(7n)
      } finally {
        rmSync(kept!, { recursive: true, force: true })
      }
    })
  })
})

describe("lineprof run: the Node that runs the program", () => {
  const oldNode = "/usr/bin/node"
  const oldVersion = existsSync(oldNode) ? spawnSync(oldNode, ["--version"], { encoding: "utf8" }).stdout.trim() : ""
  const isOld = /^v(?:1\d|20|21|22\.(?:1[0-8]|\d))\./.test(oldVersion)

  it.runIf(isOld)("a command under a Node older than 22.19 on PATH: one line naming it, exit 2, the program never started", () => {
    const result = run(["--", "node", "-e", "process.stdout.write('started')"], { PATH: `/usr/bin${delimiter}/bin` })
    expect(result).toEqual({ code: 2, signal: null, stdout: "", stderr: `lineprof: lineprof needs Node >= 22.19 (found ${oldVersion}: ${oldNode})\n` })
    const named = run(["--", oldNode, "child.mjs"])
    expect(named.code).toBe(2)
    expect(named.stderr).toBe(`lineprof: lineprof needs Node >= 22.19 (found ${oldVersion}: ${oldNode})\n`)
  })
})

describe("lineprof run: test runners that hide their modules from Node's hooks", () => {
  it("when vitest or jest ran and nothing was recorded, the warning says what to add", () => {
    const path = `${join(paths.programs, "runners")}${delimiter}${process.env["PATH"] ?? ""}`
    const vitest = run(["--", "vitest", "run"], { PATH: path })
    expect(vitest.code).toBe(0)
    expect(vitest.stderr).toBe(
      "lineprof: warning: no stats were recorded: vitest runs test and source files itself: add lineprof's Vite plugin " +
        `to vitest.config.ts (import lineprof from "lineprof/vite"; plugins: [lineprof()]); nothing written\n`
    )
    const jest = run(["--", "jest"], { PATH: path })
    expect(jest.stderr).toBe(
      "lineprof: warning: no stats were recorded: jest loads test and source files itself: add lineprof's transform to " +
        `jest.config.js (transform: { "\\\\.[cm]?[jt]sx?$": ["lineprof/jest", { transformer: "babel-jest" }] }); nothing written\n`
    )
  })
})
