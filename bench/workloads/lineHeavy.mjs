// A tight, line-heavy loop: 4n + 4 line events per call of work(n).
export function work(n) {
  let a = 0
  let b = 1
  for (let i = 0; i < n; i++) {
    a = a + i
    b = b ^ a
    a = a & 0xffff
  }
  return a + b
}
