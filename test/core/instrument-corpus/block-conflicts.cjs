// At a function's top level a function declaration may share its name with a
// `var` or another function declaration; inside `try { }` it may not. Such
// functions are left uninstrumented, their nested functions are not.
function varAndFunction() {
  var helper = 1
  function helper() {
    return 2
  }
  const inner = () => helper + 1 // @hits 1
  return inner()
}

function twice() {
  function pick() { return "first" }
  function pick() { return "second" }
  if (true) {
    var pick2 = pick()
  }
  return pick2
}

function nestedVar(flag) {
  function shadowed() {
    return "function"
  }
  if (flag) {
    for (var shadowed = 0; shadowed < 2; shadowed++) {}
  }
  return typeof shadowed
}

function noConflict() {
  function local() {
    return "fine"
  }
  return local() // @hits 1
}

exports.main = function main(log) {
  log(varAndFunction(), twice(), nestedVar(false), nestedVar(true), noConflict())
}
