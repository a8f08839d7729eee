// Loop headers count each test: a body run n times gives the header n + 1 hits.
function forLoop(n) {
  let total = 0
  for (let i = 0; i < n; i++) { // @hits 6
    total += i // @hits 5
  }
  return total
}

function whileLoop(n) {
  let total = 0
  while (n > 0) { // @hits 4
    total += n-- // @hits 3
  }
  return total
}

function doWhile(n) {
  let total = 0
  do { // @hits 5
    total += n // @hits 4
  } while (--n > 0)
  return total
}

function forOf(items) {
  let total = 0
  for (const item of items) { // @hits 4
    total += item // @hits 3
  }
  return total
}

function forIn(record) {
  const keys = []
  for (const key in record) // @hits 3
    keys.push(key) // @hits 2
  return keys
}

function infinite() {
  let count = 0
  for (;;) { // @hits 3
    if (++count === 3) break // @hits 3
  }
  return count
}

function braceless(n) {
  let total = 0
  for (let i = 0; i < n; i++) // @hits 4
    if (i % 2) // @hits 3
      total += 10 // @hits 1
    else
      total += 1 // @hits 2
  while (total > 100) total = 0 // @hits 1
  return total
}

function withContinue(n) {
  let odd = 0
  for (let i = 0; i < n; i++) { // @hits 7
    if (i % 2 === 0) continue // @hits 6
    odd++ // @hits 3
  }
  return odd
}

exports.main = function main(log) {
  log(forLoop(5), whileLoop(3), doWhile(4), forOf([1, 2, 3]), forIn({ a: 1, b: 2 }))
  log(infinite(), braceless(3), withContinue(6))
}
