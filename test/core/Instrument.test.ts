/**
 * The instrumenter: source in → source out for small cases, the names and
 * lines it reports, line numbers kept for every corpus file, the seed example's
 * hits and times, and the corpus of tricky snippets run plain and instrumented
 * in a child Node (real ESM, CommonJS and TypeScript loading) with identical
 * results, errors (message + stack lines) and output. Corpus lines annotated
 * `// @hits N` must have been hit exactly N times by the instrumented run.
 */
import { assert, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as vm from "node:vm"
import * as fc from "fast-check"
import { type InstrumentOptions, type LoadFormat, instrumentSource, InstrumentError, listFunctions } from "../../src/core/Instrument.ts"
import type { InstrumentedFunction } from "../../src/core/Probe.ts"
import type * as Profile from "../../src/core/Profile.ts"
import * as Recorder from "../../src/shell/record/Recorder.ts"

const corpusDir = fileURLToPath(new URL("./instrument-corpus/", import.meta.url))
const recorderPath = fileURLToPath(new URL("../../src/shell/record/Recorder.ts", import.meta.url))
const LINE_BREAK = /\r\n|[\n\r\u2028\u2029]/

const formatOf = (file: string): LoadFormat =>
  file.endsWith(".mts") ? "module-typescript" : file.endsWith(".cts") ? "commonjs-typescript" : file.endsWith(".mjs") ? "module" : "commonjs"

/** Instruments with slots from 1 (what a fresh recorder hands out first). */
const instrument = (source: string, format: LoadFormat = "commonjs") =>
  instrumentSource(source, { file: "/test/snippet.js", format, slotBase: 1 })

// -- helper: instrument + run a CommonJS snippet in this thread ---------------

let fileCounter = 0
/**
 * Instruments `source` (CommonJS), registers it with the recorder, runs it
 * with `vm` (no test-runner transform in between) and returns its exports
 * and a function that reads this file's part of the profile.
 */
const load = (source: string, options: Pick<InstrumentOptions, "lineKeyOf" | "selectFunction"> = {}) => {
  const file = `/virtual/snippet-${++fileCounter}.cjs`
  const result = instrumentSource(source, { file, format: "commonjs", slotBase: Recorder.nextSlot(), ...options })
  Recorder.allocateSlots(result.slotCount)
  Recorder.registerFile({ file, fileHash: "test", sourceText: source, functions: result.functions })
  const wrapper = vm.runInThisContext(`(function (exports, require, module) {${result.code}\n})`, { filename: file })
  const module = { exports: {} as Record<string, any> }
  wrapper(module.exports, () => undefined, module)
  const profile = (): ReadonlyArray<Profile.FunctionProfile> => Recorder.snapshot().functions.filter((fn) => fn.file === file)
  return { exports: module.exports, profile, result }
}

const lineOf = (profile: ReadonlyArray<Profile.FunctionProfile>, name: string, lineNo: number): Profile.LineStats => {
  const fn = profile.find((candidate) => candidate.name === name)
  assert.isDefined(fn, `function ${name} profiled`)
  const line = fn!.lines.find((candidate) => candidate.lineNo === lineNo)
  assert.isDefined(line, `${name} line ${lineNo} profiled`)
  return line!
}

beforeAll(() => {
  Recorder.install()
})

describe("instrumentSource: source in → source out", () => {
  it("sync function: prologue after `{`, a probe at the end of each previous line, exit in finally", () => {
    expect(instrument(`function f(a) {\n  const b = a + 1 // note\n  return b\n}\n`).code).toMatchInlineSnapshot(`
      "function f(a) {let __lp$l=0,__lp$t=0;try{__lp$t=__lp$h(__lp$l,__lp$l=1,__lp$t);
        const b = a + 1;__lp$t=__lp$h(__lp$l,__lp$l=2,__lp$t); // note
        return b}finally{__lp$x(__lp$l,__lp$t)}
      }
      "
    `)
  })

  it("arrow with an expression body becomes a block on the same lines", () => {
    expect(instrument(`const g = (x) =>\n  x * 2\n`).code).toMatchInlineSnapshot(`
      "const g = (x) =>{let __lp$l=0,__lp$t=0;try{__lp$t=__lp$h(__lp$l,__lp$l=1,__lp$t);return (
        x * 2)}finally{__lp$x(__lp$l,__lp$t)}}
      "
    `)
  })

  it("directives stay first; ASI-separated statements get a `;`", () => {
    expect(instrument(`function f() {\n  "use strict"\n  let x = {}\n  x = 1\n  return x\n}\n`).code).toMatchInlineSnapshot(`
      "function f() {
        "use strict";let __lp$l=0,__lp$t=0;try{;__lp$t=__lp$h(__lp$l,__lp$l=1,__lp$t);
        let x = {};__lp$t=__lp$h(__lp$l,__lp$l=2,__lp$t);
        x = 1;__lp$t=__lp$h(__lp$l,__lp$l=3,__lp$t);
        return x}finally{__lp$x(__lp$l,__lp$t)}
      }
      "
    `)
  })

  it("loop tests carry the header probe; for-of probes each iteration; brace-less bodies get a block only when a probe goes before them", () => {
    expect(
      instrument(`function f(n, xs) {\n  while (n--) n--\n  for (;;) break\n  for (const x of xs)\n    n += x\n  do n++; while (n < 3)\n  return n\n}\n`)
        .code
    ).toMatchInlineSnapshot(`
      "function f(n, xs) {let __lp$l=0,__lp$t=0;try{
        while (__lp$t=__lp$h(__lp$l,__lp$l=1,__lp$t),n--) n--
        for (;(__lp$t=__lp$h(__lp$l,__lp$l=2,__lp$t),true);) break;__lp$t=__lp$h(__lp$l,__lp$l=3,__lp$t);
        for (const x of xs){__lp$t=__lp$h(__lp$l,__lp$l=3,__lp$t);;__lp$t=__lp$h(__lp$l,__lp$l=4,__lp$t);
          n += x};__lp$t=__lp$h(__lp$l,__lp$l=5,__lp$t);
        do n++; while (__lp$t=__lp$h(__lp$l,__lp$l=5,__lp$t),n < 3);__lp$t=__lp$h(__lp$l,__lp$l=6,__lp$t);
        return n}finally{__lp$x(__lp$l,__lp$t)}
      }
      "
    `)
  })

  it("a brace-less body on its header's line gets no block, so an error it throws keeps its column; on a later line it gets a block for its probe", () => {
    const source = [
      "exports.guard = function guard(x) {",
      "  if (x > 1) throw new RangeError('big')",
      "  if (x > 0)",
      "    throw new RangeError('positive')",
      "  return x",
      "}"
    ].join("\n")
    const instrumented = load(source)
    assert.include(instrumented.result.code, "  if (x > 1) throw new RangeError('big');")
    assert.include(instrumented.result.code, "  if (x > 0){")
    const plain = { exports: {} as Record<string, any> }
    vm.runInThisContext(`(function (exports) {${source}\n})`, { filename: "/virtual/guard.cjs" })(plain.exports)
    const positionOf = (guard: (x: number) => unknown, x: number): string => {
      try {
        guard(x)
      } catch (error) {
        return /\.cjs:(\d+:\d+)/.exec(String((error as Error).stack))![1]!
      }
      return "no error"
    }
    assert.strictEqual(positionOf(instrumented.exports.guard, 2), positionOf(plain.exports.guard, 2))
    assert.strictEqual(positionOf(instrumented.exports.guard, 2), "2:20")
  })

  it("a for loop with an init is preceded by a move probe (the init runs on the header line, no hit)", () => {
    expect(instrument(`function f(xs) {\n  let total = 0\n  for (let i = 0, n = xs.length; i < n; i++) total += xs[i]\n  return total\n}\n`).code)
      .toMatchInlineSnapshot(`
        "function f(xs) {let __lp$l=0,__lp$t=0;try{__lp$t=__lp$h(__lp$l,__lp$l=1,__lp$t);
          let total = 0;__lp$t=__lp$m(__lp$l,__lp$l=2,__lp$t);
          for (let i = 0, n = xs.length;__lp$t=__lp$h(__lp$l,__lp$l=2,__lp$t), i < n; i++) total += xs[i];__lp$t=__lp$h(__lp$l,__lp$l=3,__lp$t);
          return total}finally{__lp$x(__lp$l,__lp$t)}
        }
        "
      `)
  })

  it("async functions keep a frame; await is wrapped in suspend/resume", () => {
    expect(instrument(`async function f(p) {\n  const v = await p\n  return v\n}\n`).code).toMatchInlineSnapshot(`
      "async function f(p) {const __lp$f=__lp$F();try{__lp$H(__lp$f,1);
        const v = __lp$R(__lp$f,await __lp$S(__lp$f,p));__lp$H(__lp$f,2);
        return v}finally{__lp$X(__lp$f)}
      }
      "
    `)
  })

  it("generators: yield and yield* are wrapped, for await gets suspendAt on the iterable and each iteration", () => {
    expect(
      instrument(`async function* f(it) {\n  for await (const x of it) {\n    yield x\n  }\n  yield* it\n  yield\n}\n`, "module").code
    ).toMatchInlineSnapshot(`
      "async function* f(it) {const __lp$f=__lp$F();try{__lp$H(__lp$f,1);
        for await (const x of __lp$W(__lp$f,1, it)) {__lp$H(__lp$f,1);try{__lp$H(__lp$f,2);
          __lp$R(__lp$f,yield __lp$S(__lp$f,x))}finally{__lp$W(__lp$f,1)}
        };__lp$H(__lp$f,3);
        __lp$R(__lp$f,yield* __lp$S(__lp$f,it));__lp$H(__lp$f,4);
        __lp$R(__lp$f,yield __lp$S(__lp$f,void 0))}finally{__lp$X(__lp$f)}
      }
      "
    `)
  })

  it("consecutive statements on one line get one probe", () => {
    expect(instrument(`function f() { let a = 1; let b = 2; return a + b }\n`).code).toMatchInlineSnapshot(`
      "function f() {let __lp$l=0,__lp$t=0;try{__lp$t=__lp$h(__lp$l,__lp$l=1,__lp$t); let a = 1; let b = 2; return a + b}finally{__lp$x(__lp$l,__lp$t)} }
      "
    `)
  })

  it("CRLF line ends and U+2028 in a string: same lines, same results", () => {
    const source = "exports.f = function f(a) {\r\n  const s = 'x\u2028y'\r\n  return s.length + a\r\n}\r\n"
    const { code } = instrument(source)
    assert.strictEqual(code.split(LINE_BREAK).length, source.split(LINE_BREAK).length)
    assert.strictEqual((code.match(/\r\n/g) ?? []).length, 4)
    const { exports, profile } = load(source)
    assert.strictEqual(exports.f(1), 4)
    assert.deepStrictEqual(profile()[0]!.lines.map((stats) => [stats.lineNo, stats.hits]), [[2, 1n], [4, 1n]])
  })

  it("top-level code is not instrumented", () => {
    const source = `const x = 1\nfor (const y of [x]) console.log(y)\nawait x\n`
    const result = instrument(source, "module")
    assert.strictEqual(result.code, source)
    assert.deepStrictEqual(result.functions, [])
    assert.strictEqual(result.slotCount, 0)
  })

  it("a parse error is an InstrumentError with a one-line message naming the file", () => {
    try {
      instrumentSource("function (", { file: "/app/broken.js", format: "module", slotBase: 1 })
      assert.fail("expected a throw")
    } catch (error) {
      assert.instanceOf(error, InstrumentError)
      assert.strictEqual((error as InstrumentError)._tag, "InstrumentError")
      assert.match((error as InstrumentError).message, /^\/app\/broken\.js:1:10: cannot parse: /)
      assert.notInclude((error as InstrumentError).message, "\n")
    }
  })

  it("a parse error is reported at V8's line and column, whatever ends the lines (\\n, \\r, \\r\\n, U+2028, U+2029)", () => {
    const lines = ["const a = 1", "const s = \"é\"", "function f() {", "    return ) 2", "}"]
    for (const lineBreak of ["\n", "\r", "\r\n", "\u2028", "\u2029"]) {
      const source = lines.join(lineBreak)
      // V8's own report: `file:line`, the source line, then a caret under the column.
      let v8Stack = ""
      try {
        new vm.Script(source, { filename: "/app/broken.js" })
      } catch (error) {
        v8Stack = (error as Error).stack ?? ""
      }
      const [where, , caret] = v8Stack.split("\n")
      const v8Position = `${where}:${caret!.indexOf("^") + 1}`
      assert.strictEqual(v8Position, "/app/broken.js:4:12")
      assert.throws(
        () => instrumentSource(source, { file: "/app/broken.js", format: "module", slotBase: 1 }),
        InstrumentError,
        new RegExp(`^${v8Position.replace(/[.]/g, "\\.")}: cannot parse: `),
        JSON.stringify(lineBreak)
      )
    }
  })
})

describe("instrumentSource: line keys (source maps) and chosen functions", () => {
  // One generated line that stands for original lines 10..14: a key per statement part, as a map would give.
  const minified = `function f(a){let b=a+1,c=b*2;g(),h();if(c>4)c-=1;return c}function g(){}function h(){}module.exports={f}`
  const keyAt = (marks: ReadonlyArray<readonly [string, number]>) => (offset: number): number => {
    let key = 1
    for (const [text, lineNo] of marks) if (minified.indexOf(text) <= offset) key = lineNo
    return key
  }
  const lineKeyOf = keyAt([["let b", 10], ["c=b*2", 11], ["g(),", 12], ["h();", 13], ["if(c", 14], ["return c", 14], ["}function g", 1]])

  it("a probe wherever the key changes: between statements, the parts of a sequence and of a declaration; exact hits per key", () => {
    const loaded = load(minified, { lineKeyOf, selectFunction: (name) => name === "f" })
    // Slots as offsets from the file's first slot (the recorder's other files come first).
    const base = Math.min(...loaded.result.functions[0]!.slots) - 1
    expect(loaded.result.code.replace(/__lp\$l=(\d+)/g, (_, slot) => `__lp$l=${slot === "0" ? 0 : Number(slot) - base}`)).toMatchInlineSnapshot(`"function f(a){let __lp$l=0,__lp$t=0;try{__lp$t=__lp$h(__lp$l,__lp$l=1,__lp$t);let b=a+1,c=(__lp$t=__lp$h(__lp$l,__lp$l=2,__lp$t),b*2);__lp$t=__lp$h(__lp$l,__lp$l=3,__lp$t);g(),__lp$t=__lp$h(__lp$l,__lp$l=4,__lp$t),h();__lp$t=__lp$h(__lp$l,__lp$l=5,__lp$t);if(c>4)c-=1;return c}finally{__lp$x(__lp$l,__lp$t)}}function g(){}function h(){}module.exports={f}"`)
    for (const a of [1, 2, 3]) assert.strictEqual(loaded.exports["f"](a), (a + 1) * 2 > 4 ? (a + 1) * 2 - 1 : (a + 1) * 2)
    assert.deepStrictEqual(loaded.result.functions.map((fn) => [fn.name, fn.lines]), [["f", [10, 11, 12, 13, 14]]])
    const f = loaded.profile().find((fn) => fn.name === "f")!
    assert.deepStrictEqual(f.lines.map((line) => [line.lineNo, Number(line.hits)]), [[10, 3], [11, 3], [12, 3], [13, 3], [14, 3]])
  })

  it("selectFunction: the others keep their code, their nested functions are asked on their own", () => {
    const source = "function outer(x) {\n  const inner = (y) => y + 1\n  return inner(x)\n}\nfunction other() {\n  return 2\n}\n"
    const asked: Array<string> = []
    const result = instrumentSource(source, {
      file: "/x.js",
      format: "commonjs",
      slotBase: 1,
      selectFunction: (name, start) => {
        asked.push(`${name}@${start}`)
        return name === "outer.inner"
      }
    })
    assert.deepStrictEqual(asked, ["outer@0", `outer.inner@${source.indexOf("(y)")}`, `other@${source.indexOf("function other")}`])
    assert.deepStrictEqual(result.functions.map((fn) => fn.name), ["outer.inner"])
    assert.deepStrictEqual(result.functionStarts, [source.indexOf("(y)")])
    assert.isTrue(result.code.includes("return inner(x)\n}\nfunction other() {\n  return 2\n}"))
  })

  it("listFunctions: every function with a body, named as the instrumenter names them, with lines and offsets", () => {
    const source = "class Parser {\n  parse(t) {\n    return t.map((x) => x)\n  }\n}\nexport function lex() {}\n"
    assert.deepStrictEqual(listFunctions(source, { file: "/p.ts", format: "module-typescript" }), [
      { name: "Parser.parse", firstLine: 2, lastLine: 4, start: source.indexOf("parse("), end: source.indexOf("  }\n}") + 3 },
      { name: "Parser.parse.<anonymous>", firstLine: 3, lastLine: 3, start: source.indexOf("(x)"), end: source.indexOf("x)\n") + 1 },
      { name: "lex", firstLine: 6, lastLine: 6, start: source.indexOf("function lex"), end: source.length - 1 }
    ])
  })
})

describe("instrumentSource: the functions it reports", () => {
  it("qualified names, first and last lines, sorted lines, slots from slotBase", () => {
    const source = [
      "function outer() {", // 1
      "  function inner() { return 1 }", // 2
      "  const held = () => 2", // 3
      "  return [1].map(function () { return inner() + held() })", // 4
      "}", // 5
      "class Box {", // 6
      "  constructor(v) { this.v = v }", // 7
      "  get value() { return this.v }", // 8
      "  set value(v) { this.v = v }", // 9
      "  static { Box.ready = true }", // 10
      "  handler = () => this.v", // 11
      "  static make() { return new Box(1) }", // 12
      "  #hidden() { return 0 }", // 13
      "}", // 14
      "const obj = { method() { return 1 }, arrow: () => 2, get g() { return 3 } }", // 15
      "export default function () { return 4 }", // 16
      "[1].forEach((x) => { x++ })", // 17
      "const named = function actual() { return 5 }", // 18
      "exports.run = function () { return 6 }" // 19
    ].join("\n")
    const result = instrumentSource(source, { file: "/t.mjs", format: "module", slotBase: 10 })
    assert.deepStrictEqual(
      result.functions.map((fn) => [fn.name, fn.firstLine, fn.lastLine, fn.lines]),
      [
        ["outer", 1, 5, [3, 4]], // a function declaration runs nothing where it stands: no probe
        ["outer.inner", 2, 2, [2]],
        ["outer.held", 3, 3, [3]],
        ["outer.<anonymous>", 4, 4, [4]],
        ["Box.constructor", 7, 7, [7]],
        ["Box.get value", 8, 8, [8]],
        ["Box.set value", 9, 9, [9]],
        ["Box.<static>", 10, 10, [10]],
        ["Box.handler", 11, 11, [11]],
        ["Box.make", 12, 12, [12]],
        ["Box.#hidden", 13, 13, [13]],
        ["obj.method", 15, 15, [15]],
        ["obj.arrow", 15, 15, [15]],
        ["obj.get g", 15, 15, [15]],
        ["default", 16, 16, [16]],
        ["<anonymous>", 17, 17, [17]],
        ["actual", 18, 18, [18]],
        ["exports.run", 19, 19, [19]]
      ]
    )
    const slots = result.functions.flatMap((fn) => fn.slots).sort((a, b) => a - b)
    assert.deepStrictEqual(slots, Array.from({ length: result.slotCount }, (_, k) => 10 + k))
    for (const fn of result.functions) assert.strictEqual(fn.slots.length, fn.lines.length)
  })
})

// -- the corpus ----------------------------------------------------------------

const corpusFiles = fs.readdirSync(corpusDir).filter((name) => /\.(c|m)?(j|t)s$/.test(name)).sort()

interface CorpusEntry {
  readonly name: string
  readonly format: LoadFormat
  readonly source: string
  readonly code: string
  readonly functions: ReadonlyArray<InstrumentedFunction>
}

/** Instruments the whole corpus with consecutive slot ranges from 1. */
const instrumentCorpus = (): ReadonlyArray<CorpusEntry> => {
  let slotBase = 1
  return corpusFiles.map((name) => {
    const source = fs.readFileSync(path.join(corpusDir, name), "utf8")
    const format = formatOf(name)
    const result = instrumentSource(source, { file: name, format, slotBase })
    slotBase += result.slotCount
    return { name, format, source, code: result.code, functions: result.functions }
  })
}

/** Checks that `original` is `instrumented` with text inserted (a subsequence, same order). */
const isInsertionOf = (original: string, instrumented: string): boolean => {
  let j = 0
  for (let i = 0; i < original.length; i++) {
    j = instrumented.indexOf(original[i]!, j)
    if (j < 0) return false
    j++
  }
  return true
}

describe("corpus: lines are kept", () => {
  it.each(corpusFiles)("%s keeps its line count and each line's text", (name) => {
    const source = fs.readFileSync(path.join(corpusDir, name), "utf8")
    const { code } = instrumentSource(source, { file: name, format: formatOf(name), slotBase: 1 })
    const before = source.split(LINE_BREAK)
    const after = code.split(LINE_BREAK)
    assert.strictEqual(after.length, before.length)
    before.forEach((line, k) => assert.isTrue(isInsertionOf(line, after[k]!), `line ${k + 1}: ${line}`))
    // A line alone on its line keeps its columns when it is not the first of its function.
    assert.notStrictEqual(code, source)
  })
})

/** Runs in a child Node: imports every corpus file plain and instrumented, prints JSON results. */
const RUNNER = `
import * as Recorder from ${JSON.stringify(recorderPath)}
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { basename } from "node:path"
import { pathToFileURL } from "node:url"
import { inspect } from "node:util"

const manifest = JSON.parse(readFileSync(process.argv[2], "utf8"))
Recorder.install()
const base = Recorder.allocateSlots(manifest.slotCount)
for (const entry of manifest.entries) {
  Recorder.registerFile({ file: entry.name, fileHash: "", sourceText: entry.source, functions: entry.functions })
}
const require = createRequire(import.meta.url)
const show = (value) => (typeof value === "string" ? value : inspect(value, { depth: 6 }))
const frames = (stack, dir) =>
  String(stack).split("\\n").filter((line) => line.includes(dir)).map((line) => {
    const match = /at (?:(.*?) \\()?(?:file:\\/\\/)?([^()]*):(\\d+):\\d+\\)?$/.exec(line.trim())
    return match === null ? line.trim() : (match[1] ?? "") + " " + basename(match[2]) + ":" + match[3]
  })
const run = async (dir, entry) => {
  const file = dir + "/" + entry.name
  const log = []
  const logger = (...args) => log.push(args.map(show).join(" "))
  try {
    const module = entry.format.startsWith("commonjs") ? require(file) : await import(pathToFileURL(file).href)
    const result = await module.main(logger)
    return { log, result: show(result) }
  } catch (error) {
    return { log, error: { name: error?.constructor?.name, message: String(error?.message), frames: frames(error?.stack, dir) } }
  }
}
const results = {}
for (const entry of manifest.entries) {
  results[entry.name] = { plain: await run(manifest.plainDir, entry), instrumented: await run(manifest.instrumentedDir, entry) }
}
const profile = Recorder.snapshot()
const hits = {}
for (const fn of profile.functions) {
  const byLine = (hits[fn.file] ??= {})
  for (const line of fn.lines) byLine[line.lineNo] = (byLine[line.lineNo] ?? 0) + Number(line.hits)
}
process.stdout.write(JSON.stringify({ base, results, hits }))
`

interface RunResult {
  readonly log: ReadonlyArray<string>
  readonly result?: string
  readonly error?: { readonly name: string; readonly message: string; readonly frames: ReadonlyArray<string> }
}

interface CorpusRun {
  readonly base: number
  readonly results: Record<string, { readonly plain: RunResult; readonly instrumented: RunResult }>
  readonly hits: Record<string, Record<string, number>>
}

describe("corpus: runs the same plain and instrumented", () => {
  let run: CorpusRun

  beforeAll(() => {
    const entries = instrumentCorpus()
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "lineprof-corpus-"))
    try {
      const plainDir = path.join(work, "plain")
      const instrumentedDir = path.join(work, "instrumented")
      fs.mkdirSync(plainDir)
      fs.mkdirSync(instrumentedDir)
      for (const entry of entries) {
        fs.writeFileSync(path.join(plainDir, entry.name), entry.source)
        fs.writeFileSync(path.join(instrumentedDir, entry.name), entry.code)
      }
      const slotCount = entries.reduce((total, entry) => total + entry.functions.reduce((n, fn) => n + fn.slots.length, 0), 0)
      fs.writeFileSync(path.join(work, "manifest.json"), JSON.stringify({ plainDir, instrumentedDir, slotCount, entries }))
      fs.writeFileSync(path.join(work, "runner.mjs"), RUNNER)
      const child = spawnSync(process.execPath, [path.join(work, "runner.mjs"), path.join(work, "manifest.json")], {
        encoding: "utf8",
        env: { ...process.env, NODE_OPTIONS: "" }
      })
      if (child.status !== 0) throw new Error(`corpus runner failed (${child.status}): ${child.stderr}`)
      run = JSON.parse(child.stdout)
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  })

  it("the child recorder handed out the same slots", () => {
    assert.strictEqual(run.base, 1)
  })

  it.each(corpusFiles)("%s: same result, error (message and stack lines) and output", (name) => {
    const { plain, instrumented } = run.results[name]!
    assert.deepStrictEqual(instrumented, plain)
    assert.isAbove(plain.log.length + (plain.error === undefined ? 0 : 1), 0, "the snippet logged something")
  })

  it.each(corpusFiles)("%s: lines annotated `@hits N` were hit N times", (name) => {
    const source = fs.readFileSync(path.join(corpusDir, name), "utf8")
    const expected: Record<string, number> = {}
    source.split(LINE_BREAK).forEach((line, k) => {
      const match = /@hits (\d+)/.exec(line)
      if (match !== null) expected[String(k + 1)] = Number(match[1])
    })
    const actual = run.hits[name] ?? {}
    for (const [lineNo, hits] of Object.entries(expected)) {
      assert.strictEqual(actual[lineNo] ?? 0, hits, `${name}:${lineNo} hits`)
    }
  })

  it("every corpus file that defines functions got probes that ran", () => {
    for (const name of corpusFiles) assert.isAbove(Object.keys(run.hits[name] ?? {}).length, 0, name)
  })
})

// -- the seed example, in this thread -------------------------------------------

describe("the seed example", () => {
  const seed = [
    "function power3(num) {", // 1
    "  return num * num * num", // 2
    "}", // 3
    "function child(num) {", // 4
    "  num = Math.sqrt(num)", // 5
    "  num = power3(num)", // 6
    "  return num", // 7
    "}", // 8
    "exports.run = (n) => { let total = 0; for (let i = 0; i < n; i++) total += child(i); return total }" // 9
  ].join("\n")

  it("N calls: every body line hit exactly N times; `num = power3(num)` takes at least power3's line", () => {
    const N = 20_000
    const { exports, profile } = load(seed)
    let expected = 0
    for (let i = 0; i < N; i++) expected += Math.sqrt(i) ** 3
    assert.closeTo(exports.run(N), expected, 1e-6 * expected)
    const functions = profile()
    for (const lineNo of [5, 6, 7]) assert.strictEqual(lineOf(functions, "child", lineNo).hits, BigInt(N))
    const power3Line = lineOf(functions, "power3", 2)
    assert.strictEqual(power3Line.hits, BigInt(N))
    assert.isAtLeast(Number(lineOf(functions, "child", 6).timeNs), Number(power3Line.timeNs))
    assert.strictEqual(lineOf(functions, "exports.run", 9).hits, 1n + BigInt(N) + 1n)
    for (const fn of functions) for (const line of fn.lines) assert.strictEqual(line.waitNs, 0n)
  })

  it("a for loop's init is timed on its header line", () => {
    const { exports, profile } = load(
      [
        "function slow() {", // 1
        "  let x = 0", // 2
        "  for (let i = 0; i < 200000; i++) x = (x * 31 + i) % 1000003", // 3
        "  return x % 3", // 4
        "}", // 5
        "exports.run = function run() {", // 6
        "  let total = 0", // 7
        "  for (let i = 0, n = slow(); i < n; i++) total++", // 8
        "  return total", // 9
        "}" // 10
      ].join("\n")
    )
    exports.run()
    const functions = profile()
    const header = lineOf(functions, "run", 8)
    const inner = lineOf(functions, "slow", 3)
    assert.isAtLeast(Number(header.timeNs), 0.9 * Number(inner.timeNs))
    assert.strictEqual(lineOf(functions, "slow", 3).hits, 200_001n)
  })

  it("the profile carries the source lines of each function", () => {
    const { exports, profile } = load(seed)
    exports.run(3)
    const child = profile().find((fn) => fn.name === "child")!
    assert.deepStrictEqual(child.source, seed.split("\n").slice(3, 8))
  })
})

// -- property: hits equal the executions counted by the program itself ----------

type Stmt =
  | { readonly kind: "assign"; readonly k: number }
  | { readonly kind: "await"; readonly k: number }
  | { readonly kind: "call" }
  | { readonly kind: "break" | "continue"; readonly m: number }
  | {
    readonly kind: "if"
    readonly m: number
    readonly then: ReadonlyArray<Stmt>
    readonly elseIf: ReadonlyArray<Stmt> | null
    readonly otherwise: ReadonlyArray<Stmt>
  }
  | { readonly kind: "while" | "for" | "forOf" | "do"; readonly n: number; readonly body: ReadonlyArray<Stmt> }
  | { readonly kind: "try"; readonly body: ReadonlyArray<Stmt>; readonly fin: ReadonlyArray<Stmt> }
  | { readonly kind: "switch"; readonly cases: ReadonlyArray<ReadonlyArray<Stmt>>; readonly breaks: ReadonlyArray<boolean> }

const stmtArbitraries = new Map<string, fc.Arbitrary<Stmt>>()
const stmtArbitrary = (depth: number, inLoop: boolean, awaits = false): fc.Arbitrary<Stmt> => {
  const key = `${depth}:${inLoop}:${awaits}`
  const cached = stmtArbitraries.get(key)
  if (cached !== undefined) return cached
  const simple: Array<fc.Arbitrary<Stmt>> = [
    fc.integer({ min: 1, max: 50 }).map((k) => ({ kind: "assign", k }) as const),
    fc.constant({ kind: "call" } as const)
  ]
  if (awaits) simple.push(fc.integer({ min: 0, max: 3 }).map((k) => ({ kind: "await", k }) as const))
  if (inLoop) {
    simple.push(fc.integer({ min: 2, max: 4 }).map((m) => ({ kind: "break", m }) as const))
    simple.push(fc.integer({ min: 2, max: 3 }).map((m) => ({ kind: "continue", m }) as const))
  }
  let arbitrary: fc.Arbitrary<Stmt>
  if (depth === 0) arbitrary = fc.oneof(...simple)
  else {
    const block = (loop: boolean) => fc.array(stmtArbitrary(depth - 1, loop, awaits), { maxLength: 3 })
    const n = fc.integer({ min: 0, max: 3 })
    arbitrary = fc.oneof(
      ...simple,
      fc.record({ m: fc.integer({ min: 2, max: 3 }), then: block(inLoop), elseIf: fc.option(block(inLoop)), otherwise: block(inLoop) }).map((s) => ({ kind: "if", ...s }) as const),
      ...(["while", "for", "forOf", "do"] as const).map((kind) => fc.record({ n, body: block(true) }).map((s) => ({ kind, ...s }))),
      fc.record({ body: block(inLoop), fin: block(false) }).map((s) => ({ kind: "try", ...s }) as const),
      fc.record({ cases: fc.array(block(inLoop), { minLength: 3, maxLength: 3 }), breaks: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) })
        .map((s) => ({ kind: "switch", ...s }) as const)
    )
  }
  stmtArbitraries.set(key, arbitrary)
  return arbitrary
}

/**
 * Prints a program whose every statement line counts itself: `c[L]++` starts
 * each line that starts a statement, loop tests count their header line, and a
 * `do` line is counted once on entry. So `c[L]` is what Hits must say.
 */
const printProgram = (body: ReadonlyArray<Stmt>, isAsync = false): string => {
  const lines: Array<string> = []
  const emit = (text: string): number => lines.push(text)
  const next = (): number => lines.length + 1
  let loopId = 0
  const printBlock = (statements: ReadonlyArray<Stmt>, indent: string): void => {
    for (const statement of statements) printStmt(statement, indent)
  }
  const printStmt = (s: Stmt, indent: string): void => {
    const L = next()
    switch (s.kind) {
      case "assign":
        emit(`${indent}c[${L}]++; x = (x * 7 + ${s.k}) % 97`)
        return
      case "call":
        emit(`${indent}c[${L}]++; x = helper(x)`)
        return
      case "await":
        // k = 0: a plain value, 1: a resolved promise, 2: a thenable, 3: a rejection caught on the same line.
        emit(
          `${indent}c[${L}]++; x = ${
            [
              `await (x + 1)`,
              `await Promise.resolve(x + 2)`,
              `await { then(resolve) { resolve(x + 3) } }`,
              `await Promise.reject(x + 4).catch((v) => v)`
            ][s.k]
          } % 97; log.push(${L})`
        )
        return
      case "break":
      case "continue":
        emit(`${indent}c[${L}]++; if (x % ${s.m} === 0) ${s.kind}`)
        return
      case "if":
        emit(`${indent}if (c[${L}]++, x % ${s.m} === 1) {`)
        printBlock(s.then, indent + "  ")
        if (s.elseIf !== null) {
          emit(`${indent}} else if (c[${next()}]++, x % 2 === 0) {`)
          printBlock(s.elseIf, indent + "  ")
        }
        emit(`${indent}} else {`)
        printBlock(s.otherwise, indent + "  ")
        emit(`${indent}}`)
        return
      case "while": {
        const w = `v${loopId++}`
        emit(`${indent}c[${L}]++; var ${w} = 0`)
        emit(`${indent}while (c[${L + 1}]++, ${w} < ${s.n}) {`)
        emit(`${indent}  c[${next()}]++; ${w}++`)
        printBlock(s.body, indent + "  ")
        emit(`${indent}}`)
        return
      }
      case "for": {
        const i = `v${loopId++}`
        emit(`${indent}for (let ${i} = 0; c[${L}]++, ${i} < ${s.n}; ${i}++) {`)
        printBlock(s.body, indent + "  ")
        emit(`${indent}}`)
        return
      }
      case "forOf": {
        const v = `v${loopId++}`
        emit(`${indent}for (const ${v} of (c[${L}]++, [1, 2, 3].slice(0, ${s.n}))) { c[${L}]++`)
        printBlock(s.body, indent + "  ")
        emit(`${indent}}`)
        return
      }
      case "do": {
        const d = `v${loopId++}`
        emit(`${indent}c[${L}]++; c[${L + 1}]++; var ${d} = 0`)
        emit(`${indent}do {`)
        emit(`${indent}  c[${next()}]++; ${d}++`)
        printBlock(s.body, indent + "  ")
        emit(`${indent}} while (c[${L + 1}]++, ${d} < ${s.n})`)
        return
      }
      case "try":
        emit(`${indent}c[${L}]++; try {`)
        printBlock(s.body, indent + "  ")
        emit(`${indent}} finally {`)
        printBlock(s.fin, indent + "  ")
        emit(`${indent}}`)
        return
      case "switch":
        emit(`${indent}switch (c[${L}]++, x % 3) {`)
        s.cases.forEach((statements, k) => {
          emit(`${indent}  ${k === 2 ? "default" : `case ${k}`}:`)
          printBlock(statements, indent + "    ")
          if (s.breaks[k]) emit(`${indent}    c[${next()}]++; break`)
        })
        emit(`${indent}}`)
        return
    }
  }
  emit("const c = new Array(1000).fill(0), log = []")
  emit("function helper(v) {")
  emit("  c[3]++; return (v * 3 + 1) % 89")
  emit("}")
  emit(isAsync ? "exports.run = async function run() {" : "exports.run = function run() {")
  emit("  c[6]++; let x = 1")
  printBlock(body, "  ")
  emit(`  c[${next()}]++; return x`)
  emit("}")
  emit("exports.c = c")
  emit("exports.log = log")
  return lines.join("\n")
}

describe("property: Hits are the executions of each line", () => {
  it("random nested control flow: same result and counts as plain, and hits(L) = c[L] for every line", () => {
    fc.assert(
      fc.property(fc.array(stmtArbitrary(3, false), { maxLength: 5 }), (body) => {
        const source = printProgram(body)
        const plain = { exports: {} as Record<string, any> }
        vm.runInThisContext(`(function (exports) {${source}\n})`)(plain.exports)
        const { exports, profile } = load(source)
        const result = exports.run()
        assert.strictEqual(result, plain.exports.run())
        assert.deepStrictEqual(exports.c, plain.exports.c)
        const hits: Array<number> = new Array(1000).fill(0)
        for (const fn of profile()) for (const stats of fn.lines) hits[stats.lineNo]! += Number(stats.hits)
        assert.deepStrictEqual(hits, exports.c, source)
      }),
      { numRuns: 300 }
    )
  })
})

describe("property: async code keeps its microtask order", () => {
  const runAsync = async (exports: Record<string, any>) => {
    // A concurrent ticker interleaves with the awaits: any extra or missing tick would reorder the log.
    const ticker = (async () => {
      for (let i = 0; i < 60; i++) {
        await null
        exports.log.push(`t${i}`)
      }
    })()
    const result = await exports.run()
    await ticker
    return result
  }

  it("random async control flow: same result, counts and interleaving as plain; hits(L) = c[L]", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stmtArbitrary(3, false, true), { maxLength: 5 }), async (body) => {
        const source = printProgram(body, true)
        const plain = { exports: {} as Record<string, any> }
        vm.runInThisContext(`(function (exports) {${source}\n})`)(plain.exports)
        const { exports, profile } = load(source)
        assert.strictEqual(await runAsync(exports), await runAsync(plain.exports))
        assert.deepStrictEqual(exports.log, plain.exports.log)
        assert.deepStrictEqual(exports.c, plain.exports.c)
        const hits: Array<number> = new Array(1000).fill(0)
        // Only run and helper count themselves (the thenables' `then` methods share their lines).
        for (const fn of profile()) {
          if (fn.name === "run" || fn.name === "helper") for (const stats of fn.lines) hits[stats.lineNo]! += Number(stats.hits)
        }
        assert.deepStrictEqual(hits, exports.c, source)
      }),
      { numRuns: 200 }
    )
  })
})
