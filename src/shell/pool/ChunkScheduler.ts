/**
 * Which inputs a pool worker runs next: inputs go out in chunks of
 * `chunkSize` consecutive indices, in order; the inputs of a chunk whose
 * worker died come back (`requeue`) and go out again first, one per chunk,
 * so that the input that kills a worker is found alone. Pure: every step
 * returns a new schedule.
 *
 * Laws: draining `next` from `make(n, size)` gives every index in 0..n-1
 * exactly once, in order, in chunks of at most `size`; after
 * `requeue(s, [i, j])` the next two chunks are `[i]` and `[j]`.
 */

export interface ChunkSchedule {
  readonly inputCount: number
  readonly chunkSize: number
  /** The first index not handed out yet. */
  readonly cursor: number
  /** Indices to run again, one a chunk, before any new chunk. */
  readonly retry: ReadonlyArray<number>
}

export const make = (inputCount: number, chunkSize: number): ChunkSchedule => ({
  inputCount,
  chunkSize: Math.max(1, Math.floor(chunkSize)),
  cursor: 0,
  retry: []
})

/** The next chunk of input indices and the schedule after it; `chunk` is undefined when nothing is left. */
export const next = (schedule: ChunkSchedule): { readonly chunk: ReadonlyArray<number> | undefined; readonly schedule: ChunkSchedule } => {
  if (schedule.retry.length > 0) {
    return { chunk: [schedule.retry[0]!], schedule: { ...schedule, retry: schedule.retry.slice(1) } }
  }
  if (schedule.cursor >= schedule.inputCount) return { chunk: undefined, schedule }
  const end = Math.min(schedule.inputCount, schedule.cursor + schedule.chunkSize)
  const chunk = Array.from({ length: end - schedule.cursor }, (_, k) => schedule.cursor + k)
  return { chunk, schedule: { ...schedule, cursor: end } }
}

/** Puts `indices` (a chunk that lost its worker) before everything else, each to run alone. */
export const requeue = (schedule: ChunkSchedule, indices: ReadonlyArray<number>): ChunkSchedule => ({
  ...schedule,
  retry: [...indices, ...schedule.retry]
})

/** Enough chunks to balance the load (16 a worker), few enough to amortise the round trip; 1 when tasks are timed. */
export const autoChunkSize = (inputCount: number, workerCount: number, timeoutMs: number | undefined): number =>
  timeoutMs !== undefined ? 1 : Math.max(1, Math.min(64, Math.floor(inputCount / (workerCount * 16))))
