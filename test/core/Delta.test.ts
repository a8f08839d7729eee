/**
 * Delta: `difference` of two snapshots (the law `combine(before,
 * difference(after, before))` equals `after`, checked by a property) and the
 * trimming of sources that already crossed to a receiver.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Delta from "../../src/core/Delta.ts"
import * as Profile from "../../src/core/Profile.ts"

const fn = (lines: ReadonlyArray<Profile.LineStats>, name = "f", source?: ReadonlyArray<string>): Profile.FunctionProfile => ({
  file: "/a.js", name, firstLine: 1, lastLine: 3, fileHash: "h", source, lines
})

/** Functions of one small file, so that random profiles share functions and lines. */
const functionProfile = (minHits: bigint): fc.Arbitrary<Profile.FunctionProfile> =>
  fc.record({
    name: fc.constantFrom("f", "g", "h"),
    withSource: fc.boolean(),
    lines: fc.uniqueArray(
      fc.record({
        lineNo: fc.integer({ min: 1, max: 3 }),
        hits: fc.bigInt({ min: minHits, max: 2n ** 64n }),
        timeNs: fc.bigInt({ min: 0n, max: 2n ** 64n }),
        waitNs: fc.bigInt({ min: 0n, max: 1000n })
      }),
      { selector: (line) => line.lineNo, minLength: 1, maxLength: 3 }
    )
  }).map(({ name, withSource, lines }) =>
    fn(lines.map(({ lineNo, ...counts }) => Profile.makeLine(lineNo, counts)), name, withSource ? ["a", "b", "c"] : undefined)
  )

const profileOf = (minHits: bigint) => fc.array(functionProfile(minHits), { maxLength: 4 }).map(Profile.make)

describe("Delta.difference", () => {
  it("subtracts counters line by line and drops what did not change", () => {
    const before = Profile.make([fn([Profile.makeLine(2, { hits: 3n, timeNs: 30n }), Profile.makeLine(3, { hits: 1n, timeNs: 5n })])])
    const after = Profile.make([
      fn([Profile.makeLine(2, { hits: 5n, timeNs: 70n }), Profile.makeLine(3, { hits: 1n, timeNs: 5n })]),
      { ...fn([Profile.makeLine(9, { hits: 1n })]), name: "g", firstLine: 8, lastLine: 9 }
    ])
    assert.deepStrictEqual(
      Delta.difference(after, before),
      Profile.make([fn([Profile.makeLine(2, { hits: 2n, timeNs: 40n })]), { ...fn([Profile.makeLine(9, { hits: 1n })]), name: "g", firstLine: 8, lastLine: 9 }])
    )
    assert.deepStrictEqual(Delta.difference(after, after), Profile.empty)
  })

  it("combine(before, difference(after, before)) equals after, when after grew from before", () => {
    fc.assert(
      fc.property(profileOf(0n), profileOf(1n), (before, added) => {
        const after = Profile.combine(before, added)
        const delta = Delta.difference(after, before)
        assert.deepStrictEqual(Profile.check(delta), [])
        assert.deepStrictEqual(Profile.combine(before, delta), after)
      }),
      { numRuns: 500 }
    )
  })
})

describe("Delta.withoutSentSources", () => {
  it("keeps a function's source the first time only, and names the keys it sent", () => {
    const withSource = Profile.make([fn([Profile.makeLine(2, { hits: 1n })], "f", ["a", "b", "c"]), fn([Profile.makeLine(2, { hits: 1n })], "g", ["a", "b", "c"])])
    const first = Delta.withoutSentSources(withSource, new Set())
    assert.deepStrictEqual(first.profile, withSource)
    assert.deepStrictEqual([...first.newlySent].sort(), [Profile.keyOf(withSource.functions[0]!), Profile.keyOf(withSource.functions[1]!)].sort())
    const second = Delta.withoutSentSources(withSource, new Set(first.newlySent))
    assert.deepStrictEqual(second.newlySent, [])
    assert.isTrue(second.profile.functions.every((entry) => entry.source === undefined))
    assert.deepStrictEqual(second.profile.functions.map((entry) => entry.lines), withSource.functions.map((entry) => entry.lines))
  })
})
