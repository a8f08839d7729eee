// for await: header hits n + 1, break calls return(), waits go to the header.
async function* source(log, count) {
  try {
    for (let i = 0; i < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      yield i
    }
  } finally {
    log("source finally")
  }
}

async function consume(log) {
  let total = 0
  for await (const value of source(log, 3)) { // @hits 4
    total += value // @hits 3
  }
  return total
}

async function breaks(log) {
  for await (const value of source(log, 10)) { // @hits 3
    if (value === 1) break // @hits 2
  }
  return "broke"
}

async function overPromises(log) {
  const seen = []
  for await (const value of [Promise.resolve("a"), "b"]) seen.push(value) // @hits 3
  try {
    for await (const value of [Promise.reject(new Error("rejected"))]) seen.push(value)
  } catch (error) {
    seen.push(error.message)
  }
  return seen
}

export async function main(log) {
  log(await consume(log))
  log(await breaks(log))
  log(await overPromises(log))
}
