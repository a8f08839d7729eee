/**
 * Sizes that come from the numbers inside a profile, not from its size: the
 * text report of a function without source has rows for the lines that exist
 * (not one per number in a range), line numbers stop at 2^31 - 1, and Python
 * source filling stops at its line budget.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Profile from "../../src/core/Profile.ts"
import * as PythonSource from "../../src/core/python/PythonSource.ts"
import * as Text from "../../src/core/render/Text.ts"

const withoutSource = (lineNos: ReadonlyArray<number>, firstLine = 1): Profile.Profile =>
  Profile.make([
    {
      file: "/app/a.js",
      name: "f",
      firstLine,
      lastLine: Math.max(firstLine, ...lineNos.slice(-1)),
      fileHash: "ab",
      source: undefined,
      lines: lineNos.map((lineNo) => Profile.makeLine(lineNo, { hits: 1n, timeNs: 1000n }))
    }
  ])

/** The line numbers of the report's rows. */
const rowNumbers = (report: string): Array<number> =>
  report.split("\n").filter((line) => /^\s*\d+\s/.test(line) && !line.startsWith("Timer")).map((line) => Number(line.trim().split(/\s+/)[0]))

describe("Text report of a function without source", () => {
  it("keeps line_profiler's empty rows from the first line to the last line that ran", () => {
    assert.deepStrictEqual(rowNumbers(Text.render(withoutSource([3, 7], 2))), [2, 3, 4, 5, 6, 7])
  })

  it("a span of 5·10^7 lines gives the rows that ran, not 5·10^7 rows", () => {
    assert.deepStrictEqual(rowNumbers(Text.render(withoutSource([1, 50_000_000]))), [1, 50_000_000])
  })

  it("more lines than a call takes arguments (130,000) render without overflowing the stack", () => {
    const lineNos = Array.from({ length: 130_000 }, (_, k) => 2 * k + 1)
    const rows = rowNumbers(Text.render(withoutSource(lineNos)))
    assert.strictEqual(rows.length, 2 * 130_000 - 1)
    assert.strictEqual(rows[rows.length - 1], 2 * 130_000 - 1)
  })
})

describe("line numbers", () => {
  it("Profile.check refuses a line beyond 2^31 - 1", () => {
    const profile = withoutSource([2 ** 31])
    assert.deepStrictEqual(Profile.check(profile), [
      "functions[0] (f): lastLine must be at most 2147483647",
      "functions[0] (f).lines[0]: lineNo must be at most 2147483647"
    ])
  })
})

describe("PythonSource.withSources budget", () => {
  it("fills sources until maxSourceLines, then leaves the rest without", () => {
    const text = "def a():\n    return 1\n\ndef b():\n    x = 1\n    return x\n"
    const fn = (name: string, firstLine: number): Profile.FunctionProfile => ({
      file: "m.py", name, firstLine, lastLine: firstLine, fileHash: "", source: undefined, lines: []
    })
    const profile = Profile.make([fn("a", 1), fn("b", 4)])
    const filled = PythonSource.withSources(profile, new Map([["m.py", text]]), { maxSourceLines: 4 })
    assert.deepStrictEqual(filled.functions.map((f) => f.source), [["def a():", "    return 1"], undefined])
    const all = PythonSource.withSources(profile, new Map([["m.py", text]]))
    assert.deepStrictEqual(all.functions.map((f) => f.source), [["def a():", "    return 1"], ["def b():", "    x = 1", "    return x"]])
  })
})
