/**
 * PythonSource: the block of a Python definition as `inspect.getblock` finds it.
 * The expected block lengths below were produced by CPython 3.11's
 * `inspect.getblock(lines[first - 1:])` on the same texts; the port was also
 * checked against it on every definition (and every 5th line) of the CPython
 * 3.11 standard library, 31835 blocks, with no difference.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as Profile from "../../../src/core/Profile.ts"
import * as PythonSource from "../../../src/core/python/PythonSource.ts"

/** [text, first line, length of the block per CPython]. */
const cases: Record<string, readonly [string, number, number]> = {
  "plain def": ["def f(x):\n    y = x\n    return y\n\n\nz = 1\n", 1, 3],
  "method followed by a method": ["class A:\n    def m(self):\n        a = 1\n\n        return a\n\n    def n(self):\n        pass\n", 2, 4],
  "decorators with arguments over lines": ["@cache\n@wraps(\n    g,\n)\ndef f():\n    return 1\nx = 2\n", 1, 6],
  "trailing comments": ["def f():\n    a = 1\n    # still the body\n  # less indented\n# module comment\n\ndef g():\n    pass\n", 1, 3],
  "comment below then more body": ["def f():\n    a = 1\n# col 0 comment\n    b = 2\nc = 3\n", 1, 4],
  "string with dedented lines": ['def f():\n    s = """\nnot code\n  def g():\n"""\n    return s\nx = 1\n', 1, 6],
  "backslash continuation": ["def f():\n    a = 1 + \\\n2\n    return a\nx = 1\n", 1, 4],
  "header over lines": ["def f(\n    a,\n    b,\n):\n    return a\n\nx = 1\n", 1, 5],
  "one-line def": ["def f(): return 1\ndef g(): return 2\n", 1, 1],
  "one-line def then comment and code": ["def f(): return 1\n# hi\nx = 1\n", 1, 1],
  lambda: ["f = lambda x: (x +\n    1)\ny = 2\n", 1, 2],
  "class with nested defs": ["class A:\n    x = 1\n    def m(self):\n        return 2\n    @property\n    def p(self):\n        return 3\n\n\nclass B:\n    pass\n", 1, 7],
  "nested function": ["def outer():\n    def inner():\n        return 1\n    return inner\n", 2, 2],
  tabs: ["def f():\n\tif x:\n\t\treturn 1\n\treturn 2\ny = 1\n", 1, 4],
  "block to end of file without newline": ["def f():\n    return 1", 1, 2],
  "crlf line ends": ["def f():\r\n    a = 1\r\n\r\n    return a\r\nx = 1\r\n", 1, 4],
  "bad dedent stops": ["    def m(self):\n        a = 1\n      b = 2\n", 1, 2],
  "async def": ["async def f():\n    await g()\n\nx = 1\n", 1, 2],
  "brackets spanning lines in body": ["def f():\n    a = [\n1,\n  2]\n    return a\nb = 1\n", 1, 5],
  "single-quoted string continued by backslash": ["def f():\n    s = 'a\\\nb'\n    return s\nc = 1\n", 1, 4],
  "not a definition": ["x = 1\ny = 2\n", 1, 1]
}

describe("PythonSource.blockLines", () => {
  for (const [name, [text, firstLine, length]] of Object.entries(cases)) {
    it(name, () => {
      const expected = PythonSource.splitLines(text).slice(firstLine - 1, firstLine - 1 + length)
      assert.deepStrictEqual(PythonSource.blockLines(text, firstLine), expected)
    })
  }

  it("splits lines as universal newlines do, without a phantom last line", () => {
    assert.deepStrictEqual(PythonSource.splitLines("a\r\nb\rc\nd\n"), ["a", "b", "c", "d"])
    assert.deepStrictEqual(PythonSource.splitLines("a\n\n"), ["a", ""])
    assert.deepStrictEqual(PythonSource.splitLines(""), [])
  })

  it("is empty past the end of the file", () => {
    assert.deepStrictEqual(PythonSource.blockLines("def f():\n    pass\n", 9), [])
  })

  it("finds the blocks of the golden source files", () => {
    const text = readFileSync(join(import.meta.dirname, "..", "..", "golden", "synthetic_src.py"), "utf8")
    const lengths = [4, 8, 14, 15, 23].map((line) => PythonSource.blockLines(text, line).length)
    assert.deepStrictEqual(lengths, [2, 4, 7, 6, 2])
    assert.deepStrictEqual(PythonSource.blockLines(text, 15), [
      "    def walk(self, rows):",
      "        total = 0",
      "        for row in rows:",
      "            for cell in row:",
      "                total += cell",
      "        return total"
    ])
  })

  it("always returns a prefix of the lines from firstLine, and the first line when there is one", () => {
    const line = fc.constantFrom(
      "def f(x):", "class A:", "@deco", "@deco(", ")", "    return 1", "        x = (", "  ]", "'''", '"""', "s = 'a\\",
      "# c", "    # c", "", "    ", "\tpass", "x = 1 \\", "lambda: 0", "async def g():", "  def h(): pass"
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.integer({ min: 1, max: 13 }), (lines, firstLine) => {
        const text = lines.join("\n")
        const block = PythonSource.blockLines(text, firstLine)
        const rest = PythonSource.splitLines(text).slice(firstLine - 1)
        assert.deepStrictEqual(block, rest.slice(0, block.length))
        assert.strictEqual(block.length, Math.min(rest.length, Math.max(block.length, 1)))
      }),
      { numRuns: 1000 }
    )
  })
})

describe("PythonSource.withSources", () => {
  const text = "def power3(num):\n    return num * num * num\n\n\ndef child(num):\n    return power3(num)\n"
  const fn = (file: string, name: string, firstLine: number): Profile.FunctionProfile => ({
    file,
    name,
    firstLine,
    lastLine: firstLine,
    fileHash: "",
    source: undefined,
    lines: [Profile.makeLine(firstLine + 1, { hits: 1n, timeNs: 5n })]
  })

  it("fills source and lastLine from the file's text, and leaves unknown files alone", () => {
    const profile = Profile.make([fn("p.py", "power3", 1), fn("p.py", "child", 5), fn("gone.py", "ghost", 3)])
    const filled = PythonSource.withSources(profile, new Map([["p.py", text]]))
    assert.deepStrictEqual(
      filled.functions.map((f) => [f.name, f.lastLine, f.source]),
      [
        ["ghost", 3, undefined],
        ["power3", 2, ["def power3(num):", "    return num * num * num"]],
        ["child", 6, ["def child(num):", "    return power3(num)"]]
      ]
    )
    assert.deepStrictEqual(Profile.check(filled), [])
  })

  it("keeps source a function already carries, and functions past the end of the file", () => {
    const carried = { ...fn("p.py", "power3", 1), lastLine: 1, source: ["def power3(num): # as recorded"] }
    const profile = Profile.make([carried, fn("p.py", "late", 40)])
    const filled = PythonSource.withSources(profile, new Map([["p.py", text]]))
    assert.deepStrictEqual(filled, profile)
  })
})
