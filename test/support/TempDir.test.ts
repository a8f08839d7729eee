/**
 * test/support: makeTempDir removes its folder when the test ends, and the
 * global setup's teardown fails the run, by name, on a lineprof-* folder left
 * in the suite's private TMPDIR.
 */
import { assert, describe, it } from "@effect/vitest"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import setup from "./globalSetup.ts"
import { makeTempDir } from "./TempDir.ts"

describe("makeTempDir", () => {
  let made = ""
  it("makes a fresh folder under os.tmpdir()", () => {
    made = makeTempDir("support")
    writeFileSync(join(made, "a-file"), "x")
    assert.isTrue(made.startsWith(join(tmpdir(), "lineprof-support-")))
    assert.isTrue(existsSync(join(made, "a-file")))
  })

  it("removed it, contents and all, when that test finished", () => {
    assert.notStrictEqual(made, "")
    assert.isFalse(existsSync(made))
  })
})

describe("globalSetup", () => {
  const withSuite = (body: (suiteDir: string) => void): (() => void) => {
    const outer = process.env["TMPDIR"]
    const teardown = setup()
    const suiteDir = tmpdir()
    try {
      assert.notStrictEqual(suiteDir, outer)
      body(suiteDir)
    } catch (error) {
      teardown()
      throw error
    }
    return () => {
      try {
        teardown()
      } finally {
        assert.strictEqual(process.env["TMPDIR"], outer)
        assert.isFalse(existsSync(suiteDir))
      }
    }
  }

  it("passes when the tests left no lineprof-* folder (other names do not count)", () => {
    const teardown = withSuite((suiteDir) => mkdirSync(join(suiteDir, "node-compile-cache")))
    teardown()
  })

  it("fails naming what the tests left, and removes it anyway", () => {
    const teardown = withSuite((suiteDir) => mkdirSync(join(suiteDir, "lineprof-test-abc123")))
    assert.throws(teardown, /left 1 temporary folder\(s\) behind in os\.tmpdir\(\): lineprof-test-abc123/)
  })
})
