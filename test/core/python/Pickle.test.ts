import { readFileSync } from "node:fs"
import { describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Result from "effect/Result"
import { assert } from "vitest"
import * as Pickle from "../../../src/core/python/Pickle.ts"
import type { PickleValue } from "../../../src/core/python/Pickle.ts"

const fixture = (name: string): Uint8Array => readFileSync(new URL(`../../fixtures/lprof/${name}`, import.meta.url))
const golden = (name: string): Uint8Array => readFileSync(new URL(`../../golden/${name}`, import.meta.url))
const bytesOf = (text: string): Uint8Array => Uint8Array.from(text, (ch) => ch.charCodeAt(0))

const lineStatsGlobals = ["line_profiler._line_profiler.LineStats", "copyreg._reconstructor", "builtins.object"]

const loadOk = (bytes: Uint8Array, allowedGlobals: ReadonlyArray<string> = []): PickleValue => {
  const loaded = Pickle.load(bytes, { allowedGlobals })
  if (Result.isFailure(loaded)) assert.fail(`expected a value, got: ${loaded.failure.message}`)
  return loaded.success
}

const loadError = (bytes: Uint8Array, allowedGlobals: ReadonlyArray<string> = []): Pickle.PickleError => {
  const loaded = Pickle.load(bytes, { allowedGlobals })
  if (Result.isSuccess(loaded)) assert.fail("expected a PickleError")
  return loaded.failure
}

const T = (...items: Array<PickleValue>): PickleValue => ({ _tag: "Tuple", items })
const L = (...items: Array<PickleValue>): PickleValue => ({ _tag: "List", items })
const D = (...entries: Array<readonly [PickleValue, PickleValue]>): PickleValue => ({ _tag: "Dict", entries })

/** What test/fixtures/lprof/make_fixtures.py pickles as `values`, per protocol. */
const expectedValues = (protocol: number): PickleValue => {
  const values: Array<PickleValue> = [
    null, true, false, 0n, -1n, 255n, 256n, 65535n, 65536n, 2147483647n, -2147483648n, 2n ** 64n + 5n, -(2n ** 100n),
    1.5, -0, 1e-9, "", "h\u00e9llo\n\\ \u2603 \u{1F600}", T(), T(1n), T(1n, 2n), T(1n, 2n, 3n), T(1n, 2n, 3n, 4n),
    L(), L(1n, L(2n, L(3n))), D(), D([T(1n, "a"), L(1n, 2n)], ["k", null])
  ]
  if (protocol >= 3) values.push(Uint8Array.of(0, 0xff, ...bytesOf("bytes")))
  if (protocol >= 4) values.push({ _tag: "Set", frozen: false, items: [1n, 2n] }, { _tag: "Set", frozen: true, items: [3n] })
  return L(...values)
}

describe("Pickle.load", () => {
  it("reads Python's pickles of plain values with every protocol, 0 to 5", () => {
    for (let protocol = 0; protocol <= 5; protocol++) {
      assert.deepStrictEqual(loadOk(fixture(`values.protocol-${protocol}.pkl`)), expectedValues(protocol), `protocol ${protocol}`)
    }
  })

  it("reads line_profiler's real dump as a LineStats object with its state", () => {
    const value = loadOk(golden("worker-0.lprof"), lineStatsGlobals)
    assert.deepStrictEqual(value, {
      _tag: "Object",
      cls: { _tag: "Global", module: "line_profiler._line_profiler", name: "LineStats" },
      args: [],
      state: D(
        ["timings", D(
          [T("seed_pool.py", 9n, "power3"), L(T(10n, 5000n, 513427n))],
          [T("seed_pool.py", 13n, "child"), L(T(14n, 5000n, 714396n), T(15n, 5000n, 2385374n), T(16n, 5000n, 386313n))]
        )],
        ["unit", 1e-9]
      )
    })
  })

  it("reads the same dump pickled with protocols 0 to 5 (copyreg._reconstructor, GLOBAL, STACK_GLOBAL)", () => {
    const reference = loadOk(golden("worker-0.lprof"), lineStatsGlobals)
    for (let protocol = 0; protocol <= 5; protocol++) {
      assert.deepStrictEqual(loadOk(fixture(`worker-0.protocol-${protocol}.lprof`), lineStatsGlobals), reference, `protocol ${protocol}`)
    }
  })

  it("reads Python 2 byte strings (STRING with escapes, SHORT_BINSTRING) and text floats", () => {
    assert.deepStrictEqual(loadOk(bytesOf("(S'a\\nb\\x41\\101\\''\nU\x03xyzF-2.5e-07\nL123456789012345678901234567890L\nl.")), L("a\nbAA'", "xyz", -2.5e-7, 123456789012345678901234567890n))
  })

  it("keeps shared references shared (memo) and supports DUP, POP and POP_MARK", () => {
    // [x, x] where x = [] memoized, then a DUPed and POPped value, and a marked group dropped.
    const value = loadOk(bytesOf("\x80\x02]q\x00h\x00\x86q\x012\x30(K\x01K\x021."))
    assert.deepStrictEqual(value, T(L(), L()))
    if (value === null || typeof value !== "object" || value instanceof Uint8Array || value._tag !== "Tuple") return assert.fail()
    assert.strictEqual(value.items[0], value.items[1])
  })

  it("refuses a REDUCE of os.system (GLOBAL and STACK_GLOBAL) with a one-line reason, whatever is allowed besides", () => {
    for (const protocol of [0, 2, 4]) {
      const error = loadError(fixture(`os_system.protocol-${protocol}.pkl`), lineStatsGlobals)
      assert.strictEqual(error._tag, "PickleError")
      assert.match(error.message, /^pickle refers to posix\.system, which is not allowed here \(at byte \d+\)$/)
    }
    const stackGlobal = bytesOf("\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.")
    assert.match(loadError(stackGlobal).message, /^pickle refers to os\.system, which is not allowed here/)
    assert.match(loadError(bytesOf("cbuiltins\neval\n(S'1'\ntR.")).message, /builtins\.eval, which is not allowed/)
  })

  it("keeps messages on one line and plain whatever names and literals the pickle holds", () => {
    const newlineName = bytesOf("\x80\x04\x8c\x02os\x8c\x07sys\ntem\x93.")
    assert.strictEqual(loadError(newlineName).message, "pickle refers to os.sys\\ntem, which is not allowed here (at byte 15)")
    assert.strictEqual(loadError(bytesOf("Fconstructor\n.")).message, 'bad float literal "constructor" (at byte 0)')
    assert.match(loadError(bytesOf("c__proto__\nx\n.")).message, /^pickle refers to __proto__\.x, which is not allowed here/)
  })

  it("refuses LineStats itself unless the caller allows it", () => {
    assert.match(loadError(golden("worker-0.lprof")).message, /^pickle refers to line_profiler\._line_profiler\.LineStats, which is not allowed here \(at byte 54\)$/)
  })

  it("refuses copyreg._reconstructor used for anything but a plain object", () => {
    const withState = bytesOf("ccopy_reg\n_reconstructor\n(cline_profiler._line_profiler\nLineStats\ncbuiltins\nobject\nI1\ntR.")
    assert.match(loadError(withState, lineStatsGlobals).message, /only supported for plain objects/)
  })

  it("refuses persistent ids, the extension registry and out-of-band buffers", () => {
    assert.match(loadError(bytesOf("Pabc\n.")).message, /^persistent ids are not supported/)
    assert.match(loadError(bytesOf("\x80\x02\x82\x01.")).message, /^the copyreg extension registry is not supported/)
    assert.match(loadError(bytesOf("\x80\x05\x97.")).message, /^out-of-band buffers are not supported/)
  })

  it("names an unknown opcode and its offset", () => {
    assert.strictEqual(loadError(bytesOf("\x80\x05\xff.")).message, "unknown pickle opcode 0xff (at byte 2)")
    assert.strictEqual(loadError(bytesOf("\x80\x06.")).message, "unsupported pickle protocol 6 (at byte 0)")
  })

  it("says truncated for every proper prefix of a real dump", () => {
    const bytes = golden("worker-0.lprof")
    for (let length = 0; length < bytes.length; length++) {
      const error = loadError(bytes.subarray(0, length), lineStatsGlobals)
      assert.match(error.message, /^truncated pickle/, `prefix of ${length} bytes`)
      assert.notInclude(error.message, "\n")
    }
  })

  it("reports malformed stacks instead of crashing", () => {
    assert.match(loadError(bytesOf("a.")).message, /stack underflow/)
    assert.match(loadError(bytesOf("K\x01K\x02a.")).message, /APPEND expects a list, got an int/)
    assert.match(loadError(bytesOf("h\x07.")).message, /memo entry 7 is missing/)
    assert.match(loadError(bytesOf("t.")).message, /no mark on the stack/)
  })

  it("never throws and never hangs on corrupted dumps: every outcome is a value or a PickleError", () => {
    const bytes = golden("worker-0.lprof")
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
        const corrupted = Uint8Array.from(bytes)
        for (const [at, byte] of edits) corrupted[at] = byte
        const loaded = Pickle.load(corrupted, { allowedGlobals: lineStatsGlobals })
        if (Result.isFailure(loaded)) assert.strictEqual(loaded.failure._tag, "PickleError")
      }),
      { numRuns: 2000 }
    )
  })

  it("round-trips arbitrary values written with protocol-2 binary opcodes", () => {
    type Plain = bigint | string | null | boolean | { readonly list: ReadonlyArray<Plain> } | { readonly tuple: ReadonlyArray<Plain> }
    const plain: fc.Arbitrary<Plain> = fc.letrec<{ value: Plain }>((tie) => ({
      value: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
        fc.string({ unit: "grapheme" }),
        fc.constantFrom(null, true, false),
        fc.array(tie("value"), { maxLength: 4 }).map((list) => ({ list })),
        fc.array(tie("value"), { maxLength: 4 }).map((tuple) => ({ tuple }))
      )
    })).value
    const encoder = new TextEncoder()
    const u32 = (n: number): Array<number> => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]
    const longBytes = (n: bigint): Array<number> => {
      // Two's complement little-endian, as Python's encode_long.
      const out: Array<number> = []
      let rest = n
      do {
        out.push(Number(rest & 0xffn))
        rest >>= 8n
      } while (!((rest === 0n && (out[out.length - 1]! & 0x80) === 0) || (rest === -1n && (out[out.length - 1]! & 0x80) !== 0)))
      return n === 0n ? [] : out
    }
    const write = (value: Plain, out: Array<number>): void => {
      if (value === null) out.push(0x4e)
      else if (value === true) out.push(0x88)
      else if (value === false) out.push(0x89)
      else if (typeof value === "bigint") {
        if (value >= 0n && value < 256n) out.push(0x4b, Number(value))
        else if (value >= -(2n ** 31n) && value < 2n ** 31n) out.push(0x4a, ...u32(Number(BigInt.asUintN(32, value))))
        else {
          const bytes = longBytes(value)
          out.push(0x8a, bytes.length, ...bytes)
        }
      } else if (typeof value === "string") {
        const bytes = encoder.encode(value)
        out.push(0x58, ...u32(bytes.length), ...bytes)
      } else if ("list" in value) {
        out.push(0x5d, 0x28)
        for (const item of value.list) write(item, out)
        out.push(0x65)
      } else {
        out.push(0x28)
        for (const item of value.tuple) write(item, out)
        out.push(0x74)
      }
    }
    const toPickleValue = (value: Plain): PickleValue =>
      value === null || typeof value !== "object"
        ? value
        : "list" in value
          ? L(...value.list.map(toPickleValue))
          : T(...value.tuple.map(toPickleValue))
    fc.assert(
      fc.property(plain, (value) => {
        const out = [0x80, 0x02]
        write(value, out)
        out.push(0x2e)
        assert.deepStrictEqual(loadOk(Uint8Array.from(out)), toPickleValue(value))
      }),
      { numRuns: 500 }
    )
  })

  it("reads a list of 300,000 items appended in one batch (no call-stack limit)", () => {
    const count = 300_000
    const bytes = new Uint8Array(4 + 2 * count + 2)
    bytes.set([0x80, 0x02, 0x5d, 0x28]) // PROTO 2, EMPTY_LIST, MARK
    for (let k = 0; k < count; k++) bytes.set([0x4b, k & 0xff], 4 + 2 * k) // BININT1
    bytes.set([0x65, 0x2e], 4 + 2 * count) // APPENDS, STOP
    const value = loadOk(bytes)
    if (value === null || typeof value !== "object" || value instanceof Uint8Array || value._tag !== "List") return assert.fail()
    assert.strictEqual(value.items.length, count)
    assert.strictEqual(value.items[count - 1], BigInt((count - 1) & 0xff))
  })

  it("hasMagic tells binary pickles from text", () => {
    assert.isTrue(Pickle.hasMagic(golden("worker-0.lprof")))
    assert.isFalse(Pickle.hasMagic(bytesOf('{"format":"lineprof"}')))
    assert.isFalse(Pickle.hasMagic(bytesOf("\x80")))
    // Protocols 0 and 1 have no PROTO header: 0x80 followed by 0 or 1 is no pickle header at all.
    assert.isFalse(Pickle.hasMagic(bytesOf("\x80\x01]q\x00.")))
    assert.isFalse(Pickle.hasMagic(bytesOf("\x80\x00")))
    for (const protocol of [2, 3, 4, 5]) assert.isTrue(Pickle.hasMagic(Uint8Array.of(0x80, protocol)))
  })

  it("LONG4 reads a 256 KB integer exactly (two's complement, little-endian)", () => {
    const size = 256 * 1024
    const body = new Uint8Array(size)
    for (let k = 0; k < size; k++) body[k] = (k * 37 + 11) & 0xff
    body[size - 1] = 0x7f // positive
    const pickle = new Uint8Array([0x80, 0x02, 0x8b, size & 0xff, (size >> 8) & 0xff, (size >> 16) & 0xff, 0, ...body, 0x2e])
    let expected = 0n
    for (let k = size - 1; k >= 0; k -= 4096) {
      let chunk = 0n
      for (let j = k; j > k - 4096 && j >= 0; j--) chunk = (chunk << 8n) | BigInt(body[j]!)
      expected = (expected << 32768n) | chunk
    }
    assert.strictEqual(loadOk(pickle), expected)
    body[size - 1] = 0xff // negative: the same magnitude minus 2^(8·size)
    const negative = new Uint8Array([0x80, 0x02, 0x8b, size & 0xff, (size >> 8) & 0xff, (size >> 16) & 0xff, 0, ...body, 0x2e])
    assert.strictEqual(loadOk(negative), expected + (0x80n << BigInt(8 * (size - 1))) - (1n << BigInt(8 * size)))
  })
})
