/**
 * Delivery: every process and every thread that ran instrumented code leaves
 * exactly one stats file in the stats folder, `<pid>-<threadId>-<random>.json`,
 * however it ends. Files are written with synchronous node:fs calls (exit
 * handlers cannot wait) into a temporary sibling, then renamed: a reader sees
 * the previous complete file or the new one, never a partial one.
 *
 * 1. A periodic, unref()ed flush rewrites the thread's file when its counts
 *    changed, so a SIGKILL loses at most one interval. The main thread's flush
 *    also covers its workers (from their shared counters), so a worker that
 *    never returns to its event loop is covered too.
 * 2. At exit (the "exit" event: normal end, `process.exit`, an uncaught
 *    exception) the thread writes its final file, after every exit listener
 *    of the program (they may run profiled code).
 * 3. SIGINT, SIGTERM, SIGHUP (main thread): when the program has no handler
 *    of its own, the final files are written and the signal is raised again,
 *    so the process dies of it as it would have (exit code 128 + n). When it
 *    has one, every file is flushed and lineprof steps aside for that signal
 *    while the program's handlers run (they see only their own listeners).
 * 4. `worker.terminate()` skips a worker's exit handlers. So each worker posts
 *    its recorder's SharedArrayBuffer-backed counters and its files' metadata
 *    to the main thread over a BroadcastChannel; the main thread writes the
 *    file of a worker that did not deliver itself, when it sees the worker end
 *    (diagnostics_channel "worker_threads") and at its own exit.
 *
 * 5. Profiles measured elsewhere and brought back to this thread (the deltas
 *    `profileAll` / `profileStream` merge from their workers, which run
 *    without lineprof's preload) are handed to `contribute`; every write of
 *    the thread's file is its recorder's snapshot plus all of them, so each
 *    counts once however often the file is rewritten. A worker thread also
 *    posts their total to the main thread at its periodic flush, so a worker
 *    that is terminate()d keeps them up to its last flush.
 *    Without a started delivery (no `lineprof run`) `contribute` does nothing.
 *
 * Each thread has a state cell in shared memory (IDLE / WRITING / DELIVERED)
 * that the thread and the main thread change with Atomics: one writer at a
 * time, and after the final write nobody writes that thread's file again.
 * A thread that instrumented nothing and was given no contributions writes no file.
 */
import { randomBytes } from "node:crypto"
import * as diagnostics from "node:diagnostics_channel"
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { BroadcastChannel, isMainThread, threadId, type Worker } from "node:worker_threads"
import { createRequire } from "node:module"
import * as Profile from "../../core/Profile.ts"
import type * as StatsFile from "../../core/StatsFile.ts"
import type * as Config from "./Config.ts"
import * as Recorder from "./Recorder.ts"

/** ".ts" when running from src/, ".js" from a build: lazily required siblings take the same one. */
const ownExtension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"

const IDLE = 0
const WRITING = 1
const DELIVERED = 2

/**
 * The stats-file encoder (and effect/Schema behind it), loaded synchronously at
 * the first write: threads that instrument nothing never pay for it.
 */
let statsFile: Pick<typeof StatsFile, "encode"> | undefined
const encode = (profile: Profile.Profile): string =>
  (statsFile ??= createRequire(import.meta.url)(`./StatsEncoder${ownExtension}`) as Pick<typeof StatsFile, "encode">).encode(profile)

/** How long the main thread waits for a worker that is writing its own file before it takes over. */
const TAKE_OVER_AFTER_MS = 1000

const channelName = "lineprof:delivery"
const STARTED_KEY = Symbol.for("lineprof.delivery.v1")
/** Where the started delivery puts its `contribute`, so that another copy of this module (src and dist) reaches it. */
const CONTRIBUTE_KEY = Symbol.for("lineprof.delivery.contribute.v1")

type Counters = Extract<Recorder.RecorderEvent, { readonly _tag: "Buffers" }>
type RegisteredFile = Recorder.FileRegistration

/** Messages from a worker thread to the main thread. */
type Message =
  | { readonly _tag: "Hello"; readonly threadId: number; readonly statsPath: string; readonly state: Int32Array }
  | { readonly _tag: "Buffers"; readonly threadId: number; readonly counters: Counters }
  | { readonly _tag: "File"; readonly threadId: number; readonly file: RegisteredFile }
  | { readonly _tag: "Contributed"; readonly threadId: number; readonly profile: Profile.Profile; readonly count: number }
  | { readonly _tag: "Ended"; readonly threadId: number }

/** What the main thread knows of a worker: enough to write its file without it. */
interface WorkerRecord {
  readonly threadId: number
  readonly statsPath: string
  readonly state: Int32Array
  counters: Counters | undefined
  readonly files: Array<RegisteredFile>
  /** Sum of the worker's hits at the main thread's last write of its file. */
  lastHitsTotal: number
  /** The worker's contributions as last posted, and how many there were (-1: none written yet). */
  contributed: Profile.Profile | undefined
  contributedCount: number
  lastContributedCount: number
}

/** This thread's stats file and its state cell, once `start` ran. */
let started: { readonly statsPath: string; readonly state: Int32Array } | undefined
let ownFiles = 0
let lastHitsTotal = -1
/** This thread's live hits counters (from the recorder's Buffers events). */
let ownHits: Float64Array | undefined

/**
 * Profiles given to `contribute` in this thread: `contributed` is the fold of
 * the earlier ones, `contributions` the ones not folded in yet (folding is
 * linear in the profile's size, so it waits for a write or a batch of 256).
 */
let contributed: Profile.Profile | undefined
let contributions: Array<Profile.Profile> = []
let contributedCount = 0
/** `contributedCount` at the last write of this thread's file, and at the last post to the main thread. */
let writtenContributedCount = 0
let postedContributedCount = 0

const foldContributions = (): Profile.Profile | undefined => {
  if (contributions.length > 0) {
    contributed = Profile.ProfileReducer.combineAll(contributed === undefined ? contributions : [contributed, ...contributions])
    contributions = []
  }
  return contributed
}

const contributeHere = (profile: Profile.Profile): void => {
  if (profile.functions.length === 0) return
  contributions.push(profile)
  contributedCount++
  if (contributions.length >= 256) foldContributions()
}

/**
 * Adds `profile` (measured elsewhere, e.g. a pool worker's delta) to what this
 * thread delivers in its stats file, once. Does nothing when delivery was not
 * started in this thread (the program does not run under `lineprof run`).
 */
export const contribute = (profile: Profile.Profile): void => {
  const hook = (globalThis as any)[CONTRIBUTE_KEY] as ((profile: Profile.Profile) => void) | undefined
  if (hook !== undefined) hook(profile)
}

/** `own` plus `extra`, when there is any. */
const plus = (own: Profile.Profile, extra: Profile.Profile | undefined): Profile.Profile =>
  extra === undefined ? own : Profile.combine(own, extra)

const sumOf = (values: Float64Array): number => {
  let total = 0
  for (let k = 0; k < values.length; k++) total += values[k]!
  return total
}
const workers = new Map<number, WorkerRecord>()
let warned = false

const warnOnce = (line: string): void => {
  if (warned) return
  warned = true
  try {
    process.stderr.write(`lineprof: ${line}\n`)
  } catch {
    // stderr closed.
  }
}

/** A fresh stats file name for this process and thread. */
const makeStatsPath = (dir: string): string =>
  path.join(dir, `${process.pid}-${threadId}-${randomBytes(4).toString("hex")}.json`)

/**
 * `mkdir -p` one level at a time. Not `mkdirSync(dir, { recursive: true })`:
 * that spins forever on a path it cannot create under /proc (seen on Node 24).
 */
const makeFolderSync = (dir: string): void => {
  try {
    mkdirSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "EEXIST") return
    if (code !== "ENOENT" || path.dirname(dir) === dir) throw error
    makeFolderSync(path.dirname(dir))
    mkdirSync(dir)
  }
}

/** Writes `text` to `file` atomically with synchronous calls: temporary sibling, then rename. */
const writeFileAtomicSync = (file: string, text: string): void => {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`)
  makeFolderSync(path.dirname(file))
  try {
    writeFileSync(temporary, text, { flag: "wx" })
    renameSync(temporary, file)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}

/**
 * Writes one thread's file under its state cell. `final` marks it delivered.
 * A periodic write gives way to a writer already at work; a final write waits
 * for it (up to `TAKE_OVER_AFTER_MS`, then takes over: that writer died mid-write).
 * Returns whether it wrote.
 */
const writeUnderState = (state: Int32Array, file: string, final: boolean, profile: () => Profile.Profile | undefined): boolean => {
  let previous = Atomics.compareExchange(state, 0, IDLE, WRITING)
  if (previous === DELIVERED) return false
  if (previous === WRITING) {
    if (!final) return false
    const deadline = Date.now() + TAKE_OVER_AFTER_MS
    while (previous === WRITING && Date.now() < deadline) {
      Atomics.wait(state, 0, WRITING, 50)
      previous = Atomics.compareExchange(state, 0, IDLE, WRITING)
    }
    if (previous === DELIVERED) return false
    Atomics.store(state, 0, WRITING)
  }
  let wrote = false
  try {
    const value = profile()
    if (value !== undefined) {
      writeFileAtomicSync(file, encode(value))
      wrote = true
    }
  } catch (error) {
    warnOnce(`cannot write stats file ${file}: ${String((error as Error)?.message ?? error).split("\n")[0]}`)
  } finally {
    Atomics.store(state, 0, final ? DELIVERED : IDLE)
    Atomics.notify(state, 0)
  }
  return wrote
}

/**
 * Writes this thread's own file: always when final, on a change of counts or
 * contributions otherwise. A worker thread first posts its contributions'
 * total to the main thread, which writes the file should the worker not.
 */
const flushOwn = (final: boolean): void => {
  if (started === undefined || (ownFiles === 0 && contributedCount === 0)) return
  // Every line event adds a hit, so an unchanged sum of hits means nothing ran:
  // a periodic flush then costs one pass over a typed array, no snapshot.
  const hitsTotal = ownHits === undefined ? -1 : sumOf(ownHits)
  const count = contributedCount
  if (!final && hitsTotal === lastHitsTotal && count === writtenContributedCount) return
  if (!isMainThread && !final && count !== postedContributedCount) {
    postedContributedCount = count
    post({ _tag: "Contributed", threadId, profile: foldContributions()!, count })
  }
  writeUnderState(started.state, started.statsPath, final, () => {
    lastHitsTotal = hitsTotal
    writtenContributedCount = count
    return plus(Recorder.snapshot(), foldContributions())
  })
}

/**
 * Main thread: writes the file of a worker that has not delivered it itself;
 * `final` marks it delivered. A periodic (not final) write happens only when
 * the worker's hits changed since the main thread last wrote them.
 */
const writeWorker = (record: WorkerRecord, final: boolean): void => {
  const counters = record.counters
  const ownRan = counters !== undefined && record.files.some((file) => file.functions.length > 0)
  if (!ownRan && record.contributed === undefined) return
  const hitsTotal = counters === undefined ? -1 : sumOf(counters.hits)
  const count = record.contributedCount
  if (!final && hitsTotal === record.lastHitsTotal && count === record.lastContributedCount) return
  writeUnderState(record.state, record.statsPath, final, () => {
    record.lastHitsTotal = hitsTotal
    record.lastContributedCount = count
    const own = ownRan ? Recorder.profileFrom(record.files, counters.hits, counters.timeNs, counters.waitNs) : Profile.empty
    return plus(own, record.contributed)
  })
}

/** Main thread: writes this thread's file and every undelivered worker's file, not final. */
const flushAll = (): void => {
  flushOwn(false)
  for (const record of workers.values()) writeWorker(record, false)
}

/** Main thread: writes the final files of this thread and of every worker that did not deliver. */
const deliverAll = (): void => {
  flushOwn(true)
  for (const record of workers.values()) writeWorker(record, true)
}

const onMessage = (message: Message): void => {
  if (message._tag === "Hello") {
    workers.set(message.threadId, {
      threadId: message.threadId,
      statsPath: message.statsPath,
      state: message.state,
      counters: undefined,
      files: [],
      lastHitsTotal: -1,
      contributed: undefined,
      contributedCount: 0,
      lastContributedCount: 0
    })
    return
  }
  const record = workers.get(message.threadId)
  if (record === undefined) return
  switch (message._tag) {
    case "Buffers":
      record.counters = message.counters
      break
    case "File":
      record.files.push(message.file)
      break
    case "Contributed":
      // Totals, not increments: a later post replaces an earlier one.
      if (message.count > record.contributedCount) {
        record.contributed = message.profile
        record.contributedCount = message.count
      }
      break
    case "Ended":
      // Let messages the worker posted just before it ended arrive first.
      setImmediate(() => {
        writeWorker(record, true)
        if (Atomics.load(record.state, 0) === DELIVERED) workers.delete(record.threadId)
      }).unref()
      break
  }
}

/**
 * Worker thread to main thread. A channel is opened for each message (rare:
 * start, file loads, buffer growth, changed contributions) and closed at once,
 * so that no worker holds a channel that would also receive, and queue, every
 * other worker's messages.
 */
const post = (message: Message): void => {
  try {
    const channel = new BroadcastChannel(channelName)
    channel.postMessage(message)
    channel.close()
  } catch {
    // The thread is shutting down.
  }
}

const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const

const onSignal = (signal: NodeJS.Signals): void => {
  // Step aside first: the program's own listeners (which run after this one)
  // then see exactly the listeners they would see without lineprof. That
  // matters to libraries such as signal-exit, which re-raise the signal only
  // when their listeners are the only ones.
  process.removeListener(signal, onSignal)
  if (process.listenerCount(signal) > 0) {
    // The program handles the signal: it may go on, exit, or die of the signal
    // raised again. Write everything now (not final: the exit handler writes the
    // final files if it exits), and listen again once this signal is handled.
    flushAll()
    setImmediate(() => {
      if (!process.listeners(signal).includes(onSignal)) process.on(signal, onSignal)
    }).unref()
    return
  }
  deliverAll()
  for (const name of signals) process.removeListener(name, onSignal)
  process.kill(process.pid, signal)
}

/**
 * Starts delivery in this thread (once; later calls are ignored): the periodic
 * flush, the exit handler, and the worker / main-thread hand-over. Call after
 * `Recorder.install()` and before any file is instrumented.
 */
export const start = (config: Config.Config): void => {
  // One delivery a thread, even if two copies of this module are loaded in it.
  if (started !== undefined || (globalThis as any)[STARTED_KEY] === true) return
  ;(globalThis as any)[STARTED_KEY] = true
  const state = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT))
  started = { statsPath: makeStatsPath(config.dir), state }
  ;(globalThis as any)[CONTRIBUTE_KEY] = contributeHere
  if (isMainThread) {
    const channel = new BroadcastChannel(channelName)
    channel.onmessage = (event) => onMessage((event as { readonly data: Message }).data)
    channel.unref()
  } else {
    post({ _tag: "Hello", threadId, statsPath: started.statsPath, state })
  }
  Recorder.subscribe((event) => {
    if (event._tag === "File") {
      if (event.file.functions.length > 0) ownFiles++
      if (!isMainThread) post({ _tag: "File", threadId, file: event.file })
    } else {
      ownHits = event.hits
      if (!isMainThread) post({ _tag: "Buffers", threadId, counters: event })
    }
  })

  // A worker that this thread starts: when it ends, make sure its file is there.
  diagnostics.subscribe("worker_threads", (message) => {
    const worker = (message as { readonly worker: Worker }).worker
    const workerThreadId = worker.threadId
    worker.once("exit", () => {
      if (isMainThread) onMessage({ _tag: "Ended", threadId: workerThreadId })
      else post({ _tag: "Ended", threadId: workerThreadId })
    })
  })

  // The main thread also flushes its workers: a worker busy in a long
  // computation never reaches its own timer, and a SIGKILL takes all threads.
  setInterval(() => (isMainThread ? flushAll() : flushOwn(false)), config.intervalMs).unref()
  writeFinalAfterExitListeners(() => (isMainThread ? deliverAll() : flushOwn(true)))
  if (isMainThread) for (const signal of signals) process.on(signal, onSignal)
}

/**
 * Runs `write` once, after every "exit" listener, also those the program adds
 * after lineprof's (they may run profiled code). The "exit" event is emitted
 * through `process.emit` (a normal end, `process.exit`, an uncaught
 * exception), so `process.emit` is wrapped, as signal-exit's `alwaysLast`
 * does. A listener stays as the fallback in case something replaced
 * `process.emit` without calling the one it found: then it writes at once.
 */
const writeFinalAfterExitListeners = (write: () => void): void => {
  let emitting = false
  const emit = process.emit
  process.emit = function (this: NodeJS.Process, event: string | symbol, ...args: Array<unknown>) {
    if (event !== "exit") return (emit as Function).call(this, event, ...args)
    emitting = true
    try {
      return (emit as Function).call(this, event, ...args)
    } finally {
      emitting = false
      write()
    }
  } as typeof process.emit
  process.on("exit", () => {
    if (!emitting) write()
  })
}
