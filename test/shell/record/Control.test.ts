import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as Control from "../../../src/shell/record/Control.ts"

const scratch = () => mkdtempSync(path.join(tmpdir(), "lineprof-control-"))

describe("Control", () => {
  it("requestStop: the latest request wins, each one told apart; nothing else is left in the folder", () => {
    const dir = scratch()
    assert.isUndefined(Control.readStop(dir))
    assert.isTrue(Control.requestStop(dir, "SIGTERM"))
    const first = Control.readStop(dir)!
    assert.strictEqual(first.signal, "SIGTERM")
    assert.isTrue(Control.requestStop(dir, "SIGINT"))
    const second = Control.readStop(dir)!
    assert.strictEqual(second.signal, "SIGINT")
    assert.notStrictEqual(second.text, first.text)
    assert.deepStrictEqual(readdirSync(dir), [Control.STOP_FILE])
    rmSync(dir, { recursive: true })
    assert.isFalse(Control.requestStop(dir, "SIGHUP"))
  })

  it("livePids: marked processes that still run, not the dead ones, not a mark twice", async () => {
    const dir = scratch()
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" })
    const quick = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
    await new Promise((resolve) => quick.on("close", resolve))
    assert.isTrue(Control.markAlive(dir, sleeper.pid!))
    assert.isFalse(Control.markAlive(dir, sleeper.pid!))
    assert.isTrue(Control.markAlive(dir, quick.pid!))
    assert.deepStrictEqual(Control.livePids(dir), [sleeper.pid!])
    Control.unmarkAlive(dir, sleeper.pid!)
    assert.deepStrictEqual(Control.livePids(dir), [])
    sleeper.kill("SIGKILL")
    assert.deepStrictEqual(Control.livePids(path.join(dir, "gone")), [])
    rmSync(dir, { recursive: true })
  })

  it("checkFolder: run's folder must exist and be closed to others; another folder is made with mode 0700", () => {
    const dir = scratch()
    assert.isUndefined(Control.checkFolder(dir, true))
    const missing = path.join(dir, "missing")
    assert.match(Control.checkFolder(missing, true)!, /missing of lineprof run is gone/)
    assert.isFalse(existsSync(missing))
    assert.isUndefined(Control.checkFolder(path.join(missing, "deeper"), false))
    assert.strictEqual(statSync(path.join(missing, "deeper")).mode & 0o777, 0o700)
    chmodSync(dir, 0o770)
    assert.match(Control.checkFolder(dir, true)!, /writable by others/)
    assert.isUndefined(Control.checkFolder(dir, false))
    chmodSync(dir, 0o700)
    const link = path.join(dir, "link")
    symlinkSync(missing, link)
    assert.match(Control.checkFolder(link, true)!, /is not a folder/)
    assert.isUndefined(Control.checkFolder(link, false))
    rmSync(dir, { recursive: true })
  })
})
