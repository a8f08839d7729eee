/**
 * Fault injection: test/fixtures/faults/app.mjs (a main thread with two
 * worker threads and a forked child, busy and idle phases) under the real
 * bin, killed with SIGKILL, SIGTERM and SIGINT sent to its process group at
 * random moments, a few runs at a time.
 * - No stats file is ever invalid: every file left is decoded.
 * - SIGTERM / SIGINT stop the program about as fast as they stop it without
 *   lineprof (measured here, on the same shared machine, with a margin).
 * - SIGKILL loses at most one interval of any thread of any process, once
 *   the process's keeper is up (it marks the process alive then): the program
 *   logs its own call counts with times, and each thread's stats file holds
 *   at least the count it had one interval (plus scheduling slack) before the kill.
 * The test plays the part `lineprof run` plays on a signal (Control.requestStop
 * on its stats folder, which `--verbose` names), so that it also holds where
 * run does not make that call itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs"
import { constants as osConstants, tmpdir } from "node:os"
import * as path from "node:path"
import * as Result from "effect/Result"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import * as Control from "../../src/shell/record/Control.ts"
import { repoRoot, startBin } from "./bin.ts"

const app = path.join(repoRoot, "test", "fixtures", "faults", "app.mjs")
const INTERVAL_MS = 200
/** What a SIGKILL may lose: one interval, plus scheduling slack on a machine shared by many test runs. */
const LOSS_ALLOWED_MS = INTERVAL_MS + 600
/** How much later than a plain program a profiled one may stop (final writes, a loaded machine). */
const STOP_MARGIN_MS = 2_500

const decodeFile = (file: string): Profile.Profile => {
  const decoded = StatsFile.decode(readFileSync(file, "utf8"), file)
  if (Result.isFailure(decoded)) throw new Error(`invalid stats file ${file}: ${decoded.failure}`)
  return decoded.success
}

const tickHits = (profile: Profile.Profile): number =>
  profile.functions
    .filter((fn) => fn.name === "tick")
    .flatMap((fn) => fn.lines)
    .reduce((total, line) => total + Number(line.hits), 0)

/** Each thread's log: `[timeMs, calls]` entries, by `<pid>-<threadId>`. */
const readLogs = (side: string): Map<string, Array<readonly [number, number]>> => {
  const logs = new Map<string, Array<readonly [number, number]>>()
  for (const name of readdirSync(side)) {
    if (!name.endsWith(".log")) continue
    const entries = readFileSync(path.join(side, name), "utf8").split("\n").filter((line) => line !== "").map((line) => {
      const [timeMs, calls] = line.split(" ").map(Number)
      return [timeMs!, calls!] as const
    })
    logs.set(name.slice(0, -4), entries)
  }
  return logs
}

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))


const waitFor = async (condition: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(5)
  }
  return true
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })))

/** How long after `signal` the program's main process is gone, in a plain run (no lineprof). */
const plainStopMs = async (signal: NodeJS.Signals): Promise<number> => {
  const side = mkdtempSync(path.join(tmpdir(), "lineprof-faults-"))
  let child: ChildProcess | undefined
  try {
    child = spawn(process.execPath, [app], { env: { ...process.env, FAULTS_SIDE: side }, detached: true, stdio: "ignore" })
    const done = exited(child)
    await waitFor(() => existsSync(path.join(side, "main.pid")), 20_000)
    await sleep(500 + Math.random() * 500)
    const signalledMs = performance.now()
    process.kill(-child.pid!, signal)
    await done
    const stopMs = performance.now() - signalledMs
    const pids = [...readLogs(side).keys()].map((thread) => Number(thread.split("-")[0]))
    assert.isTrue(await waitFor(() => !pids.some(isRunning), 5_000), `a plain process outlived ${signal}`)
    return stopMs
  } finally {
    try {
      if (child !== undefined) process.kill(-child.pid!, "SIGKILL")
    } catch {
      // All gone.
    }
    rmSync(side, { recursive: true, force: true })
  }
}

interface Outcome {
  readonly signal: NodeJS.Signals
  readonly stopMs: number | undefined
  /** Threads whose SIGKILL loss was checked. */
  readonly checked: number
}

/**
 * One profiled run under the real bin, killed with `signal` at a random
 * moment: from the start (`fromStart`) or once the program's keeper is up.
 */
const faultRun = async (signal: NodeJS.Signals, fromStart: boolean): Promise<Outcome> => {
  const scratch = mkdtempSync(path.join(tmpdir(), "lineprof-faults-"))
  const side = path.join(scratch, "side")
  const output = path.join(scratch, "out.json")
  mkdirSync(side)
  const child = startBin(["run", "--verbose", "--no-report", "--interval", `${INTERVAL_MS}ms`, "-o", output, "--", app], {
    cwd: scratch,
    env: { FAULTS_SIDE: side },
    detached: true
  })
  let stderr = ""
  child.stderr.on("data", (chunk) => (stderr += chunk))
  child.stdout.resume()
  const done = exited(child)
  const statsDirOf = () => /LINEPROF_DIR=(\S+)/.exec(stderr)?.[1]
  try {
    assert.isTrue(await waitFor(() => statsDirOf() !== undefined, 30_000), stderr)
    const statsDir = statsDirOf()!
    const mainPidFile = path.join(side, "main.pid")
    if (fromStart) {
      // A random moment from the start: maybe before the program or its keeper is up.
      await sleep(Math.random() * 3_000)
    } else {
      // A random moment once the program's keeper is up.
      const up = () => existsSync(mainPidFile) && existsSync(path.join(statsDir, `.lineprof-alive-${readFileSync(mainPidFile, "utf8")}`))
      assert.isTrue(await waitFor(up, 60_000), `the program's keeper did not start: ${stderr}`)
      await sleep(Math.random() * 1_500)
    }
    // A pid file caught between its creation and its write reads empty: no pid then (0 would be our own group).
    const mainPidText = existsSync(mainPidFile) ? readFileSync(mainPidFile, "utf8") : ""
    const mainPid = /^\d+$/.test(mainPidText) ? Number(mainPidText) : undefined
    const killedAtMs = Date.now()
    const signalledMs = performance.now()
    process.kill(-child.pid!, signal)
    if (signal === "SIGKILL") {
      await done
      let checked = 0
      // Everything died at once: what is in the stats folder is all there is.
      const logs = readLogs(side)
      const profiles = new Map<string, Profile.Profile>()
      for (const name of existsSync(statsDir) ? readdirSync(statsDir) : []) {
        const match = /^(\d+-\d+)-[0-9a-f]+\.json$/.exec(name)
        if (match !== null) profiles.set(match[1]!, decodeFile(path.join(statsDir, name)))
      }
      for (const [thread, entries] of logs) {
        // The keeper marks its process alive once it is up (it starts with the first
        // instrumented file; it takes a moment on a loaded machine): from then on a
        // SIGKILL loses at most one interval.
        const alive = path.join(statsDir, `.lineprof-alive-${thread.split("-")[0]}`)
        const upAtMs = existsSync(alive) ? statSync(alive).mtimeMs : Infinity
        if (upAtMs > killedAtMs - LOSS_ALLOWED_MS) continue
        // The calls this thread had made one allowed loss before the kill.
        const due = entries.filter(([timeMs]) => timeMs <= killedAtMs - LOSS_ALLOWED_MS).at(-1)?.[1]
        if (due === undefined || due === 0) continue
        checked++
        const profile = profiles.get(thread)
        assert.isDefined(profile, `no stats file from ${thread}, which had made ${due} calls ${LOSS_ALLOWED_MS} ms before the SIGKILL`)
        const hits = tickHits(profile!)
        assert.isAtLeast(hits, due, `${thread}: ${hits} hits in its stats file, ${due} calls ${LOSS_ALLOWED_MS} ms before the SIGKILL`)
      }
      rmSync(statsDir, { recursive: true, force: true })
      return { signal, stopMs: undefined, checked }
    }
    // Play run's part: ask the busy processes to stop.
    Control.requestStop(statsDir, signal as Control.StopSignal)
    let stopMs: number | undefined
    if (mainPid !== undefined) {
      if (!(await waitFor(() => !isRunning(mainPid), 15_000))) {
        const left = existsSync(statsDir) ? readdirSync(statsDir).join(" ") : "(gone)"
        assert.fail(`the program did not stop on ${signal}; stats folder: ${left}; stderr: ${stderr}`)
      }
      stopMs = performance.now() - signalledMs
    }
    const end = await done
    assert.strictEqual(end.code, 128 + osConstants.signals[signal], stderr)
    for (const thread of readLogs(side).keys()) {
      assert.isTrue(await waitFor(() => !isRunning(Number(thread.split("-")[0])), 5_000), `${thread} outlived the run`)
    }
    // The merged output, when the program got as far as running a profiled function, is valid.
    if (existsSync(output)) decodeFile(output)
    return { signal, stopMs: fromStart ? undefined : stopMs, checked: 0 }
  } finally {
    try {
      process.kill(-child.pid!, "SIGKILL")
    } catch {
      // All gone.
    }
    await done
    rmSync(scratch, { recursive: true, force: true })
  }
}

/** Runs `jobs` with at most `width` at a time. */
const pool = async <A>(jobs: ReadonlyArray<() => Promise<A>>, width: number): Promise<Array<A>> => {
  const results: Array<A> = []
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) {
      const k = next++
      results[k] = await jobs[k]!()
    }
  }))
  return results
}

describe("fault injection", () => {
  it("SIGKILL, SIGTERM and SIGINT at random moments: valid stats, fast stops, at most one interval lost", async () => {
    const plain = { SIGTERM: await plainStopMs("SIGTERM"), SIGINT: await plainStopMs("SIGINT") }
    const signals: Array<NodeJS.Signals> = [
      ...Array.from({ length: Number(process.env["FAULTS_KILL"] ?? 8) }, () => "SIGKILL" as const),
      ...Array.from({ length: Number(process.env["FAULTS_TERM"] ?? 6) }, () => "SIGTERM" as const),
      ...Array.from({ length: Number(process.env["FAULTS_INT"] ?? 6) }, () => "SIGINT" as const)
    ]
    // Every other SIGKILL comes at any moment from the start; the other kills once the keeper is up
    // (before that, a busy program waits for its keeper to stop: see the README).
    const outcomes = await pool(signals.map((signal, k) => () => faultRun(signal, signal === "SIGKILL" && k % 2 === 0)), 3)
    const stops = outcomes.filter((outcome) => outcome.stopMs !== undefined)
    console.log(
      `faults: plain stop SIGTERM ${plain.SIGTERM.toFixed(0)} ms, SIGINT ${plain.SIGINT.toFixed(0)} ms; profiled stops (ms): ${
        stops.map((outcome) => `${outcome.signal} ${outcome.stopMs!.toFixed(0)}`).join(", ")
      }`
    )
    // The SIGKILL check is not empty: some threads had their keeper up long enough before the kill.
    assert.isAbove(outcomes.reduce((total, outcome) => total + outcome.checked, 0), 0)
    for (const outcome of stops) {
      const plainMs = plain[outcome.signal as "SIGTERM" | "SIGINT"]
      assert.isAtMost(outcome.stopMs!, plainMs + STOP_MARGIN_MS, `${outcome.signal}: stopped in ${outcome.stopMs!.toFixed(0)} ms, plain ${plainMs.toFixed(0)} ms`)
    }
  }, 180_000)
})

describe("show and merge", () => {
  /** A valid stats file of `functions` functions of 10 lines: enough that reading it takes a while. */
  const bigStatsFile = (file: string, functions: number): void => {
    const profile = Profile.make(Array.from({ length: functions }, (_, k) => ({
      file: `/src/file${k % 50}.js`,
      name: `fn${k}`,
      firstLine: 1,
      lastLine: 10,
      fileHash: `hash${k % 50}`,
      source: Array.from({ length: 10 }, (_, line) => `  const value${line} = compute(${line}) // ${"x".repeat(40)}`),
      lines: Array.from({ length: 10 }, (_, line) => Profile.makeLine(line + 1, { hits: BigInt(k + line), timeNs: 1000n * BigInt(k + 1), waitNs: 0n }))
    })))
    writeFileSync(file, StatsFile.encode(profile))
  }

  for (const [command, signal] of [["show", "SIGTERM"], ["merge", "SIGINT"], ["show", "SIGHUP"]] as const) {
    it.runIf(existsSync("/proc/self/fd"))(`${command} dies of ${signal} at once while it reads, as a plain program does`, async () => {
      const scratch = mkdtempSync(path.join(tmpdir(), "lineprof-faults-"))
      try {
        const input = path.join(scratch, "big.json")
        bigStatsFile(input, 20_000)
        const args = command === "show" ? ["show", input] : ["merge", input, "-o", path.join(scratch, "out.json")]
        const child = startBin(args, { cwd: scratch })
        child.stdout.resume()
        child.stderr.resume()
        const done = exited(child)
        // Once it has the input open (it is reading: past start-up, where no listener exists yet).
        const reading = () => {
          try {
            return readdirSync(`/proc/${child.pid}/fd`).some((fd) => readlinkSync(`/proc/${child.pid}/fd/${fd}`) === input)
          } catch {
            return false
          }
        }
        assert.isTrue(await waitFor(reading, 60_000), `${command} never opened its input`)
        const signalledMs = performance.now()
        child.kill(signal)
        const end = await done
        assert.strictEqual(end.signal, signal)
        assert.isBelow(performance.now() - signalledMs, 1_000)
        // Atomic writes: no output, or a whole one.
        if (command === "merge" && existsSync(path.join(scratch, "out.json"))) decodeFile(path.join(scratch, "out.json"))
      } finally {
        rmSync(scratch, { recursive: true, force: true })
      }
    })
  }
})
