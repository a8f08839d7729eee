// Lines of fixed relative cost for the accuracy figures: two calls of a profiled loop (1000 and 3000
// iterations) and a call of a heavy operation that is not profiled (JSON.parse of a fixed text).
export function loop(n) {
  let x = 0
  for (let i = 0; i < n; i++) x = (x + i * i) % 65521
  return x
}

export function mix(text) {
  const small = loop(1000)
  const large = loop(3000)
  const parsed = JSON.parse(text)
  return small + large + parsed.length
}
