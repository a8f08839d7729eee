/**
 * shell/Terminal: when colour is on, how a text report is coloured (and that
 * the colouring only adds escapes), and when the progress bar draws.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { stripVTControlCharacters } from "node:util"
import * as Profile from "../../../src/core/Profile.ts"
import * as StatsFile from "../../../src/core/StatsFile.ts"
import * as Text from "../../../src/core/render/Text.ts"
import * as Terminal from "../../../src/shell/cli/Terminal.ts"

const fixture = (name: string): string => resolve(import.meta.dirname, "..", "..", "fixtures", "cli", name)
const report = readFileSync(fixture("a+b.us.txt"), "utf8")
const decodeFixture = (name: string): Profile.Profile => {
  const decoded = StatsFile.decode(readFileSync(fixture(name), "utf8"), name)
  assert.strictEqual(decoded._tag, "Success")
  return (decoded as { readonly success: Profile.Profile }).success
}
/** a.json and b.json merged: the profile behind a+b.us.txt. */
const profile = Profile.combine(decodeFixture("a.json"), decodeFixture("b.json"))

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

describe("reportColour", () => {
  const ESC = "\u001b"
  it("headings bold, hot rows bold red, warm rows yellow, through util.styleText's SGR codes", () => {
    assert.strictEqual(Terminal.reportColour("heading", "Function: f"), `${ESC}[1mFunction: f${ESC}[22m`)
    assert.strictEqual(Terminal.reportColour("hot", "row"), `${ESC}[1m${ESC}[31mrow${ESC}[39m${ESC}[22m`)
    assert.strictEqual(Terminal.reportColour("warm", "row"), `${ESC}[33mrow${ESC}[39m`)
  })

  it("colours a rendered report by each row's share of its function's time, found as it is rendered", () => {
    const coloured = Text.render(profile, { unit: 1e-6, colour: Terminal.reportColour })
    const rows = coloured.split("\n")
    const row = (text: string) => rows.find((line) => line.includes(text))!
    const plainRow = (text: string) => report.split("\n").find((line) => line.includes(text))!
    // 90.2 % and 100 %: hot; 6.8 %: warm; 3.0 %: plain; no hits: plain.
    assert.strictEqual(row("for (let i = 0"), Terminal.reportColour("hot", plainRow("for (let i = 0")))
    assert.strictEqual(row("return x * 2"), Terminal.reportColour("hot", plainRow("return x * 2")))
    assert.strictEqual(row("return total"), Terminal.reportColour("warm", plainRow("return total")))
    assert.strictEqual(row("let total = 0"), "     2         8          8.0      1.0      3.0          0.0    let total = 0")
    assert.strictEqual(row("function work(n)"), "     1                                                        function work(n) {")
    assert.strictEqual(row("Function: work"), Terminal.reportColour("heading", "Function: work at line 1"))
    assert.strictEqual(row("Total time: 0.000266"), Terminal.reportColour("heading", "Total time: 0.000266 s"))
    assert.strictEqual(row("Line #"), Terminal.reportColour("heading", plainRow("Line #")))
    // Only escapes were added: without them it is the plain report, byte for byte.
    assert.strictEqual(stripVTControlCharacters(coloured), report)
  })

  it("only adds escapes, whatever the text", () => {
    fc.assert(
      fc.property(fc.constantFrom<Text.Role>("heading", "hot", "warm"), fc.string({ unit: "binary" }), (role, text) => {
        const shown = Text.showControls(text)
        assert.strictEqual(stripVTControlCharacters(Terminal.reportColour(role, shown)), shown)
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
