// A tight loop of two line events per iteration (the loop header and its body).
export function tight(n) {
  let a = 0
  for (let i = 0; i < n; i++)
    a = (a + i) & 0xffff
  return a
}
