// Labels with break/continue, switch fallthrough and finally.
function labels(grid) {
  const found = []
  outer: for (let row = 0; row < grid.length; row++) {
    inner: for (const cell of grid[row]) {
      if (cell < 0) continue outer
      if (cell === 0) break inner
      if (cell > 100) break outer
      found.push(cell)
    }
  }
  block: {
    if (found.length > 2) break block
    found.push("short")
  }
  return found
}

function fallthrough(x) {
  const steps = []
  switch (x) {
    case 1:
      steps.push("one")
    case 2:
      steps.push("two")
      break
    default:
      steps.push("default")
    case 3: {
      steps.push("three")
    }
    case 4: steps.push("four"); break
  }
  return steps
}

function finallyOverrides() {
  try {
    return "try"
  } finally {
    return "finally"
  }
}

function finallyOrder(log) {
  let state = 0
  try {
    state = 1
    throw new Error("boom")
  } catch (error) {
    log("caught", error.message, state)
    state = 2
    return state
  } finally {
    state = 3
    log("finally", state)
  }
}

function nestedFinally(log) {
  for (let i = 0; i < 3; i++) {
    try {
      if (i === 1) continue
      if (i === 2) return i
    } finally {
      log("finally", i)
    }
  }
}

exports.main = function main(log) {
  log(labels([[1, 2, -1, 5], [3, 0, 7], [200, 4]]), labels([[1]]))
  for (const x of [1, 2, 3, 4, 9]) log(x, fallthrough(x))
  log(finallyOverrides(), finallyOrder(log), nestedFinally(log))
}
