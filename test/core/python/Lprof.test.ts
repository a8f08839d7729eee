import { readFileSync } from "node:fs"
import { describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Result from "effect/Result"
import { assert } from "vitest"
import * as Lprof from "../../../src/core/python/Lprof.ts"
import * as Profile from "../../../src/core/Profile.ts"
import * as PythonSource from "../../../src/core/python/PythonSource.ts"
import * as Text from "../../../src/core/render/Text.ts"

const golden = (name: string): Uint8Array => readFileSync(new URL(`../../golden/${name}`, import.meta.url))
const goldenText = (name: string): string => readFileSync(new URL(`../../golden/${name}`, import.meta.url), "utf8")
const fixture = (name: string): Uint8Array => readFileSync(new URL(`../../fixtures/lprof/${name}`, import.meta.url))
const bytesOf = (text: string): Uint8Array => Uint8Array.from(text, (ch) => ch.charCodeAt(0))

const decodeOk = (bytes: Uint8Array): Profile.Profile => {
  const decoded = Lprof.decode(bytes)
  if (Result.isFailure(decoded)) assert.fail(decoded.failure.message)
  return decoded.success
}

const decodeError = (bytes: Uint8Array): string => {
  const decoded = Lprof.decode(bytes)
  if (Result.isSuccess(decoded)) assert.fail("expected an LprofError")
  assert.strictEqual(decoded.failure._tag, "LprofError")
  assert.notInclude(decoded.failure.message, "\n")
  return decoded.failure.message
}

type GoldenFunction = [string, number, string, Array<[number, number, number]>]

/** The numbers of worker-N.json as comparable rows: [file, firstLine, name, [[line, hits, ns]]], sorted. */
const goldenRows = (n: number): Array<[string, number, string, Array<[number, string, string]>]> => {
  const json = JSON.parse(goldenText(`worker-${n}.json`)) as { unit: number; functions: Array<GoldenFunction> }
  assert.strictEqual(json.unit, 1e-9)
  return json.functions
    .map(([file, firstLine, name, lines]): [string, number, string, Array<[number, string, string]>] => [
      file,
      firstLine,
      name,
      lines.map(([lineNo, hits, time]): [number, string, string] => [lineNo, String(hits), String(time)])
    ])
    .sort((a, b) => a[1] - b[1])
}

const rowsOf = (profile: Profile.Profile) =>
  profile.functions.map((fn) => [
    fn.file,
    fn.firstLine,
    fn.name,
    fn.lines.map((line): [number, string, string] => [line.lineNo, String(line.hits), String(line.timeNs)])
  ])

const seedSources = new Map([["seed_pool.py", goldenText("seed_pool.py")]])
const workers = [0, 1, 2, 3].map((n) => decodeOk(golden(`worker-${n}.lprof`)))

describe("Lprof.decode", () => {
  it("decodes each real worker dump to exactly the numbers of its worker-N.json", () => {
    workers.forEach((profile, n) => {
      assert.deepStrictEqual(rowsOf(profile), goldenRows(n), `worker-${n}`)
      assert.deepStrictEqual(Profile.check(profile), [])
      for (const fn of profile.functions) {
        assert.strictEqual(fn.source, undefined)
        assert.strictEqual(fn.fileHash, "")
        assert.isTrue(fn.lines.every((line) => line.waitNs === 0n))
      }
    })
  })

  it("decodes the dump pickled with every protocol 0 to 5 to the same profile", () => {
    for (let protocol = 0; protocol <= 5; protocol++) {
      assert.deepStrictEqual(decodeOk(fixture(`worker-0.protocol-${protocol}.lprof`)), workers[0], `protocol ${protocol}`)
    }
  })

  it("converts a microsecond unit exactly, beyond 64 bits", () => {
    const profile = decodeOk(fixture("unit_us.lprof"))
    assert.deepStrictEqual(profile.functions[0]!.lines, [
      Profile.makeLine(14, { hits: 3n, timeNs: (2n ** 70n + 1n) * 1000n }),
      Profile.makeLine(15, { hits: 1n, timeNs: 7000n })
    ])
  })

  it("merging the four workers reproduces line_profiler's own rendering byte for byte (1e-6 and native unit)", () => {
    const merged = PythonSource.withSources(Profile.ProfileReducer.combineAll(workers), seedSources)
    assert.deepStrictEqual(Profile.check(merged), [])
    assert.strictEqual(Text.render(merged, { unit: 1e-6 }), goldenText("merged_us.txt"))
    assert.strictEqual(Text.render(merged, { unit: 1e-9 }), goldenText("merged_native.txt"))
    assert.strictEqual(Text.render(PythonSource.withSources(workers[0]!, seedSources), { unit: 1e-6 }), goldenText("worker-0_us.txt"))
  })

  it("merges in any order to the same profile", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(workers, { minLength: 4, maxLength: 4 }), (shuffled) => {
        assert.deepStrictEqual(
          shuffled.reduce(Profile.combine, Profile.empty),
          Profile.ProfileReducer.combineAll(workers)
        )
      })
    )
  })

  it("keeps Python and lineprof functions apart by file when merged together", () => {
    const js = Profile.make([
      {
        file: "/app/src/seed.ts",
        name: "child",
        firstLine: 13,
        lastLine: 16,
        fileHash: "abc",
        source: ["function child(num) {", "  num = Math.sqrt(num)", "  return power3(num)", "}"],
        lines: [Profile.makeLine(14, { hits: 10n, timeNs: 700n }), Profile.makeLine(15, { hits: 10n, timeNs: 900n, waitNs: 5n })]
      }
    ])
    const python = Profile.ProfileReducer.combineAll(workers)
    const merged = Profile.ProfileReducer.combineAll([python, js])
    assert.deepStrictEqual(Profile.check(merged), [])
    assert.deepStrictEqual(
      merged.functions.map((fn) => `${fn.file}:${fn.firstLine}:${fn.name}`),
      ["/app/src/seed.ts:13:child", "seed_pool.py:9:power3", "seed_pool.py:13:child"]
    )
    assert.deepStrictEqual(merged.functions[0], js.functions[0])
    assert.deepStrictEqual(merged.functions[2], python.functions[1])
  })

  it("rejects pickles that are not a LineStats with a one-line reason", () => {
    assert.strictEqual(decodeError(bytesOf("\x80\x04]\x94.")), "not a line_profiler dump: the pickle holds a list, not a LineStats")
    assert.match(decodeError(fixture("os_system.protocol-4.pkl")), /^not a readable pickle: pickle refers to posix\.system, which is not allowed here/)
    assert.match(decodeError(golden("worker-0.lprof").subarray(0, 100)), /^not a readable pickle: truncated pickle/)
    assert.strictEqual(decodeError(new Uint8Array(0)), "empty file, expected a line_profiler dump (a pickle)")
    assert.match(decodeError(bytesOf('{"format":"lineprof","version":1,"functions":[]}')), /^not a readable pickle: unknown pickle opcode 0x7b/)
  })

  it("rejects LineStats with fields of the wrong shape", () => {
    const lineStats = (state: string): Uint8Array =>
      bytesOf(`\x80\x04\x8c\x1cline_profiler._line_profiler\x8c\tLineStats\x93)\x81${state}b.`)
    // {"timings": {}, "unit": 1e-9} works: an empty profile.
    const unit = "G\x3e\x11\x2e\x0b\xe8\x26\xd6\x95"
    assert.deepStrictEqual(decodeOk(lineStats(`}(\x8c\x07timings}\x8c\x04unit${unit}u`)), Profile.empty)
    assert.strictEqual(decodeError(lineStats(`}(\x8c\x04unit${unit}u`)), "LineStats.timings is nothing, expected a dict")
    assert.strictEqual(
      decodeError(lineStats(`}(\x8c\x07timings}\x8c\x04unitK\x00u`)),
      "LineStats.unit is 0, expected a positive number of seconds"
    )
    assert.strictEqual(
      decodeError(lineStats(`}(\x8c\x07timings}(\x8c\x01fK\x01\x8c\x01g\x87](K\x02K\x01\x8c\x01x\x87eu\x8c\x04unit${unit}u`)),
      "time of g line 2 is a str, expected an int"
    )
    assert.strictEqual(
      decodeError(lineStats(`}(\x8c\x07timings}(\x8c\x01fK\x00\x8c\x01g\x87]u\x8c\x04unit${unit}u`)),
      "first line of g 0 is not a line number"
    )
    assert.strictEqual(
      decodeError(lineStats(`}(\x8c\x07timings}(\x8c\x01f\x8a\x06\x00\x00\x00\x00\x00\x01\x8c\x01g\x87]u\x8c\x04unit${unit}u`)),
      "first line of g 1099511627776 is not a line number (at most 2147483647)"
    )
    // Hits of 2^128: LONG1 of 17 bytes.
    assert.strictEqual(
      decodeError(lineStats(`}(\x8c\x07timings}(\x8c\x01fK\x01\x8c\x01g\x87](K\x02\x8a\x11${"\x00".repeat(16)}\x01K\x01\x87eu\x8c\x04unit${unit}u`)),
      "g line 2 has a count of 2^128 or more"
    )
  })

  it("refuses a memo bomb: one list of lines handed to every function by reference", () => {
    // 4,000 functions share one list of 20,000 lines: 8·10^7 lines from about 60 KB.
    const out: Array<number> = [...bytesOf("\x80\x02cline_profiler.line_profiler\nLineStats\n)\x81}\x8c\x07timings}(")]
    for (let k = 0; k < 4000; k++) {
      out.push(...bytesOf("\x8c\x04a.py"), 0x4a, (k + 1) & 0xff, ((k + 1) >> 8) & 0xff, 0, 0, ...bytesOf(`\x8c\x06f${String(k).padStart(5, "0")}\x87`))
      if (k === 0) {
        out.push(...bytesOf("]r\x00\x00\x00\x00(K\x01K\x01K\x01\x87"))
        for (let n = 1; n < 20_000; n++) out.push(0x32) // DUP
        out.push(0x65)
      } else {
        out.push(...bytesOf("h\x00"))
      }
    }
    out.push(...bytesOf("us\x8c\x04unitG\x3e\xb0\xc6\xf7\xa0\xb5\xed\x8dsb."))
    assert.strictEqual(
      decodeError(Uint8Array.from(out)),
      "the pickle refers to the same data over and over (its timings expand far beyond the file's size): not a line_profiler dump"
    )
  })
})

describe("Lprof.unitToNs", () => {
  it("gives the exact factor of the decimal unit", () => {
    assert.deepStrictEqual(Lprof.unitToNs(1e-9), { numerator: 1n, denominator: 1n })
    assert.deepStrictEqual(Lprof.unitToNs(1e-6), { numerator: 1000n, denominator: 1n })
    assert.deepStrictEqual(Lprof.unitToNs(1e-7), { numerator: 100n, denominator: 1n })
    assert.deepStrictEqual(Lprof.unitToNs(1), { numerator: 1_000_000_000n, denominator: 1n })
    assert.deepStrictEqual(Lprof.unitToNs(2.5e-10), { numerator: 1n, denominator: 4n })
    assert.deepStrictEqual(Lprof.unitToNs(3.3333e-7), { numerator: 33333n, denominator: 100n })
  })

  it("is exact for every power of ten from 1e-9 to 1e3", () => {
    for (let exponent = -9; exponent <= 3; exponent++) {
      assert.deepStrictEqual(Lprof.unitToNs(Number(`1e${exponent}`)), { numerator: 10n ** BigInt(exponent + 9), denominator: 1n })
    }
  })
})
