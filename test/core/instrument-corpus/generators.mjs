// The generator protocol: next values, return(), throw(), finally, yield*, async generators.
function* counter(limit) {
  let received = []
  try {
    for (let i = 0; i < limit; i++) {
      const sent = yield i
      received.push(sent)
    }
  } finally {
    received.push("finally")
  }
  return received
}

function* catcher() {
  while (true) {
    try {
      yield "waiting"
    } catch (error) {
      yield `caught ${error}`
    }
  }
}

function* delegating() {
  const inner = yield* counter(2)
  yield inner.length
  yield
  return "end"
}

const object = {
  *items() {
    yield* [1, 2]
  }
}

async function* ticks(count) {
  for (let i = 0; i < count; i++) {
    await null
    yield i
  }
}

export async function main(log) {
  const gen = counter(3)
  log(gen.next("ignored"), gen.next("a"), gen.next("b"), gen.next("c"), gen.next())
  const early = counter(5)
  log(early.next(), early.return("early"), early.next())
  const thrower = counter(5)
  thrower.next()
  try {
    thrower.throw(new Error("into generator"))
  } catch (error) {
    log("rethrown", error.message)
  }
  const c = catcher()
  log(c.next(), c.throw("x"), c.next(), c.return(7))
  log([...delegating()], [...object.items()])
  const seen = []
  for await (const value of ticks(3)) seen.push(value)
  log(seen)
  const it = ticks(5)
  log(await it.next(), await it.return("stop"), await it.next())
}
