// The seed example of issue 3: every body line hit exactly N times.
function power3(num) {
  return num * num * num // @hits 1000
}

function child(num) {
  num = Math.sqrt(num) // @hits 1000
  num = power3(num) // @hits 1000
  return num // @hits 1000
}

exports.main = function main(log) {
  let total = 0
  for (let i = 0; i < 1000; i++) total += child(i) // @hits 1001
  log(total.toFixed(3))
  return total
}
