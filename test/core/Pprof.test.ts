/**
 * pprof as lineprof writes it: the exact message for a known profile (sample
 * types, one Function a function, one Location and one Sample a line, the
 * header comment and the extras string), the round trip Profile -> pprof ->
 * Profile over arbitrary profiles (counters up to 2^63 - 1, any text,
 * lone surrogates), and the one-line message for each kind of bad input.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Result from "effect/Result"
import * as PprofFormat from "pprof-format"
import * as Profile from "../../src/core/Profile.ts"
import * as Pprof from "../../src/core/render/Pprof.ts"

const sample = Profile.make([
  {
    file: "/app/src/grid.ts",
    name: "Grid.walk",
    firstLine: 20,
    lastLine: 22,
    fileHash: "51d0",
    source: ["  walk(rows: Array<Row>) {", "    for (const row of rows) this.visit(row)", "  }"],
    lines: [Profile.makeLine(21, { hits: 4003n, timeNs: 812345n })]
  },
  {
    file: "/app/src/pow.ts",
    name: "slow",
    firstLine: 13,
    lastLine: 15,
    fileHash: "9f2c",
    source: undefined,
    lines: [
      Profile.makeLine(14, { hits: 1n, timeNs: 2n ** 63n - 1n, waitNs: 9_007_199_254_740_993n }),
      Profile.makeLine(15)
    ]
  },
  { file: "/app/src/b.ts", name: "never", firstLine: 1, lastLine: 1, fileHash: "77", source: ["function never() {}"], lines: [] }
])

/** The failure of decoding `bytes` as "f.pb", or a marker when it decoded. */
const failureOf = (bytes: Uint8Array): string => {
  const decoded = Pprof.decode(bytes, "f.pb")
  return Result.isFailure(decoded) ? decoded.failure : "<decoded without error>"
}

/** The failure of decoding the sample's message after `edit` changed it. */
const failureAfter = (edit: (message: PprofFormat.Profile) => void): string => {
  const message = Pprof.toMessage(sample)
  edit(message)
  return failureOf(message.encode())
}

const walk = sample.functions.find((fn) => fn.name === "Grid.walk")!

const stringsOf = (message: PprofFormat.Profile) => message.stringTable.strings
const text = (message: PprofFormat.Profile, index: number | bigint): string => stringsOf(message)[Number(index)]!

describe("Pprof.encode", () => {
  it("a sampled profile states its mode, interval and sample count in the header comment, and its interval as the period", () => {
    const sampled = Profile.make(sample.functions, { mode: "sampled", intervalNs: 1_000_000, samples: 12_345n })
    const message = PprofFormat.Profile.decode(Pprof.encode(sampled))
    assert.strictEqual(`${text(message, message.periodType!.type)}/${text(message, message.periodType!.unit)}`, "wall/nanoseconds")
    assert.strictEqual(Number(message.period), 1_000_000)
    assert.include(text(message, message.comment[0]!), `"timing":{"mode":"sampled","intervalNs":1000000,"samples":12345}`)
    assert.deepStrictEqual(Result.getOrThrow(Pprof.decode(Pprof.encode(sampled), "s.pb")), sampled)
    // An exact profile states nothing: its bytes are those of a profile without timing.
    assert.deepStrictEqual(Pprof.encode(Profile.make(sample.functions, Profile.exactTiming)), Pprof.encode(sample))
  })

  it("writes one Function a function, one Location and one Sample a line, values as exact int64", () => {
    const message = PprofFormat.Profile.decode(Pprof.encode(sample))
    assert.deepStrictEqual(
      message.sampleType.map((t) => `${text(message, t.type)}/${text(message, t.unit)}`),
      ["hits/count", "time/nanoseconds", "wait/nanoseconds"]
    )
    assert.strictEqual(text(message, message.defaultSampleType), "time")
    assert.deepStrictEqual(
      message.function.map((fn) => [Number(fn.id), text(message, fn.name), text(message, fn.systemName), text(message, fn.filename), Number(fn.startLine)]),
      [
        [1, "never", "never", "/app/src/b.ts", 1],
        [2, "Grid.walk", "Grid.walk", "/app/src/grid.ts", 20],
        [3, "slow", "slow", "/app/src/pow.ts", 13]
      ]
    )
    assert.deepStrictEqual(
      message.location.map((location) => [Number(location.id), location.line.map((line) => [Number(line.functionId), Number(line.line)])]),
      [[1, [[2, 21]]], [2, [[3, 14]]], [3, [[3, 15]]]]
    )
    assert.deepStrictEqual(
      message.sample.map((s) => [s.locationId.map(Number), s.value.map(BigInt)]),
      [
        [[1], [4003n, 812345n, 0n]],
        [[2], [1n, 2n ** 63n - 1n, 9_007_199_254_740_993n]],
        [[3], [0n, 0n, 0n]]
      ]
    )
    assert.deepStrictEqual(
      message.mapping.map((m) => [Number(m.id), text(message, m.filename), m.hasFunctions, m.hasFilenames, m.hasLineNumbers]),
      [[1, "lineprof", true, true, true]]
    )
    const comments = message.comment.map((index) => text(message, index))
    assert.strictEqual(comments.length, 1)
    const header = JSON.parse(comments[0]!.slice("lineprof ".length))
    assert.deepStrictEqual({ ...header, extras: undefined }, { version: 1, functions: 3, lines: 3, extras: undefined })
    assert.deepStrictEqual(JSON.parse(text(message, header.extras)), [
      { lastLine: 1, fileHash: "77", source: ["function never() {}"] },
      { lastLine: 22, fileHash: "51d0", source: ["  walk(rows: Array<Row>) {", "    for (const row of rows) this.visit(row)", "  }"] },
      { lastLine: 15, fileHash: "9f2c", source: null }
    ])
  })

  it("leaves out the wait sample type when no line waited", () => {
    const noWait = Profile.make([walk])
    const message = PprofFormat.Profile.decode(Pprof.encode(noWait))
    assert.deepStrictEqual(message.sampleType.map((t) => text(message, t.type)), ["hits", "time"])
    assert.deepStrictEqual(message.sample.map((s) => s.value.map(BigInt)), [[4003n, 812345n]])
  })

  it("refuses a counter of 2^63 or more (pprof values are int64) and an invalid profile", () => {
    const big = Profile.make([{ ...walk, lines: [Profile.makeLine(21, { timeNs: 2n ** 63n })] }])
    assert.throws(() => Pprof.encode(big), /cannot encode functions\[0\]\.lines\[0\] timeNs = 9223372036854775808: pprof values are int64/)
    const invalid: Profile.Profile = { functions: [{ ...walk, lastLine: 3 }] }
    assert.throws(() => Pprof.encode(invalid), /cannot encode an invalid profile: functions\[0\] \(Grid\.walk\): lastLine must be >= firstLine/)
  })
})

// -- round trip ---------------------------------------------------------------

/** Any code point, and now and then a lone surrogate (no UTF-8 form: the extras keep it). */
const char = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom("\uD800", "\uDFFF", "\uDBFF") }
)
const anyText = fc.string({ unit: char, maxLength: 12 })

/** Counters: small, around 2^53, and up to pprof's int64 limit. */
const counter = fc.oneof(
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.constantFrom(0n, 2n ** 53n + 1n, 2n ** 63n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })
)

const functionProfile: fc.Arbitrary<Profile.FunctionProfile> = fc
  .record({
    file: fc.oneof(fc.constantFrom("/app/a.ts", "/app/b.ts"), anyText),
    name: fc.oneof(fc.constantFrom("f", "Queue.push"), anyText),
    // Line numbers up to Profile.check's cap, 2^31 - 1, including its last lines.
    firstLine: fc.oneof(fc.integer({ min: 1, max: 2 ** 31 - 7 }), fc.constant(2 ** 31 - 7)),
    span: fc.integer({ min: 0, max: 6 }),
    fileHash: fc.oneof(fc.constantFrom("", "3f1a"), anyText),
    withSource: fc.boolean(),
    sourceText: fc.array(anyText, { minLength: 7, maxLength: 7 }),
    lines: fc.array(fc.record({ offset: fc.nat({ max: 6 }), hits: counter, timeNs: counter, waitNs: fc.oneof(fc.constant(0n), counter) }), { maxLength: 5 })
  })
  .map((r) => ({
    file: r.file,
    name: r.name,
    firstLine: r.firstLine,
    lastLine: r.firstLine + r.span,
    fileHash: r.fileHash,
    source: r.withSource ? r.sourceText.slice(0, r.span + 1) : undefined,
    lines: r.lines.map(({ offset, ...counters }) => Profile.makeLine(r.firstLine + Math.min(offset, r.span), counters))
  }))

/** Canonical profiles whose counters add up to no more than 2^63 - 1 per line after merging duplicates. */
/** Every timing a profile can state: implied, exact with probe figures, sampled, mixed. */
const timing: fc.Arbitrary<Profile.Timing | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(Profile.exactTiming),
  fc.record({ mode: fc.constant("exact" as const), probeNs: fc.bigInt({ min: 0n, max: 2n ** 70n }), wallNs: fc.bigInt({ min: 0n, max: 2n ** 70n }) }),
  fc.record({ mode: fc.constant("sampled" as const), intervalNs: fc.integer({ min: 1, max: 10 ** 9 }), samples: fc.bigInt({ min: 0n, max: 2n ** 70n }) }),
  fc.constant(Profile.mixedTiming)
)

const profile: fc.Arbitrary<Profile.Profile> = fc
  .tuple(fc.array(functionProfile, { maxLength: 5 }), timing)
  .map(([functions, stated]) => Profile.make(functions, stated))
  .filter((p) => p.functions.every((fn) => fn.lines.every((l) => l.hits <= Pprof.maxValue && l.timeNs <= Pprof.maxValue && l.waitNs <= Pprof.maxValue)))

describe("Pprof round trip", () => {
  it("decode(encode(p)) is p, exactly", () => {
    fc.assert(
      fc.property(profile, (p) => {
        assert.deepStrictEqual(Profile.check(p), [])
        assert.deepStrictEqual(Result.getOrThrow(Pprof.decode(Pprof.encode(p), "p.pb")), p)
      }),
      { numRuns: 500 }
    )
  })

  it("reads the sample back, empty profile included", () => {
    assert.deepStrictEqual(Result.getOrThrow(Pprof.decode(Pprof.encode(sample), "s.pb")), sample)
    assert.deepStrictEqual(Result.getOrThrow(Pprof.decode(Pprof.encode(Profile.empty), "e.pb")), Profile.empty)
  })
})

// -- bad input ----------------------------------------------------------------

describe("Pprof.decode, bad input: one line naming the file", () => {
  it("bytes that are no protobuf", () => {
    assert.strictEqual(failureOf(new TextEncoder().encode('{"format":"lineprof"}')), "f.pb: not a pprof profile (Unrecognized value type: 3)")
  })

  it("a pprof written by another tool (no lineprof header), marked foreign", () => {
    const strings = new PprofFormat.StringTable()
    const other = new PprofFormat.Profile({
      sampleType: [{ type: strings.dedup("cpu"), unit: strings.dedup("nanoseconds") }],
      function: [{ id: 1, name: strings.dedup("main") }],
      location: [{ id: 1, line: [{ functionId: 1, line: 3 }] }],
      sample: [{ locationId: [1], value: [10] }],
      comment: [strings.dedup("made by go")],
      stringTable: strings
    }).encode()
    const decoded = Pprof.decodeExplained(other, "cpu.pb")
    assert.deepStrictEqual(
      Result.isFailure(decoded) ? decoded.failure : undefined,
      { message: "cpu.pb: a pprof profile not written by lineprof (lineprof reads back only the pprof files it writes)", foreign: true }
    )
    assert.strictEqual(failureAfter((m) => (m.comment = [])), "f.pb: a pprof profile not written by lineprof (lineprof reads back only the pprof files it writes)")
  })

  it("a newer layout version", () => {
    assert.strictEqual(
      failureAfter((m) => (m.comment = [m.stringTable.dedup('lineprof {"version":2,"layout":"other"}')])),
      "f.pb: lineprof pprof version 2 was written by a newer lineprof; this one reads version 1"
    )
  })

  it("a header or extras that do not parse", () => {
    assert.strictEqual(
      failureAfter((m) => (m.comment = [m.stringTable.dedup('lineprof {"functions":0}')])),
      "f.pb: lineprof header comment: version: missing"
    )
    assert.strictEqual(failureAfter((m) => (m.comment = [m.stringTable.dedup("lineprof {")])), "f.pb: lineprof header comment: not JSON")
    assert.strictEqual(
      failureAfter((m) => (m.comment = [m.stringTable.dedup('lineprof {"version":1,"functions":-1,"lines":0,"extras":0}')])),
      "f.pb: lineprof header comment: functions: expected a count, got -1"
    )
    assert.strictEqual(
      failureAfter((m) => (m.comment = [m.stringTable.dedup('lineprof {"version":1,"functions":3,"lines":3,"extras":99999}')])),
      "f.pb: lineprof header comment: extras: string index 99999 is outside the string table (rewritten by another pprof tool? lineprof reads back only the files it wrote)"
    )
    assert.strictEqual(
      failureAfter((m) => (m.comment = [m.stringTable.dedup(`lineprof {"version":1,"functions":3,"lines":3,"extras":${m.stringTable.dedup("[]")}}`)])),
      "f.pb: lineprof extras describe 0 functions, the profile has 3 (rewritten by another pprof tool? lineprof reads back only the files it wrote)"
    )
    assert.strictEqual(
      failureAfter((m) => (m.comment = [m.stringTable.dedup(`lineprof {"version":1,"functions":3,"lines":3,"extras":${m.stringTable.dedup('[{"lastLine":0}]')}}`)])),
      "f.pb: lineprof extras: [0].lastLine: expected a positive integer, got 0 (rewritten by another pprof tool? lineprof reads back only the files it wrote)"
    )
  })

  it("other sample types", () => {
    assert.strictEqual(
      failureAfter((m) => m.sampleType.reverse()),
      "f.pb: sample types are wait/nanoseconds, time/nanoseconds, hits/count, expected hits/count, time/nanoseconds, wait/nanoseconds (the last one optional)"
    )
  })

  it("a negative value (int64 below 0)", () => {
    assert.strictEqual(
      failureAfter((m) => (m.sample[0]!.value[1] = -5n)),
      "f.pb: sample[0]: time/nanoseconds must be a non-negative int64, got 18446744073709551611"
    )
  })

  it("samples, locations and functions that do not fit together", () => {
    assert.strictEqual(failureAfter((m) => (m.sample[0]!.locationId = [7])), "f.pb: sample[0]: expected one known location id, got [7]")
    assert.strictEqual(failureAfter((m) => (m.sample[0]!.value = [1, 2])), "f.pb: sample[0]: 2 values for 3 sample types")
    assert.strictEqual(failureAfter((m) => (m.location[1]!.line[0]!.functionId = 9)), "f.pb: location[1]: unknown function id 9")
    assert.strictEqual(failureAfter((m) => (m.location[1]!.line = [])), "f.pb: location[1]: expected one line, got 0")
    assert.strictEqual(failureAfter((m) => (m.location[1]!.id = 1)), "f.pb: location[1]: id 1 is not a new positive integer")
    assert.strictEqual(failureAfter((m) => (m.function[2]!.startLine = 0)), "f.pb: function[2]: start_line 0 is not a positive integer")
    assert.strictEqual(failureAfter((m) => (m.function[0]!.name = 123456)), "f.pb: function[0]: string index 123456 is outside the string table")
    assert.strictEqual(failureAfter((m) => (m.location[0]!.line[0]!.line = 0)), "f.pb: location[0]: line 0 is not a positive integer")
  })

  it("a message cut short: fewer samples than the header promises", () => {
    assert.strictEqual(
      failureAfter((m) => m.sample.pop()),
      "f.pb: incomplete: the lineprof header promises 3 functions and 3 lines, found 3 and 2"
    )
  })

  it("never throws on any bytes, and names the file", () => {
    const valid = Pprof.encode(sample)
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // Damaged lineprof pprof: a byte changed, or the end cut off.
          fc.record({ at: fc.nat({ max: valid.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }).map(({ at, byte }) => {
            const copy = valid.slice()
            copy[at] = byte
            return copy
          }),
          fc.nat({ max: valid.length - 1 }).map((end) => valid.slice(0, end))
        ),
        (bytes) => {
          const decoded = Pprof.decode(bytes, "f.pb")
          if (Result.isFailure(decoded)) {
            assert.match(decoded.failure, /^f\.pb: /)
            assert.notInclude(decoded.failure, "\n")
          } else {
            assert.deepStrictEqual(Profile.check(decoded.success), [])
          }
        }
      ),
      { numRuns: 2000 }
    )
  })
})
