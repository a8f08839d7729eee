import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ChunkScheduler from "../../../src/shell/pool/ChunkScheduler.ts"

const drain = (schedule: ChunkScheduler.ChunkSchedule): Array<ReadonlyArray<number>> => {
  const chunks: Array<ReadonlyArray<number>> = []
  for (let step = ChunkScheduler.next(schedule); step.chunk !== undefined; step = ChunkScheduler.next(step.schedule)) {
    chunks.push(step.chunk)
  }
  return chunks
}

describe("ChunkScheduler", () => {
  it("hands out every index once, in order, in chunks of at most chunkSize", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 70 }), (inputCount, chunkSize) => {
        const chunks = drain(ChunkScheduler.make(inputCount, chunkSize))
        assert.deepStrictEqual(chunks.flat(), Array.from({ length: inputCount }, (_, k) => k))
        assert.isTrue(chunks.every((chunk) => chunk.length >= 1 && chunk.length <= chunkSize))
        assert.strictEqual(chunks.length, Math.ceil(inputCount / chunkSize))
      })
    )
  })

  it("runs requeued indices first, one a chunk, then carries on where it was", () => {
    const first = ChunkScheduler.next(ChunkScheduler.make(10, 4))
    assert.deepStrictEqual(first.chunk, [0, 1, 2, 3])
    const requeued = ChunkScheduler.requeue(first.schedule, [0, 1, 2, 3])
    assert.deepStrictEqual(drain(requeued), [[0], [1], [2], [3], [4, 5, 6, 7], [8, 9]])
  })

  it("never changes the schedule it is given", () => {
    const schedule = ChunkScheduler.make(3, 2)
    ChunkScheduler.next(schedule)
    ChunkScheduler.requeue(schedule, [1])
    assert.deepStrictEqual(schedule, ChunkScheduler.make(3, 2))
  })

  it("autoChunkSize: 1 with a timeout, else about 1/16 of a worker's share, between 1 and 64", () => {
    assert.strictEqual(ChunkScheduler.autoChunkSize(10_000, 4, 100), 1)
    assert.strictEqual(ChunkScheduler.autoChunkSize(10_000, 4, undefined), 64)
    assert.strictEqual(ChunkScheduler.autoChunkSize(640, 4, undefined), 10)
    assert.strictEqual(ChunkScheduler.autoChunkSize(3, 4, undefined), 1)
  })
})
