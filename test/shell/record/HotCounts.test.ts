/**
 * HotCounts: sampled timing's 32-bit hit counters and their fold into the
 * recorder's totals. A fold adds exactly what each counter gained (across a
 * wrap of 2^32 too), twice folding adds nothing more, new counters keep the
 * old ones' values, slots past `used` are left alone, and a lock left by a
 * holder that died is taken over.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as HotCounts from "../../../src/shell/record/HotCounts.ts"

const hitsOf = (size: number) => new Float64Array(new SharedArrayBuffer(size * 8))

describe("HotCounts.fold", () => {
  it("adds what each counter gained since the last fold, whatever the increments between folds (up to one wrap)", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat({ max: 2 ** 32 - 1 }), { minLength: 4, maxLength: 4 }), { maxLength: 6 }), (rounds) => {
        const hot = HotCounts.make(4)
        HotCounts.setUsed(hot, 4)
        const hits = hitsOf(4)
        const expected = [0, 0, 0, 0]
        for (const gains of rounds) {
          gains.forEach((gain, slot) => {
            hot.counts[slot] = (hot.counts[slot]! + gain) >>> 0
            if (slot > 0) expected[slot]! += gain
          })
          HotCounts.fold(hot, hits)
        }
        // Slot 0 (the sink / the sampled timing header) is never folded.
        assert.deepStrictEqual(Array.from(hits), [0, ...expected.slice(1)])
      })
    )
  })

  it("a second fold adds nothing; slots from `used` on are left alone", () => {
    const hot = HotCounts.make(8)
    HotCounts.setUsed(hot, 3)
    const hits = hitsOf(8)
    hot.counts.set([5, 6, 7, 8, 9])
    HotCounts.fold(hot, hits)
    HotCounts.fold(hot, hits)
    assert.deepStrictEqual(Array.from(hits.slice(0, 5)), [0, 6, 7, 0, 0])
  })

  it("new counters keep the old ones' values, and what the old ones gained is folded first", () => {
    const old = HotCounts.make(4)
    HotCounts.setUsed(old, 4)
    const hits = hitsOf(4)
    old.counts.set([0, 10, 20, 30])
    HotCounts.fold(old, hits)
    old.counts[2]! += 5
    const fresh = HotCounts.make(16, { hot: old, hits })
    assert.deepStrictEqual(Array.from(hits), [0, 10, 25, 30])
    fresh.counts[2]! += 1
    HotCounts.fold(fresh, hits)
    assert.deepStrictEqual(Array.from(hits), [0, 10, 26, 30])
  })

  it("a lock its holder never released (a terminated worker) is taken over after a wait", () => {
    const hot = HotCounts.make(2)
    HotCounts.setUsed(hot, 2)
    const hits = hitsOf(2)
    Atomics.store(hot.control, 0, 1)
    hot.counts[1] = 3
    const startMs = Date.now()
    HotCounts.fold(hot, hits)
    assert.strictEqual(hits[1], 3)
    assert.isAtLeast(Date.now() - startMs, 150)
    assert.strictEqual(Atomics.load(hot.control, 0), 0)
  })
})
