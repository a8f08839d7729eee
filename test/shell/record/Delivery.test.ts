import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as Result from "effect/Result"
import * as Profile from "../../../src/core/Profile.ts"
import * as StatsFile from "../../../src/core/StatsFile.ts"
import * as Control from "../../../src/shell/record/Control.ts"
import { fixturesDir, hitsOf, registerPath, runFixture, statsFileOwner } from "../../fixtures/engine/run.ts"
import { makeTempDir } from "../../support/TempDir.ts"

const faultsDir = path.join(fixturesDir, "..", "faults")

/**
 * Runs test/fixtures/faults/spin.mjs (busy for ever once "ready") under the
 * preload in a run folder, then does what `lineprof run` does on a signal:
 * signals the program and asks for a stop. Resolves with how it ended and
 * how long after the signal, and the stats files left.
 */
const stopBusy = (signal: Control.StopSignal, args: ReadonlyArray<string> = [], killAfterMs = 20_000) => {
  const dir = mkdtempSync(path.join(tmpdir(), "lineprof-test-"))
  const env: Record<string, string | undefined> = { ...process.env, LINEPROF_DIR: dir, LINEPROF_INTERVAL_MS: "50", ...Control.runEnv }
  delete env["NODE_OPTIONS"]
  const child = spawn(process.execPath, ["--import", registerPath, path.join(faultsDir, "spin.mjs"), ...args], {
    cwd: faultsDir,
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  let signalledAtMs = 0
  child.stderr.on("data", (chunk) => (stderr += chunk))
  child.stdout.on("data", (chunk) => {
    stdout += chunk
    if (signalledAtMs === 0 && /^ready$/m.test(stdout)) {
      signalledAtMs = performance.now()
      killer = setTimeout(() => child.kill("SIGKILL"), killAfterMs)
      child.kill(signal)
      Control.requestStop(dir, signal)
    }
  })
  // From the signal on, `killAfterMs`; before it, a minute to start on a loaded machine.
  let killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stopMs: number; stdout: string; stderr: string; files: Array<string>; profiles: Array<Profile.Profile> }>((resolve) => {
    child.on("close", (code, exitSignal) => {
      clearTimeout(killer)
      const stopMs = performance.now() - signalledAtMs
      const files = readdirSync(dir)
      const profiles = files.filter((name) => /^\d+-\d+-[0-9a-f]+\.json$/.test(name)).map((name) => {
        const decoded = StatsFile.decode(readFileSync(path.join(dir, name), "utf8"), name)
        if (Result.isFailure(decoded)) throw new Error(decoded.failure)
        return decoded.success
      })
      rmSync(dir, { recursive: true, force: true })
      resolve({ code, signal: exitSignal, stopMs, stdout, stderr, files, profiles })
    })
  })
}

const N = 500

/** Each (pid, thread) delivered exactly one stats file. */
const owners = (statsFiles: ReadonlyArray<string>): Array<string> => {
  const list = statsFiles.map((name) => {
    const owner = statsFileOwner(name)
    return `${owner.pid}-${owner.threadId}`
  })
  assert.strictEqual(new Set(list).size, list.length, `two stats files for one thread: ${statsFiles.join(", ")}`)
  return list
}

const seedHits = (profile: Profile.Profile, childFirstLine: number, power3Line: number) => {
  assert.deepStrictEqual(hitsOf(profile, "child"), {
    [childFirstLine]: N,
    [childFirstLine + 1]: N,
    [childFirstLine + 2]: N
  })
  assert.deepStrictEqual(hitsOf(profile, "power3"), { [power3Line]: N })
}

describe("Delivery", () => {
  it("a worker thread delivers its own stats file", async () => {
    const run = await runFixture("worker/main.mjs", [String(N)])
    assert.strictEqual(run.code, 0)
    assert.deepStrictEqual(run.stdout.split("\n").slice(1), ["worker exit 0", ""])
    // Thread ids are the process's: lineprof's keeper thread takes one too.
    const threads = owners(run.statsFiles).map((owner) => Number(owner.split("-")[1]))
    assert.strictEqual(threads.length, 2)
    assert.include(threads, 0)
    seedHits(run.merged, 8, 4)
    assert.deepStrictEqual(run.allFiles.filter((name) => name.endsWith(".tmp")), [])
  })

  it("a worker terminate()d mid-work: the main thread delivers its counts so far, once", async () => {
    const run = await runFixture("terminate/main.mjs", [String(N)])
    assert.strictEqual(run.code, 0)
    assert.match(run.stdout, /^worker says \d+\nterminated 1\n$/)
    const threads = owners(run.statsFiles).map((owner) => Number(owner.split("-")[1]))
    assert.isTrue(threads.some((id) => id !== 0))
    seedHits(run.merged, 8, 4)
    // work() was stopped inside Atomics.wait (line 17): the lines up to it ran, the return did not.
    assert.deepStrictEqual(hitsOf(run.merged, "work"), { 14: 1, 15: N + 1, 17: 1 })
  })

  it("a worker started by a worker and terminate()d, and a worker that throws, deliver too", async () => {
    const run = await runFixture("nested/main.mjs", [String(N)])
    assert.strictEqual(run.code, 0)
    assert.deepStrictEqual(run.stdout.split("\n").sort(), ["", "outer exit 0", "thrower error thrown in a worker"])
    const threads = owners(run.statsFiles).map((owner) => Number(owner.split("-")[1]))
    assert.strictEqual(threads.length, 4)
    assert.include(threads, 0)
    // outer, inner and thrower each ran the seed N times.
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 6: 3 * N, 7: 3 * N, 8: 3 * N })
    assert.deepStrictEqual(hitsOf(run.merged, "run"), { 12: 3, 13: 3 * (N + 1), 14: 3 })
  })

  it("a child process killed with SIGTERM delivers, and still dies of the signal", async () => {
    const run = await runFixture("child/main.mjs", [String(N), "SIGTERM"])
    assert.match(run.stdout, /^child says \d+\nchild exit null SIGTERM\n$/)
    assert.strictEqual(run.code, 0)
    assert.strictEqual(owners(run.statsFiles).length, 2)
    seedHits(run.merged, 6, 2)
  })

  it("SIGINT too", async () => {
    const run = await runFixture("child/main.mjs", [String(N), "SIGINT"])
    assert.match(run.stdout, /child exit null SIGINT\n$/)
    seedHits(run.merged, 6, 2)
  })

  it("SIGTERM to the profiled process itself: exit by the signal, stats delivered", async () => {
    const plain = await runFixture("ending/app.mjs", [String(N), "wait"], { profile: false, killWhenReady: "SIGTERM" })
    const run = await runFixture("ending/app.mjs", [String(N), "wait"], { killWhenReady: "SIGTERM" })
    assert.strictEqual(plain.signal, "SIGTERM")
    assert.strictEqual(run.signal, "SIGTERM")
    assert.strictEqual(run.stdout, plain.stdout)
    seedHits(run.merged, 10, 6)
  })

  it("a program with its own SIGTERM handler keeps it: its exit code, and the stats", async () => {
    const plain = await runFixture("ending/app.mjs", [String(N), "handler"], { profile: false, killWhenReady: "SIGTERM" })
    const run = await runFixture("ending/app.mjs", [String(N), "handler"], { killWhenReady: "SIGTERM" })
    assert.strictEqual(plain.code, 7)
    assert.strictEqual(run.code, 7)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.strictEqual(run.statsFiles.length, 1)
    seedHits(run.merged, 10, 6)
  })

  it("a signal-exit style listener still raises the signal again, so the program dies of it", async () => {
    const plain = await runFixture("ending/app.mjs", [String(N), "defer"], { profile: false, killWhenReady: "SIGTERM" })
    const run = await runFixture("ending/app.mjs", [String(N), "defer"], { killWhenReady: "SIGTERM" })
    assert.strictEqual(plain.signal, "SIGTERM")
    assert.strictEqual(run.signal, "SIGTERM")
    seedHits(run.merged, 10, 6)
  })

  it("process.exit inside a profiled function, and an uncaught exception", async () => {
    const exited = await runFixture("ending/app.mjs", [String(N), "exit"])
    assert.strictEqual(exited.code, 5)
    seedHits(exited.merged, 10, 6)
    assert.deepStrictEqual(hitsOf(exited.merged, "finish"), { 16: 1 })

    const plain = await runFixture("ending/app.mjs", [String(N), "throw"], { profile: false })
    const threw = await runFixture("ending/app.mjs", [String(N), "throw"])
    assert.strictEqual(threw.code, 1)
    assert.strictEqual(threw.stdout, plain.stdout)
    // The stack trace names the same line as without lineprof.
    const frameLine = (stderr: string) => /at finish \(.*app\.mjs:(\d+):/.exec(stderr)?.[1]
    assert.strictEqual(frameLine(threw.stderr), "17")
    assert.strictEqual(frameLine(plain.stderr), "17")
    seedHits(threw.merged, 10, 6)
  })

  it("profiled code in the program's own exit handler counts (the final write comes after every exit listener)", async () => {
    const run = await runFixture("ending/app.mjs", [String(N), "exitHandler"])
    assert.strictEqual(run.code, 0)
    assert.match(run.stdout, /in exit handler 64\n$/)
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 10: N + 1, 11: N + 1, 12: N + 1 })
    assert.deepStrictEqual(hitsOf(run.merged, "power3"), { 6: N + 1 })
  })

  it("a stats folder that cannot be made: one warning line, the program's output and exit code unchanged", async () => {
    const blocker = path.join(makeTempDir("delivery"), "a-file")
    writeFileSync(blocker, "")
    const plain = await runFixture("esm/app.mjs", ["10"], { profile: false })
    const run = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_DIR: path.join(blocker, "stats") } })
    assert.strictEqual(run.code, plain.code)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.match(run.stderr, /^lineprof: cannot use the stats folder .*a-file\/stats: ENOTDIR\n$/)
  })

  it("SIGKILL loses at most the last flush interval", async () => {
    // The child lives in ../child: include the whole fixture folder.
    const run = await runFixture("kill/main.mjs", [String(N), "child"], { env: { LINEPROF_INTERVAL_MS: "50", LINEPROF_INCLUDE: fixturesDir } })
    assert.strictEqual(run.stdout, "child exit null SIGKILL\n")
    seedHits(run.merged, 6, 2)
  })

  it("SIGKILL: a worker that never yields is flushed by its main thread", async () => {
    const run = await runFixture("kill/main.mjs", [String(N), "busy"], { env: { LINEPROF_INTERVAL_MS: "50" } })
    assert.strictEqual(run.stdout, "child exit null SIGKILL\n")
    seedHits(run.merged, 8, 4)
  })

  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    it(`a busy main thread and ${signal} under run: the keeper writes the final file and the process dies of the signal`, async () => {
      const run = await stopBusy(signal)
      assert.strictEqual(run.signal, signal, run.stderr)
      assert.strictEqual(run.stderr, "")
      // The machine is shared: a plain process dies at once, the keeper needs its final write and a few ms.
      assert.isBelow(run.stopMs, 5_000)
      assert.strictEqual(run.profiles.length, 1)
      const step = hitsOf(Profile.ProfileReducer.combineAll(run.profiles), "step")
      assert.isAbove(step[8]!, 1)
      // Not alive any more, and nothing half-written.
      assert.deepStrictEqual(run.files.filter((name) => name.startsWith(".") && name !== Control.STOP_FILE), [])
    })
  }

  it("a busy program with its own SIGTERM listener is left alone, as without lineprof", async () => {
    const run = await stopBusy("SIGTERM", ["handler"], 3_000)
    // It ran until the helper's SIGKILL: lineprof did not stop it.
    assert.strictEqual(run.signal, "SIGKILL")
    assert.strictEqual(run.stdout, "ready\n")
  })

  it("SIGKILL after an await: the Wait time was flushed although no hit was added since", async () => {
    const run = await runFixture(path.join("..", "faults", "wait.mjs"), [], { env: { LINEPROF_INTERVAL_MS: "50" } })
    assert.strictEqual(run.signal, "SIGKILL")
    const pause = run.merged.functions.find((fn) => fn.name === "pause")!
    const awaited = pause.lines.find((line) => line.lineNo === 9)!
    assert.isAtLeast(Number(awaited.waitNs), 250e6)
  })

  it("worker threads that record nothing leave nothing behind once they ended", async () => {
    const run = await runFixture(path.join("..", "faults", "workers.mjs"), ["20"], { env: { LINEPROF_INTERVAL_MS: "50" } })
    assert.strictEqual(run.code, 0, run.stderr)
    // The keeper keeps the main thread's own record only.
    assert.deepStrictEqual(JSON.parse(run.stdout), { workers: 0, keeperRecords: 1 })
  })

  describe("the stats folder", () => {
    const plainOf = () => runFixture("esm/app.mjs", ["10"], { profile: false })

    it("run's folder is never re-created: a missing one gets one line and no stats", async () => {
      const gone = path.join(makeTempDir("delivery"), "run-folder")
      const plain = await plainOf()
      const run = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_DIR: gone, ...Control.runEnv } })
      assert.strictEqual(run.code, plain.code)
      assert.strictEqual(run.stdout, plain.stdout)
      assert.isFalse(existsSync(gone))
      assert.match(run.stderr, /^lineprof: the stats folder .*run-folder of lineprof run is gone[^\n]*\n$/)
    })

    it("run's folder writable by others is refused", async () => {
      const open = makeTempDir("delivery")
      chmodSync(open, 0o777)
      const run = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_DIR: open, ...Control.runEnv } })
      assert.deepStrictEqual(readdirSync(open), [])
      assert.match(run.stderr, /^lineprof: the stats folder .* of lineprof run is writable by others; stats are not written\n$/)
    })

    it.runIf(process.getuid?.() === 0)("a folder of another user is refused, under run or not", async () => {
      for (const env of [{}, Control.runEnv]) {
        const theirs = makeTempDir("delivery")
        chownSync(theirs, 65534, 65534)
        const run = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_DIR: theirs, ...env } })
        assert.deepStrictEqual(readdirSync(theirs), [])
        assert.match(run.stderr, /^lineprof: the stats folder .* belongs to another user \(uid 65534\); stats are not written\n$/)
      }
    })

    it("outside run, a missing folder is made, closed to group and others", async () => {
      const parent = makeTempDir("delivery")
      const made = path.join(parent, "a", "stats")
      const run = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_DIR: made } })
      assert.strictEqual(run.stderr, "")
      assert.strictEqual(statSync(made).mode & 0o777, 0o700)
      assert.strictEqual(readdirSync(made).filter((name) => name.endsWith(".json")).length, 1)
    })
  })

  it("a profiled process is marked alive in run's folder while it runs, and unmarked when it ends", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lineprof-test-"))
    const env: Record<string, string | undefined> = { ...process.env, LINEPROF_DIR: dir, LINEPROF_INTERVAL_MS: "50", ...Control.runEnv }
    delete env["NODE_OPTIONS"]
    const child = spawn(process.execPath, ["--import", registerPath, path.join(faultsDir, "spin.mjs")], { cwd: faultsDir, env, stdio: ["ignore", "pipe", "inherit"] })
    await new Promise<void>((resolve) => child.stdout.on("data", (chunk) => /ready/.test(String(chunk)) && resolve()))
    assert.deepStrictEqual(Control.livePids(dir), [child.pid!])
    child.kill("SIGKILL")
    await new Promise((resolve) => child.on("close", resolve))
    // Its mark is left (SIGKILL), but it does not run any more.
    assert.deepStrictEqual(Control.livePids(dir), [])
    const quiet = await runFixture("esm/app.mjs", ["10"], { env: { ...Control.runEnv } })
    assert.deepStrictEqual(quiet.allFiles.filter((name) => name.startsWith(".lineprof-alive")), [])
    rmSync(dir, { recursive: true, force: true })
  })
})
