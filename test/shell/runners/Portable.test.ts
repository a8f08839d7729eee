import { assert, describe, it } from "@effect/vitest"
import { originalPositionFor, TraceMap } from "@jridgewell/trace-mapping"
import * as path from "node:path"
import * as vm from "node:vm"
import { fileURLToPath } from "node:url"
import * as Recorder from "../../../src/shell/record/Recorder.ts"
import * as Portable from "../../../src/shell/runners/Portable.ts"
import * as Runtime from "../../../src/shell/runners/Runtime.ts"

// Counts into this thread's recorder, without delivery (nothing is written).
Recorder.install({ compensate: false })

const runtimePath = fileURLToPath(new URL("../../../src/shell/runners/Runtime.ts", import.meta.url))
const here = path.dirname(fileURLToPath(import.meta.url))
let fileCount = 0
/** A file name no other test registers. */
const freshFile = (extension = "cjs"): string => path.join(here, `portable-${process.pid}-${fileCount++}.${extension}`)

const instrumentCjs = (source: string, file: string) => {
  const result = Portable.instrument(source, { file, format: "commonjs", runtimePath })
  if (result === undefined) throw new Error("nothing instrumented")
  return result
}

/** Runs CommonJS code as Node's loader would (a function of module and exports), in this realm or in `context`. */
const evaluate = (code: string, context?: vm.Context): Record<string, any> => {
  const wrapper = `(function (module, exports) {${code}\n})`
  const fn = context === undefined ? vm.runInThisContext(wrapper) : vm.runInContext(wrapper, context)
  const module = { exports: {} as Record<string, any> }
  fn(module, module.exports)
  return module.exports
}

/** Hits by line of function `name` of `file` in this thread's recorder. */
const hitsOf = (file: string, name: string): Record<number, number> => {
  const fn = Recorder.snapshot().functions.find((each) => each.file === file && each.name === name)
  return Object.fromEntries((fn?.lines ?? []).map((line) => [line.lineNo, Number(line.hits)]))
}

const addSource = [
  "function add(a, b) {",
  "  const sum = a + b",
  "  return sum",
  "}",
  "function twice(x) { const y = add(x, x); return y }",
  "module.exports = { add, twice }"
].join("\n")

describe("Portable", () => {
  it("probes carry slots relative to __lp$b (0 .. slotCount - 1); the sink slot 0 of a sync prologue stays literal", () => {
    const result = instrumentCjs(addSource, freshFile())
    const relative = [...result.code.matchAll(/__lp\$b\+(\d+)/g)].map((match) => Number(match[1]))
    // add: lines 2 and 3; twice: line 5.
    assert.deepStrictEqual([...new Set(relative)].sort((a, b) => a - b), [0, 1, 2])
    assert.strictEqual(result.slotCount, 3)
    assert.strictEqual([...result.code.matchAll(/let __lp\$l=0,/g)].length, 2)
    // No literal slot other than the sink is left.
    assert.deepStrictEqual(result.code.match(/__lp\$l=[1-9]|__lp\$[HMW]\(__lp\$f,\d/g), null)
    // No line added before or between the original lines: the payload follows the last one.
    const lines = result.code.split("\n")
    assert.strictEqual(lines.length, addSource.split("\n").length + 2)
    assert.isTrue(lines[1]!.startsWith("  const sum = a + b;"))
    assert.isTrue(lines[5]!.startsWith("module.exports = { add, twice }"))
    assert.isTrue(lines[6]!.startsWith("function __lp$p(){return {"))
  })

  it("runs as the original and counts exact hits in this thread's recorder", () => {
    const file = freshFile()
    const exports = evaluate(instrumentCjs(addSource, file).code)
    for (let k = 0; k < 3; k++) assert.strictEqual(exports.twice(k), 2 * k)
    assert.strictEqual(exports.add(2, 3), 5)
    assert.deepStrictEqual(hitsOf(file, "add"), { 2: 4, 3: 4 })
    assert.deepStrictEqual(hitsOf(file, "twice"), { 5: 3 })
  })

  it("a module evaluated again (a test runner's next test file) counts into the same slots", () => {
    const file = freshFile()
    const { code } = instrumentCjs(addSource, file)
    evaluate(code).add(1, 1)
    evaluate(code).add(1, 2)
    evaluate(code).twice(5)
    assert.deepStrictEqual(hitsOf(file, "add"), { 2: 3, 3: 3 })
    assert.strictEqual(Recorder.registrations().filter((registration) => registration.file === file).length, 1)
  })

  it("in a vm context of its own (as jest runs test files), the probes are defined there and count here", () => {
    const file = freshFile()
    const context = vm.createContext({ process })
    const exports = evaluate(instrumentCjs(addSource, file).code, context)
    assert.strictEqual(exports.twice(4), 8)
    assert.strictEqual(typeof context.__lp$h, "function")
    assert.deepStrictEqual(hitsOf(file, "add"), { 2: 1, 3: 1 })
  })

  it("a function called before its module's prologue ran (an import cycle, a hoisted vi.mock factory) runs as the original, uncounted", () => {
    const file = freshFile()
    const { code } = instrumentCjs(addSource, file)
    // `add` is hoisted: the wrapper calls it before the module's first statement, as a cycle would.
    const early = vm.runInThisContext(`(function (module, exports) { const sum = add(2, 3); ${code}\n; return sum })`)
    const module = { exports: {} as Record<string, any> }
    assert.strictEqual(early(module, module.exports), 5)
    assert.deepStrictEqual(hitsOf(file, "add"), {})
    assert.strictEqual(module.exports.add(1, 1), 2)
    assert.deepStrictEqual(hitsOf(file, "add"), { 2: 1, 3: 1 })
  })

  it("async functions: hits and the frame's slots are portable too", async () => {
    const file = freshFile()
    const source = [
      "async function later(x) {",
      "  const y = x + 1",
      "  await null",
      "  return y",
      "}",
      "module.exports = { later }"
    ].join("\n")
    const exports = evaluate(instrumentCjs(source, file).code)
    assert.strictEqual(await exports.later(1), 2)
    assert.strictEqual(await exports.later(2), 3)
    assert.deepStrictEqual(hitsOf(file, "later"), { 2: 2, 3: 2, 4: 2 })
  })

  it("the prologue goes after a #! line and after a \"use strict\" directive, which stays a directive", () => {
    const file = freshFile()
    const source = ['#!/usr/bin/env node', '"use strict"', "function self() { return this }", "module.exports = { self }"].join("\n")
    const { code } = instrumentCjs(source, file)
    assert.isTrue(code.startsWith('#!/usr/bin/env node\n"use strict";var __lp$b='))
    const exports = evaluate(code.replace(/^#!.*/, ""))
    const { self } = exports
    assert.strictEqual(self(), undefined)
    assert.deepStrictEqual(hitsOf(file, "self"), { 3: 1 })
  })

  it("TypeScript stays TypeScript: the probe globals are declared, the base is typed", () => {
    const source = "export function id(x: number): number {\n  return x\n}\n"
    const result = Portable.instrument(source, { file: freshFile("ts"), format: "module-typescript", runtimePath })
    assert.isTrue(result?.code.startsWith("declare var __lp$h:any,"))
    assert.include(result?.code, "var __lp$b:number=")
  })

  it("the source map takes a position in the instrumented code back to the original", () => {
    const file = freshFile()
    const source = "function f(a) { const b = a * 2; return b + 1 }\nmodule.exports = { f }"
    const result = instrumentCjs(source, file)
    const line = result.code.split("\n")[0]!
    const column = line.indexOf("return b + 1")
    const original = originalPositionFor(new TraceMap(result.map as any), { line: 1, column })
    assert.deepStrictEqual([original.source, original.line, original.column], [file, 1, source.indexOf("return b + 1")])
  })

  it("a file without functions is left alone; one that does not parse throws a one-line error naming it", () => {
    assert.strictEqual(Portable.instrument("const x = 1\n", { file: freshFile(), format: "commonjs", runtimePath }), undefined)
    const file = freshFile()
    assert.throws(() => Portable.instrument("function (\n", { file, format: "commonjs", runtimePath }), new RegExp(`${file.replace(/[.]/g, "\\.")}:1:10: cannot parse`))
  })

  it("formatOf: JS and TS files by extension, nothing else", () => {
    assert.deepStrictEqual(
      ["a.ts", "a.mts", "a.cts", "a.js", "a.mjs", "a.cjs", "a.tsx", "a.jsx", "a.vue", "a.json"].map(Portable.formatOf),
      ["module-typescript", "module-typescript", "commonjs-typescript", "module", "module", "commonjs", undefined, undefined, undefined, undefined]
    )
  })

  it("selection follows LINEPROF_INCLUDE / LINEPROF_EXCLUDE and never picks lineprof's own files", () => {
    const cwd = "/project"
    const selected = Portable.selection({ LINEPROF_INCLUDE: "src/**", LINEPROF_EXCLUDE: "**/*.skip.ts" }, cwd)
    assert.isDefined(selected)
    assert.deepStrictEqual(
      ["/project/src/a.ts", "/project/src/b.skip.ts", "/project/test/a.ts", runtimePath].map((file) => selected!(file)),
      [true, false, false, false]
    )
  })

  it("Runtime.register: one base per file text; another text of the same file gets new slots", () => {
    const registration = { file: freshFile(), fileHash: "a", sourceText: "", slotCount: 3, functions: [] }
    const base = Runtime.register(registration)
    assert.strictEqual(Runtime.register(registration), base)
    assert.notStrictEqual(Runtime.register({ ...registration, fileHash: "b" }), base)
  })
})
