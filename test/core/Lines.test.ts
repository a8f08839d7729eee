/** The one line splitter: Node's terminators and Python's universal newlines. */
import { assert, describe, it } from "@effect/vitest"
import * as Lines from "../../src/core/Lines.ts"

describe("Lines", () => {
  it("Node's dialect ends lines at \\n, \\r, \\r\\n, U+2028 and U+2029", () => {
    assert.deepStrictEqual(Lines.splitLines("a\nb\rc\r\nd\u2028e\u2029f", "node"), ["a", "b", "c", "d", "e", "f"])
  })

  it("Python's dialect ends lines at \\n, \\r and \\r\\n only", () => {
    assert.deepStrictEqual(Lines.splitLines("a\nb\rc\r\nd\u2028e", "python"), ["a", "b", "c", "d\u2028e"])
  })

  it("a final terminator opens no line; blank lines stay; empty text has none", () => {
    assert.deepStrictEqual(Lines.splitLines("a\n\nb\n", "node"), ["a", "", "b"])
    assert.deepStrictEqual(Lines.splitLines("", "python"), [])
    assert.deepStrictEqual(Lines.splitLines("\n", "python"), [""])
  })

  it("lineStarts gives the offset of each line, a \\r\\n counting once", () => {
    assert.deepStrictEqual(Lines.lineStarts("ab\r\nc\rd\u2028"), [0, 4, 6, 8])
    assert.deepStrictEqual(Lines.lineStarts(""), [0])
  })
})
