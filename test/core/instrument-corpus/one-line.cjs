// Consecutive statements on one line count once per pass.
function oneLine(x) {
  let a = x; let b = a + 1; let c = b * 2 // @hits 2
  if (c > 4) { a = 0; b = 0 } // @hits 2
  return a + b + c // @hits 2
}

function sameLineLoop(n) {
  let i = 0; while (i < n) { i++ } // @hits 5 (once for `let`, then each of the 4 tests)
  return i
}

function tiny(x) { return x + 1 } // @hits 3

exports.main = function main(log) {
  log(oneLine(1), oneLine(5), sameLineLoop(3), tiny(1), tiny(2), tiny(3))
}
