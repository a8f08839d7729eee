// Thrown errors keep their messages and the line numbers of their stacks.
function level3(x) {
  if (x > 2)
    throw new RangeError(`too big: ${x}`)
  return x
}

function level2(x) {
  const y = x + 1
  return level3(y)
}

const level1 = (x) =>
  level2(x) * 2

function typeError(value) {
  return value.missing.property
}

class Thrower {
  static boom() {
    throw new Error("static boom")
  }
}

exports.main = function main(log) {
  log(level1(0))
  try {
    typeError({})
  } catch (error) {
    log(error.constructor.name)
  }
  try {
    Thrower.boom()
  } catch (error) {
    log(error.message, error.stack.split("\n").length > 2)
  }
  return level1(5)
}
