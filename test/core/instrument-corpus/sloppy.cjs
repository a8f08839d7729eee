// Sloppy mode: arguments aliasing, this, direct eval and with.
function aliased(a, b) {
  a = 10
  arguments[1] = 20
  return [a, b, arguments.length, arguments[0]]
}

function sloppyThis() {
  return this === globalThis
}

function strictThis() {
  "use strict"
  return this === undefined
}

function directEval(code) {
  var local = "local value"
  eval(code)
  return typeof declaredByEval === "undefined" ? "missing" : declaredByEval
}

function withScope(record) {
  let seen = []
  with (record) {
    seen.push(alpha)
    seen.push(beta + 1)
    if (alpha)
      seen.push(typeof gamma)
  }
  return seen
}

function hoisted() {
  return later()
  function later() {
    return "hoisted"
  }
}

// A function declaration named like a parameter assigns that parameter (and,
// with simple parameters, arguments[0]); in a block it would be a new binding.
function paramNamedFunction(x) {
  function x() {
    return "declared"
  }
  return [typeof x, typeof arguments[0], arguments[0] === x]
}

exports.main = function main(log) {
  log(aliased(1, 2), aliased(1))
  log(sloppyThis(), strictThis())
  log(directEval("var declaredByEval = local + '!'"))
  log(withScope({ alpha: 1, beta: 2 }))
  log(hoisted())
  log(paramNamedFunction(1))
}
