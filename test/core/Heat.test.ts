/**
 * core/render/Heat: the thresholds that the text report's colours and the
 * HTML report's tinted rows share, on exact integers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Heat from "../../src/core/render/Heat.ts"

describe("Heat.levelOf", () => {
  it("is hot from 20 % of the function's time, warm from 5 %, nothing below or when the total is 0", () => {
    assert.deepStrictEqual(Heat.levelOf(20n, 100n), "hot")
    assert.deepStrictEqual(Heat.levelOf(1999n, 10_000n), "warm")
    assert.deepStrictEqual(Heat.levelOf(5n, 100n), "warm")
    assert.deepStrictEqual(Heat.levelOf(499n, 10_000n), undefined)
    assert.deepStrictEqual(Heat.levelOf(0n, 0n), undefined)
    assert.deepStrictEqual(Heat.levelOf(7n, 7n), "hot")
  })

  it("compares exactly where doubles would round: one part in 2^70 below 20 % is warm", () => {
    const totalNs = 5n * 2n ** 70n
    assert.deepStrictEqual(Heat.levelOf(2n ** 70n, totalNs), "hot")
    assert.deepStrictEqual(Heat.levelOf(2n ** 70n - 1n, totalNs), "warm")
  })

  it("agrees with the share computed in rationals", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n }), fc.bigInt({ min: 0n, max: 2n ** 64n }), (totalNs, raw) => {
        const timeNs = raw % (totalNs + 1n)
        const expected = timeNs * 5n >= totalNs ? "hot" : timeNs * 20n >= totalNs ? "warm" : undefined
        assert.strictEqual(Heat.levelOf(timeNs, totalNs), expected)
      }),
      { numRuns: 500 }
    )
  })
})
