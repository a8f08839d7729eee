// using / await using: disposal order, microtask interleaving, early exits and errors are kept.
const tick = (log, label) => Promise.resolve().then(() => log(label))

function syncScopes(log, early) {
  using outer = { [Symbol.dispose]() { log("dispose outer") } } // @hits 4 (2 here, 2 in dispose)
  if (early) { // @hits 2
    using inner = { [Symbol.dispose]() { log("dispose inner") } }
    return "early" // @hits 1
  }
  return "late" // @hits 1
}

async function asyncScopes(log, nullFirst) {
  const ticker = (async () => { for (let i = 0; i < 6; i++) { await null; log(`tick ${i}`) } })()
  using before = { [Symbol.dispose]() { log("dispose before") } }
  await using first = nullFirst ? null : { async [Symbol.asyncDispose]() { log("dispose first"); await tick(log, "first awaited") } } // @hits 3 (2 here, 1 in the dispose method)
  using between = { [Symbol.dispose]() { log("dispose between") } }
  await using second = { [Symbol.asyncDispose]() { log("dispose second") } }
  {
    await using nested = null
    log("nested body")
  }
  log("body")
  await ticker
  return "done"
}

async function throwing(log) {
  try {
    await using failing = { async [Symbol.asyncDispose]() { await null; throw new Error("dispose failed") } }
    throw new Error("body failed")
  } catch (error) {
    log(error.constructor.name, error.error?.message, error.suppressed?.message)
  }
}

async function loopHeads(log) {
  for (await using each of [{ async [Symbol.asyncDispose]() { await null; log("dispose each") } }, null]) { // @hits 4 (3 here, 1 in the dispose method)
    log("iteration", each === null) // @hits 2
  }
  for await (await using each of [{ async [Symbol.asyncDispose]() { log("dispose awaited each") } }]) log("for await body")
}

async function* returning(log) {
  yield 1
  return tick(log, "return awaited").then(() => "returned") // @hits 4 (2 here, 2 in the arrow)
}

export async function main(log) {
  log(syncScopes(log, true), syncScopes(log, false))
  log(await asyncScopes(log, false))
  log(await asyncScopes(log, true))
  await throwing(log)
  await loopHeads(log)
  const ticker = (async () => { for (let i = 0; i < 4; i++) { await null; log(`gen tick ${i}`) } })()
  for await (const value of returning(log)) log("yielded", value)
  const it = returning(log)
  log(await it.next(), await it.next(), await it.next())
  await ticker
  return "ok"
}
