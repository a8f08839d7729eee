/**
 * The stats-file text format: exact output of `encode`, counters beyond 2^53,
 * canonical results of `decode`, and the exact one-line message for each kind
 * of bad document. (The round-trip property lives in Profile.test.ts, next to
 * the profile arbitraries.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"

const sample = Profile.make([
  {
    file: "/app/src/pow.ts",
    name: "power3",
    firstLine: 9,
    lastLine: 11,
    fileHash: "9f2c",
    source: ["function power3(x: number) {", "  return x * x * x", "}"],
    lines: [Profile.makeLine(10, { hits: 5000n, timeNs: 513427n })]
  },
  {
    file: "/app/src/pow.ts",
    name: "slow",
    firstLine: 13,
    lastLine: 14,
    fileHash: "9f2c",
    source: undefined,
    lines: [Profile.makeLine(14, { hits: 1n, timeNs: 2n ** 64n, waitNs: 9_007_199_254_740_993n })]
  }
])

const sampleText = `{
  "format": "lineprof",
  "version": 1,
  "functions": [
    {"file":"/app/src/pow.ts","name":"power3","firstLine":9,"lastLine":11,"fileHash":"9f2c","source":["function power3(x: number) {","  return x * x * x","}"],"lines":[[10,5000,513427,0]]},
    {"file":"/app/src/pow.ts","name":"slow","firstLine":13,"lastLine":14,"fileHash":"9f2c","source":null,"lines":[[14,1,"18446744073709551616","9007199254740993"]]}
  ]
}
`

/** What this version writes for `sample`: version 2, with the timing. */
const sampleTextV2 = sampleText.replace(`"version": 1,`, `"version": 2,\n  "timing": {"mode":"exact"},`)

/** The failure message of decoding `text`, or a marker when decoding succeeded. */
const failureOf = (text: string): string => {
  const decoded = StatsFile.decode(text, "a.json")
  return Result.isFailure(decoded) ? decoded.failure : "<decoded without error>"
}

/** Decodes the sample after `edit` changed its JSON. */
const failureAfter = (edit: (document: any) => unknown): string => {
  const document = JSON.parse(sampleText)
  const edited = edit(document)
  return failureOf(JSON.stringify(edited === undefined ? document : edited))
}

describe("StatsFile.encode", () => {
  it("writes the header, one function a line, and big counters as digit strings", () => {
    assert.strictEqual(StatsFile.encode(sample), sampleTextV2)
  })

  it("writes a sampled profile's timing: interval and sample count; reads it back", () => {
    const sampled = Profile.make(sample.functions, { mode: "sampled", intervalNs: 1_000_000, samples: 5120n })
    const text = StatsFile.encode(sampled)
    assert.include(text, `\n  "timing": {"mode":"sampled","intervalNs":1000000,"samples":5120},\n`)
    assert.deepStrictEqual(StatsFile.decode(text, "a.json"), Result.succeed(sampled))
  })

  it("writes an empty profile as an empty function list", () => {
    assert.strictEqual(StatsFile.encode(Profile.empty), `{\n  "format": "lineprof",\n  "version": 2,\n  "timing": null,\n  "functions": []\n}\n`)
  })

  it("refuses a profile that could not be read back", () => {
    const negative: Profile.Profile = {
      functions: [{ ...sample.functions[0]!, lines: [Profile.makeLine(10, { hits: -1n })] }]
    }
    assert.throws(() => StatsFile.encode(negative), "cannot encode an invalid profile: functions[0] (power3).lines[0]: negative counter")
  })
})

describe("StatsFile.decode", () => {
  it("reads its own output back, and version 1 files (no timing) as exact", () => {
    assert.deepStrictEqual(StatsFile.decode(sampleTextV2, "a.json"), Result.succeed(sample))
    assert.deepStrictEqual(StatsFile.decode(sampleText, "a.json"), Result.succeed(sample))
    assert.deepStrictEqual(Result.map(StatsFile.decode(sampleText, "a.json"), Profile.timingOf), Result.succeed(Profile.exactTiming))
  })

  it("reads safe counters written as digit strings and large ones written as numbers", () => {
    const decoded = StatsFile.decode(sampleText.replace("[[10,5000,513427,0]]", `[[10,"5000",9007199254740991,"0"]]`), "a.json")
    assert.deepStrictEqual(
      Result.map(decoded, (profile) => profile.functions[0]!.lines),
      Result.succeed([Profile.makeLine(10, { hits: 5000n, timeNs: 9_007_199_254_740_991n })])
    )
  })

  it("returns a canonical profile: functions sorted, duplicate functions and lines merged", () => {
    const text = JSON.stringify({
      format: "lineprof",
      version: 1,
      functions: [
        { file: "/b.ts", name: "g", firstLine: 5, lastLine: 6, fileHash: "", source: null, lines: [[6, 1, 10, 0]] },
        { file: "/a.ts", name: "f", firstLine: 1, lastLine: 2, fileHash: "", source: null, lines: [[2, 1, 10, 0], [1, 1, 5, 0], [2, 2, 20, 0]] },
        { file: "/b.ts", name: "g", firstLine: 5, lastLine: 6, fileHash: "", source: null, lines: [[6, 3, 30, 1]] }
      ]
    })
    const decoded = StatsFile.decode(text, "a.json")
    const expected = Profile.make([
      { file: "/a.ts", name: "f", firstLine: 1, lastLine: 2, fileHash: "", source: undefined, lines: [Profile.makeLine(1, { hits: 1n, timeNs: 5n }), Profile.makeLine(2, { hits: 3n, timeNs: 30n })] },
      { file: "/b.ts", name: "g", firstLine: 5, lastLine: 6, fileHash: "", source: undefined, lines: [Profile.makeLine(6, { hits: 4n, timeNs: 40n, waitNs: 1n })] }
    ])
    assert.deepStrictEqual(decoded, Result.succeed(expected))
    assert.strictEqual(expected.functions[0]!.name, "f")
    assert.deepStrictEqual(Result.map(decoded, Profile.check), Result.succeed([]))
  })

  it("ignores fields it does not know, so later minor additions stay readable", () => {
    const decoded = StatsFile.decode(sampleText.replace(`"version": 1,`, `"version": 1, "tool": "lineprof 0.2",`), "a.json")
    assert.deepStrictEqual(decoded, Result.succeed(sample))
  })

  it("accepts a UTF-8 byte order mark", () => {
    assert.deepStrictEqual(StatsFile.decode(`\uFEFF${sampleText}`, "a.json"), Result.succeed(sample))
  })
})

describe("StatsFile.decode error messages", () => {
  const cases: ReadonlyArray<readonly [string, () => string, string]> = [
    ["empty text", () => failureOf(""), "a.json: empty file, expected lineprof stats (JSON)"],
    ["blank text", () => failureOf(" \n\t"), "a.json: empty file, expected lineprof stats (JSON)"],
    ["not JSON", () => failureOf("hello"), `a.json: not JSON: Unexpected token 'h', "hello" is not valid JSON`],
    [
      "trailing garbage",
      () => failureOf(`${sampleText}x`),
      `a.json: not JSON: Unexpected non-whitespace character after JSON at position ${sampleText.length} (line 9 column 1)`
    ],
    ["control characters stay escaped", () => failureOf("{\n\u0001}"), `a.json: not JSON: Expected property name or '}' in JSON at position 2 (line 2 column 1)`],
    ["truncated in a string", () => failureOf(sampleText.slice(0, 120)), "a.json: truncated JSON: the text ends in the middle of a value"],
    ["truncated in an array", () => failureOf(sampleText.slice(0, 54)), "a.json: truncated JSON: the text ends in the middle of a value"],
    ["truncated after a number", () => failureOf(`{"format": "lineprof", "version": 1`), "a.json: truncated JSON: the text ends in the middle of a value"],
    ["a JSON array", () => failureOf("[1, 2]"), "a.json: not a lineprof stats file: expected a JSON object, got an array"],
    ["a JSON number", () => failureOf("42"), "a.json: not a lineprof stats file: expected a JSON object, got number 42"],
    ["no format", () => failureOf(`{"version": 1}`), `a.json: not a lineprof stats file: no "format" field (expected "format": "lineprof")`],
    [
      "another format",
      () => failureOf(`{"format": "chrome-cpuprofile", "version": 1}`),
      `a.json: not a lineprof stats file: "format" is "chrome-cpuprofile", expected "lineprof"`
    ],
    ["no version", () => failureOf(`{"format": "lineprof"}`), `a.json: no "version" field in the lineprof header (this lineprof reads versions 1 and 2)`],
    ["a newer version", () => failureOf(`{"format": "lineprof", "version": 3}`), "a.json: lineprof stats version 3 was written by a newer lineprof; this one reads versions 1 and 2 (upgrade lineprof)"],
    ["an older version", () => failureOf(`{"format": "lineprof", "version": 0}`), "a.json: unsupported lineprof stats version 0 (this lineprof reads versions 1 and 2)"],
    ["a version string", () => failureOf(`{"format": "lineprof", "version": "1"}`), `a.json: unsupported lineprof stats version "1" (this lineprof reads versions 1 and 2)`],
    ["version 2 without timing", () => failureOf(sampleTextV2.replace(`\n  "timing": {"mode":"exact"},`, "")), "a.json: timing: missing"],
    [
      "a sampled timing without a positive interval",
      () => failureOf(sampleTextV2.replace(`{"mode":"exact"}`, `{"mode":"sampled","intervalNs":0,"samples":3}`)),
      "a.json: timing.intervalNs: expected a positive number of ns, got 0"
    ],
    ["no functions", () => failureAfter((d) => void delete d.functions), "a.json: functions: missing"],
    ["functions not an array", () => failureAfter((d) => void (d.functions = {})), "a.json: functions: expected an array of function objects, got {}"],
    ["a function that is null", () => failureAfter((d) => void (d.functions[1] = null)), "a.json: functions[1]: expected a function object, got null"],
    ["a missing name", () => failureAfter((d) => void delete d.functions[1].name), "a.json: functions[1].name: missing"],
    ["a numeric name", () => failureAfter((d) => void (d.functions[0].name = 7)), "a.json: functions[0].name: expected a string, got 7"],
    ["firstLine zero", () => failureAfter((d) => void (d.functions[0].firstLine = 0)), "a.json: functions[0].firstLine: expected a positive integer, got 0"],
    ["fractional lastLine", () => failureAfter((d) => void (d.functions[0].lastLine = 10.5)), "a.json: functions[0].lastLine: expected a positive integer, got 10.5"],
    ["lastLine before firstLine", () => failureAfter((d) => void (d.functions[1].lastLine = 12)), "a.json: functions[1].lastLine: expected >= firstLine (13), got 12"],
    [
      "source of the wrong length",
      () => failureAfter((d) => void d.functions[0].source.pop()),
      "a.json: functions[0].source: expected 3 lines (firstLine 9 to lastLine 11), got 2"
    ],
    ["source not an array", () => failureAfter((d) => void (d.functions[0].source = "x")), `a.json: functions[0].source: expected an array of strings or null, got "x"`],
    ["a source line not a string", () => failureAfter((d) => void (d.functions[0].source[1] = null)), "a.json: functions[0].source[1]: expected a string, got null"],
    ["lines not an array", () => failureAfter((d) => void (d.functions[0].lines = 3)), "a.json: functions[0].lines: expected an array of [lineNo, hits, timeNs, waitNs], got 3"],
    ["a short line entry", () => failureAfter((d) => void (d.functions[0].lines[0] = [10, 1, 2])), "a.json: functions[0].lines[0]: expected [lineNo, hits, timeNs, waitNs], got [10,1,2]"],
    ["a long line entry", () => failureAfter((d) => void d.functions[0].lines[0].push(9)), "a.json: functions[0].lines[0]: expected [lineNo, hits, timeNs, waitNs], got [10,5000,513427,0,9]"],
    ["a line number as a string", () => failureAfter((d) => void (d.functions[0].lines[0][0] = "10")), `a.json: functions[0].lines[0][0] (lineNo): expected a positive integer, got "10"`],
    ["negative hits", () => failureAfter((d) => void (d.functions[0].lines[0][1] = -1)), "a.json: functions[0].lines[0][1] (hits): expected a non-negative integer, got -1"],
    ["fractional time", () => failureAfter((d) => void (d.functions[0].lines[0][2] = 1.5)), "a.json: functions[0].lines[0][2] (timeNs): expected a non-negative integer, got 1.5"],
    ["a negative digit string", () => failureAfter((d) => void (d.functions[1].lines[0][2] = "-18446744073709551616")), `a.json: functions[1].lines[0][2] (timeNs): expected a non-negative integer, got "-18446744073709551616"`],
    ["a fractional digit string", () => failureAfter((d) => void (d.functions[1].lines[0][3] = "2.5")), `a.json: functions[1].lines[0][3] (waitNs): expected a non-negative integer, got "2.5"`],
    [
      "an unsafe integer written as a number",
      () => failureAfter((d) => void (d.functions[0].lines[0][2] = 2 ** 64)),
      "a.json: functions[0].lines[0][2] (timeNs): expected a non-negative integer, got 18446744073709552000 (write integers above 2^53 - 1 as digit strings)"
    ],
    ["a boolean counter", () => failureAfter((d) => void (d.functions[0].lines[0][3] = true)), "a.json: functions[0].lines[0][3] (waitNs): expected a non-negative integer, got true"],
    [
      "the first of several problems",
      () =>
        failureAfter((d) => {
          d.functions[0].lines[0][1] = -1
          d.functions[1].name = null
        }),
      "a.json: functions[0].lines[0][1] (hits): expected a non-negative integer, got -1"
    ],
    [
      "a number too large for a double (1e400) is not 'null'",
      () => failureOf(sampleText.replace("[[10,5000,", "[[10,1e400,")),
      "a.json: functions[0].lines[0][1] (hits): expected a non-negative integer, got a number too large to represent (not finite)"
    ],
    [
      "a line number beyond 2^31 - 1",
      () => failureAfter((d) => void (d.functions[1].lines[0][0] = 2 ** 40)),
      "a.json: functions[1].lines[0][0] (lineNo): expected a line number from 1 to 2147483647, got 1099511627776"
    ],
    [
      "a firstLine beyond 2^31 - 1",
      () => failureAfter((d) => void (d.functions[0].firstLine = 2 ** 31)),
      "a.json: functions[0].firstLine: expected a line number from 1 to 2147483647, got 2147483648"
    ],
    [
      "JSON nested 100,000 deep in functions",
      () => failureOf(`{"format":"lineprof","version":1,"functions":[${"[".repeat(100_000)}${"]".repeat(100_000)}]}`),
      "a.json: functions[0][0][0]: nested too deeply (more than 16 levels of arrays and objects)"
    ],
    [
      "JSON nested 100,000 deep in a source",
      () => failureOf(sampleText.replace(`"  return x * x * x"`, `${"[".repeat(100_000)}${"]".repeat(100_000)}`)),
      "a.json: functions[0].source[1]: nested too deeply (more than 16 levels of arrays and objects)"
    ],
    [
      "JSON nested 100,000 deep in the lines",
      () => failureOf(sampleText.replace(`[[14,1,"18446744073709551616","9007199254740993"]]`, `[${"[".repeat(100_000)}${"]".repeat(100_000)}]`)),
      "a.json: functions[1].lines[0]: nested too deeply (more than 16 levels of arrays and objects)"
    ],
    [
      "a long value is shortened",
      () => failureAfter((d) => void (d.functions[0].file = ["x".repeat(100)])),
      `a.json: functions[0].file: expected a string, got ["${"x".repeat(55)}...`
    ]
  ]

  for (const [title, run, message] of cases) {
    it(title, () => {
      const failure = run()
      assert.strictEqual(failure, message)
      assert.notInclude(failure, "\n")
    })
  }
})
