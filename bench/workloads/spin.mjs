// Busy-waits for a known duration; never instrumented (the bench loads it from outside the include globs).
export function spinNs(durationNs) {
  const endNs = process.hrtime.bigint() + BigInt(durationNs)
  while (process.hrtime.bigint() < endNs) {}
}
