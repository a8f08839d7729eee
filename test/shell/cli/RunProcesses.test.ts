/**
 * RunProcesses.signalState: what /proc says of `lineprof run`'s witness
 * (was it sent the signal?), on real processes (a `cat` asleep on a pipe, a
 * stopped one with a signal pending, one that is gone) and on stat and status
 * texts of the shapes Linux writes.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as RunProcesses from "../../../src/shell/cli/RunProcesses.ts"

const status = (sigPnd: string, shdPnd: string) => `Name:\tcat\nState:\tS (sleeping)\nSigPnd:\t${sigPnd}\nShdPnd:\t${shdPnd}\nSigBlk:\t0000000000000000\n`
const stat = (name: string, state: string, flags: number) => `4242 (${name}) ${state} 1 4242 4242 0 -1 ${flags} 126 0 0 0`

const startCat = () => {
  const cat = spawn("cat", [], { stdio: ["pipe", "ignore", "ignore"] })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => cat.once("exit", (_code, signal) => resolve(signal)))
  return { cat, exited }
}

/** Reads the state until it is not `from` (a process just started or just signalled is briefly between states). */
const settled = async (pid: number, signal: NodeJS.Signals, from: ReadonlyArray<RunProcesses.SignalState>) => {
  for (let k = 0; k < 400; k++) {
    const state = RunProcesses.signalState(pid, signal)
    if (!from.includes(state)) return state
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return RunProcesses.signalState(pid, signal)
}

/** Resolves once /proc says the process is stopped (state T). */
const stopped = async (pid: number) => {
  for (let k = 0; k < 400; k++) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`process ${pid} did not stop`)
}

describe("RunProcesses.signalStateOf (texts)", () => {
  it("a pending bit of the signal (thread's or process's) is 'got'; bit n - 1 stands for signal n", () => {
    // SIGINT is 2: bit 1 (0x2); SIGTERM is 15: bit 14 (0x4000).
    expect(RunProcesses.signalStateOf(stat("cat", "R", 0), status("0000000000000000", "0000000000000002"), 2)).toBe("got")
    expect(RunProcesses.signalStateOf(stat("cat", "R", 0), status("0000000000004000", "0000000000000000"), 15)).toBe("got")
    expect(RunProcesses.signalStateOf(stat("cat", "R", 0), status("0000000000004000", "0000000000000000"), 2)).toBe("busy")
  })

  it("asleep with nothing pending is 'clean'; a zombie, a dead or an exiting process is 'dead'", () => {
    const none = status("0000000000000000", "0000000000000000")
    expect(RunProcesses.signalStateOf(stat("cat", "S", 4194304), none, 2)).toBe("clean")
    expect(RunProcesses.signalStateOf(stat("cat", "Z", 4194304), none, 2)).toBe("dead")
    expect(RunProcesses.signalStateOf(stat("cat", "X", 0), none, 2)).toBe("dead")
    expect(RunProcesses.signalStateOf(stat("cat", "R", 4194304 | 4), none, 2)).toBe("dead")
    expect(RunProcesses.signalStateOf(stat("cat", "R", 4194304), none, 2)).toBe("busy")
  })

  it("a command name with spaces and parentheses does not shift the fields", () => {
    const none = status("0000000000000000", "0000000000000000")
    expect(RunProcesses.signalStateOf(stat("a) S (b", "Z", 0), none, 2)).toBe("dead")
    expect(RunProcesses.signalStateOf(stat("a) Z (b", "S", 0), none, 2)).toBe("clean")
  })

  it("a text without the fields is 'unknown'", () => {
    expect(RunProcesses.signalStateOf(stat("cat", "S", 0), "Name:\tcat\n", 2)).toBe("unknown")
    expect(RunProcesses.signalStateOf("", status("0", "0"), 2)).toBe("unknown")
  })
})

describe("RunProcesses.signalState (real processes, Linux)", () => {
  it("a cat asleep on a pipe nobody writes to is 'clean'", async () => {
    const { cat, exited } = startCat()
    try {
      expect(await settled(cat.pid!, "SIGINT", ["busy"])).toBe("clean")
    } finally {
      cat.kill("SIGKILL")
      await exited
    }
  })

  it("a stopped cat sent SIGINT has it pending ('got'), not SIGTERM; once it runs it dies of it and is 'dead'", async () => {
    const { cat, exited } = startCat()
    expect(await settled(cat.pid!, "SIGINT", ["busy"])).toBe("clean")
    process.kill(cat.pid!, "SIGSTOP")
    // SIGSTOP takes effect when cat next runs: wait for it, else a SIGINT sent now (a lower number) is taken first.
    await stopped(cat.pid!)
    process.kill(cat.pid!, "SIGINT")
    expect(RunProcesses.signalState(cat.pid!, "SIGINT")).toBe("got")
    expect(RunProcesses.signalState(cat.pid!, "SIGTERM")).not.toBe("clean")
    process.kill(cat.pid!, "SIGCONT")
    expect(await exited).toBe("SIGINT")
    expect(RunProcesses.signalState(cat.pid!, "SIGINT")).toBe("dead")
  })
})
