/**
 * Hot hit counters: what sampled timing's line events count into. A 32-bit
 * integer increment on shared memory costs about a third of a 64-bit float
 * one (bench/sampled.bench.ts; the float add and its store make a longer
 * dependency chain from one iteration to the next), so line events add one
 * to `counts` (Uint32) and a fold adds what each counter gained since the
 * previous fold to the recorder's float totals (`hits`), which is all that
 * delivery, snapshots and the sampler ever read.
 *
 * A counter wraps after 2^32 events; `(now - seen) >>> 0` is still right
 * across one wrap, so a fold is needed before a second one: the sampler
 * thread folds every `FOLD_EVERY_MS` (a line event takes at least a
 * fraction of a nanosecond, so 2^32 of them take seconds), and every reader
 * folds before it reads. Folds from several threads (the sampler, the
 * keeper, the owner thread) take a lock in `control`; a holder that died
 * (a terminated worker) loses the lock after 200 ms.
 */

/** The hot counters of one thread's slots, over SharedArrayBuffers. */
export interface HotCounts {
  /** Line events by slot since the thread started (mod 2^32). */
  readonly counts: Uint32Array
  /** `counts` as of the last fold. */
  readonly seen: Uint32Array
  /** [LOCK, USED]: the fold lock, and how many slots are in use (the folds look no further). */
  readonly control: Int32Array
}

/** control[USED]: slots in use (control[0] is the lock). */
const USED = 1

/** How often the sampler folds. */
export const FOLD_EVERY_MS = 100

const sharedUint32 = (size: number): Uint32Array => new Uint32Array(new SharedArrayBuffer(size * Uint32Array.BYTES_PER_ELEMENT))

/** Fresh counters of `size` slots, with the values of `old` (folded first, so nothing it gained is lost). */
export const make = (size: number, old?: { readonly hot: HotCounts; readonly hits: Float64Array }): HotCounts => {
  const hot: HotCounts = { counts: sharedUint32(size), seen: sharedUint32(size), control: new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)) }
  if (old !== undefined) {
    fold(old.hot, old.hits)
    hot.counts.set(old.hot.counts)
    hot.seen.set(old.hot.seen)
    hot.control[USED] = old.hot.control[USED]!
  }
  return hot
}

/** Records that slots below `used` may count (a fold looks no further). */
export const setUsed = (hot: HotCounts, used: number): void => {
  Atomics.store(hot.control, USED, Math.min(used, hot.counts.length))
}

/**
 * Adds to `hits` what each counter gained since the last fold. Self-contained
 * (its constants written out: LOCK is cell 0, USED cell 1, LOCK_WAIT_MS 200),
 * because the sampler thread runs it from its text (see Sampler).
 */
export const fold = (hot: HotCounts, hits: Float64Array): void => {
  const { control, counts, seen } = hot
  if (Atomics.compareExchange(control, 0, 0, 1) !== 0) {
    const deadline = Date.now() + 200
    while (Atomics.compareExchange(control, 0, 0, 1) !== 0 && Date.now() < deadline) Atomics.wait(control, 0, 1, 1)
  }
  try {
    const used = Math.min(Atomics.load(control, 1), counts.length, hits.length)
    for (let slot = 1; slot < used; slot++) {
      const now = counts[slot]!
      const gained = (now - seen[slot]!) >>> 0
      if (gained !== 0) {
        seen[slot] = now
        hits[slot]! += gained
      }
    }
  } finally {
    Atomics.store(control, 0, 0)
    Atomics.notify(control, 0, 1)
  }
}
