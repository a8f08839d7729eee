// The order of microtasks is unchanged: interleavings are logged.
const tick = (log, label) => Promise.resolve().then(() => log(`tick ${label}`))

async function returnsPromise(log) {
  log("returnsPromise start")
  return Promise.resolve("value")
}

async function returnsAwaited(log) {
  log("returnsAwaited start")
  return await Promise.resolve("awaited")
}

async function awaitsNonPromise(log) {
  const a = await 1
  log("after await 1", a)
  const b = await { then(resolve) { resolve("thenable") } }
  log("after thenable", b)
  return a
}

async function rejects(log) {
  await null
  log("about to throw")
  throw new TypeError("async failure")
}

async function catches(log) {
  try {
    await rejects(log)
  } catch (error) {
    log("caught", error.message)
  } finally {
    log("finally")
  }
  return "done"
}

const asyncArrow = async (log, x) => await x + 1

const timer = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export async function main(log) {
  const all = [returnsPromise(log), tick(log, 1), returnsAwaited(log), tick(log, 2), awaitsNonPromise(log), tick(log, 3)]
  all.push(catches(log), asyncArrow(log, 4), tick(log, 4))
  for (let i = 0; i < 4; i++) all.push(tick(log, `loop ${i}`))
  const results = await Promise.all(all)
  await timer(1)
  log("after timer")
  return results
}
