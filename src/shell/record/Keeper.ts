/**
 * The keeper: one small worker thread per profiled process (started by the
 * main thread's Delivery, unref()ed, without lineprof's preload: it profiles
 * nothing). It holds every thread's shared counters and registrations (the
 * main thread's Hello, then news by message; the workers' by broadcast) and
 * rewrites every thread's stats file on the interval from its own event
 * loop, so a SIGKILL loses at most one interval whatever the other threads do.
 *
 * Under `lineprof run` it also watches the stats folder for a stop request
 * (Control.requestStop). When, a few ms later, lineprof's signal listener in
 * the main thread has not run (the main thread is busy) and the program has
 * no listener of its own for the signal, the keeper writes the final file of
 * every thread, makes the main thread drop lineprof's listener (through the
 * inspector, whose messages interrupt running JavaScript) and raises the
 * signal: the process dies of it, as a plain one would have at once.
 *
 * This module is the worker's entry; importing it anywhere else does nothing.
 */
import { watch, writeSync } from "node:fs"
import { Session } from "node:inspector"
import { BroadcastChannel, isMainThread, parentPort, workerData } from "node:worker_threads"
import * as Control from "./Control.ts"
import * as Delivery from "./Delivery.ts"

/** How long the main thread's own listener gets to show it runs, before the keeper stops the process. */
const GRACE_MS = 50
/** The stop request is also polled for, in case fs.watch misses it (network file systems). */
const POLL_MS = 100

const run = (init: Delivery.KeeperInit): void => {
  const records = new Map<number, Delivery.ThreadRecord>()
  const forgotten = new Set<number>()
  const folder: Delivery.Folder = { dir: init.dir, runDir: init.runDir, shared: init.shared }
  const onMessage = (message: Delivery.Message) => void Delivery.applyMessage(records, message, forgotten)

  const channel = new BroadcastChannel(Delivery.channelName)
  channel.onmessage = (event) => onMessage((event as { readonly data: Delivery.Message }).data)
  parentPort?.on("message", (message: Delivery.Message | Delivery.FinalRequest) => {
    if (message._tag !== "Final") return onMessage(message)
    writeAll(true)
    Atomics.store(init.shared, Delivery.FINAL_DONE, 1)
    Atomics.notify(init.shared, Delivery.FINAL_DONE)
  })
  for (const message of init.messages) onMessage(message)
  // Load the encoder soon, not at the first write, but after the stop watch is set up;
  // then mark the process alive in the folder: from now on its stats are kept.
  setTimeout(() => {
    Delivery.loadEncoder()
    Atomics.store(init.shared, Delivery.KEEPER_READY, 1)
    if (Control.checkFolder(init.dir, init.runDir) === undefined) Control.markAlive(init.dir)
  }, 0)

  const writeAll = (final: boolean): void => {
    for (const record of records.values()) Delivery.writeRecord(folder, record, final)
  }

  setInterval(() => {
    writeAll(false)
    for (const record of records.values()) {
      // Delivered (by itself or by the main thread): nobody writes it again.
      if (record.ended && Delivery.isDelivered(record)) {
        records.delete(record.threadId)
        forgotten.add(record.threadId)
      }
    }
    Atomics.store(init.shared, Delivery.KEEPER_RECORDS, records.size)
  }, init.intervalMs)

  // -- stop requests (written by lineprof run; watched in any folder lineprof accepts) --
  let seen: string | undefined
  let stopping = false
  let handledAtRequest = 0
  const check = (): void => {
    const request = Control.readStop(init.dir)
    if (request === undefined || request.text === seen || stopping) return
    seen = request.text
    const k = Control.stopSignals.indexOf(request.signal)
    const handledBefore = Atomics.load(init.shared, Delivery.HANDLED + k)
    handledAtRequest = handledBefore
    setTimeout(() => {
      // The main thread's listener ran (it writes and re-raises), or the program listens itself: leave it alone.
      if (Atomics.load(init.shared, Delivery.HANDLED + k) !== handledBefore) return
      if (Atomics.load(init.shared, Delivery.LISTENERS + k) > 0) return
      stopping = true
      stop(request.signal)
    }, GRACE_MS)
  }

  const stop = (signal: Control.StopSignal): void => {
    writeAll(true)
    // The main thread may have got to the signal meanwhile: then it raises it itself, and no session may be open then.
    const k = Control.stopSignals.indexOf(signal)
    if (Atomics.load(init.shared, Delivery.HANDLED + k) !== handledAtRequest) return
    Control.unmarkAlive(init.dir)
    const raise = () => {
      try {
        process.kill(process.pid, signal)
      } catch {
        // Nothing left to do.
      }
    }
    try {
      const session = new Session()
      session.connectToMainThread()
      // Runs in the main thread even while it is busy: inspector messages interrupt JavaScript.
      session.post(
        "Runtime.evaluate",
        { expression: `globalThis[Symbol.for(${JSON.stringify(Delivery.STEP_ASIDE_KEY.description)})]?.(${JSON.stringify(signal)})` },
        () => {
          // Disconnect before the signal: a session still connected at exit prints "Waiting for the debugger to disconnect...".
          session.disconnect()
          raise()
        }
      )
    } catch (error) {
      try {
        writeSync(2, `lineprof: cannot stop the busy process: ${String((error as Error)?.message ?? error)}\n`)
      } catch {
        // stderr closed.
      }
      raise()
    }
  }

  try {
    const watcher = watch(init.dir, (_event, name) => {
      if (name === null || name === Control.STOP_FILE) check()
    })
    watcher.on("error", () => watcher.close())
    watcher.unref()
  } catch {
    // No watching here: the poll does it.
  }
  setInterval(check, POLL_MS)
  check()
}

if (!isMainThread && (workerData as Delivery.KeeperInit | undefined)?.messages !== undefined) run(workerData as Delivery.KeeperInit)
