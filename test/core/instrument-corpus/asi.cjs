// Statements without semicolons, comments between statements, odd layouts.
function noSemicolons(a) {
  let x = a
  x = { value: x }
  const f = function () { return 1 }
  const list = [1, 2]
  ;[x.value] = list
  const t = `template
with a line break ${x.value}`
  /* a block comment */ const y = x.value + f() // trailing comment
  return (
    y + t.length
  )
}

function returnsOnNextLine() {
  return
  42
}

function regexAndDivision(s) {
  const re = /a+/g
  const n = s.length / 2 / 1
  return s.replace(re, "b") + n
}

function commentsEverywhere(/* a */ a /* b */) { // head
  // first
  const b = a // second
  /* third */
  return b /* fourth */ + 1 // fifth
  // after
}

function emptyBody() {}
function onlyDirective() { "use strict" }

exports.main = function main(log) {
  log(noSemicolons(5), returnsOnNextLine(), regexAndDivision("aab"), commentsEverywhere(1))
  log(emptyBody(), onlyDirective())
}
