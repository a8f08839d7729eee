"use strict"
// Hoisting and the temporal dead zone survive the try/finally around bodies.
function useBeforeDeclare() {
  return helper() + counter
  function helper() {
    return 1
  }
  var counter
}

function tdz() {
  const read = () => value
  try {
    return read()
  } finally {
    log("finally ran")
  }
  let value = 3
}

let log = () => {}

function blockScope() {
  const results = []
  for (let i = 0; i < 3; i++) {
    results.push(() => i)
  }
  {
    let shadow = "inner"
    results.push(() => shadow)
  }
  return results.map((f) => f())
}

exports.main = function main(logger) {
  log = logger
  log(String(useBeforeDeclare()))
  try {
    tdz()
  } catch (error) {
    log(error.constructor.name, error.message)
  }
  log(blockScope())
}
