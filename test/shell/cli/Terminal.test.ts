/**
 * shell/Terminal: when colour is on, how a text report is coloured (and that
 * the colouring only adds escapes), and when the progress bar draws.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import * as Terminal from "../../../src/shell/cli/Terminal.ts"

const report = readFileSync(resolve(import.meta.dirname, "..", "..", "fixtures", "cli", "a+b.us.txt"), "utf8")

describe("shouldColour", () => {
  it("follows NO_COLOR, then FORCE_COLOR, then whether the stream is a terminal", () => {
    const tty = { isTTY: true }
    const pipe = { isTTY: false }
    assert.strictEqual(Terminal.shouldColour(tty, {}), true)
    assert.strictEqual(Terminal.shouldColour(pipe, {}), false)
    assert.strictEqual(Terminal.shouldColour(tty, { NO_COLOR: "1" }), false)
    assert.strictEqual(Terminal.shouldColour(tty, { NO_COLOR: "" }), true)
    assert.strictEqual(Terminal.shouldColour(pipe, { FORCE_COLOR: "1" }), true)
    assert.strictEqual(Terminal.shouldColour(pipe, { FORCE_COLOR: "0" }), false)
    assert.strictEqual(Terminal.shouldColour(tty, { FORCE_COLOR: "0" }), false)
    assert.strictEqual(Terminal.shouldColour(tty, { FORCE_COLOR: "false" }), false)
    assert.strictEqual(Terminal.shouldColour(pipe, { FORCE_COLOR: "1", NO_COLOR: "1" }), false)
  })
})

describe("highlightReport", () => {
  it("paints rows by their % Time, found from the header even with a Wait column", () => {
    const painted = Terminal.highlightReport(report).split("\n")
    const row = (text: string) => painted.find((line) => line.includes(text))!
    // 90.2 % and 100 %: hot; 6.8 %: warm; 3.0 %: plain; no hits: plain.
    assert.strictEqual(row("for (let i = 0"), Terminal.boldRed(Terminal.stripAnsi(row("for (let i = 0"))))
    assert.strictEqual(row("return x * 2"), Terminal.boldRed(Terminal.stripAnsi(row("return x * 2"))))
    assert.strictEqual(row("return total"), Terminal.yellow(Terminal.stripAnsi(row("return total"))))
    assert.strictEqual(row("let total = 0"), "     2         8          8.0      1.0      3.0          0.0    let total = 0")
    assert.strictEqual(row("function work(n)"), "     1                                                        function work(n) {")
    assert.strictEqual(row("Function: work"), Terminal.bold("Function: work at line 1"))
  })

  it("only adds escapes: stripping them gives the report back", () => {
    assert.strictEqual(Terminal.stripAnsi(Terminal.highlightReport(report)), report)
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...report.split("\n")), fc.string()), { maxLength: 30 }), (lines) => {
        const text = lines.join("\n")
        assert.strictEqual(Terminal.stripAnsi(Terminal.highlightReport(text)), Terminal.stripAnsi(text))
      }),
      { numRuns: 300 }
    )
  })
})

describe("makeProgress", () => {
  const recorder = (isTTY: boolean) => {
    const writes: Array<string> = []
    return { writes, stream: { isTTY, columns: 80, write: (text: string) => writes.push(text) } }
  }

  it("draws nothing when the stream is not a terminal", () => {
    const { writes, stream } = recorder(false)
    let nowMs = 0
    const progress = Terminal.makeProgress({ stream, total: 10, label: "files", nowMs: () => nowMs })
    for (let done = 1; done <= 10; done++) {
      nowMs += 1000
      progress.tick(done)
    }
    progress.finish()
    assert.deepStrictEqual(writes, [])
  })

  it("on a terminal, stays silent while the work is short, then redraws at most every everyMs, and erases itself", () => {
    const { writes, stream } = recorder(true)
    let nowMs = 0
    const progress = Terminal.makeProgress({ stream, total: 4, label: "files", delayMs: 400, everyMs: 100, nowMs: () => nowMs })
    nowMs = 100
    progress.tick(1) // before the delay: nothing
    nowMs = 500
    progress.tick(2) // drawn
    nowMs = 550
    progress.tick(3) // too soon after the last draw
    nowMs = 700
    progress.tick(4) // drawn
    progress.finish()
    assert.strictEqual(writes.length, 3)
    assert.match(writes[0]!, /^\r█+░+ 50% 2\/4 files$/)
    assert.match(writes[1]!, /^\r█+ 100% 4\/4 files$/)
    assert.strictEqual(writes[2], "\r\u001b[2K")
  })

  it("clear erases a drawn bar (so a warning starts on a clean line) and the next tick redraws it at once", () => {
    const { writes, stream } = recorder(true)
    let nowMs = 0
    const progress = Terminal.makeProgress({ stream, total: 4, label: "files", delayMs: 400, everyMs: 100, nowMs: () => nowMs })
    progress.clear?.() // nothing drawn yet: nothing to erase
    nowMs = 500
    progress.tick(1)
    progress.clear?.()
    stream.write("lineprof: warning: skipped bad.json: truncated JSON\n")
    nowMs = 510 // within everyMs of the last draw, but the bar is gone: redraw
    progress.tick(2)
    progress.finish()
    assert.deepStrictEqual(writes.map((text) => text.replace(/█+░*|░+/, "BAR")), [
      "\rBAR 25% 1/4 files",
      "\r\u001b[2K",
      "lineprof: warning: skipped bad.json: truncated JSON\n",
      "\rBAR 50% 2/4 files",
      "\r\u001b[2K"
    ])
  })

  it("a short job on a terminal leaves no trace", () => {
    const { writes, stream } = recorder(true)
    const progress = Terminal.makeProgress({ stream, total: 3, label: "files", nowMs: () => 0 })
    progress.tick(1)
    progress.tick(3)
    progress.finish()
    assert.deepStrictEqual(writes, [])
  })
})
