/**
 * Delivery: every process and every thread that ran instrumented code leaves
 * exactly one stats file in the stats folder, `<pid>-<threadId>-<random>.json`,
 * however it ends. Files are written with synchronous node:fs calls (exit
 * handlers cannot wait) into a temporary sibling, then renamed: a reader sees
 * the previous complete file or the new one, never a partial one.
 *
 * 1. A keeper thread per process (see Keeper) holds every thread's shared
 *    counters and registrations and rewrites every thread's file on the
 *    interval whenever its hits, times or waits changed, from its own event
 *    loop: a SIGKILL loses at most one interval, whatever the main thread and
 *    the workers are doing. The main thread starts it when the first
 *    instrumented file registers in any thread (a process that profiles
 *    nothing pays nothing); threads announce themselves only then, so a
 *    worker that instruments nothing leaves nothing behind. Should the keeper
 *    fail to start, the main thread's own timer does its job.
 * 2. At exit (the "exit" event: normal end, `process.exit`, an uncaught
 *    exception) the thread writes its final file, after every exit listener
 *    of the program (they may run profiled code).
 * 3. SIGINT, SIGTERM, SIGHUP (main thread): when the program has no handler
 *    of its own, the final files are written and the signal is raised again,
 *    so the process dies of it as it would have (exit code 128 + n). When it
 *    has one, every file is flushed and lineprof steps aside for that signal
 *    while the program's handlers run (they see only their own listeners).
 *    A busy main thread never runs that listener: under `lineprof run` the
 *    keeper stops the process instead (Control.requestStop).
 * 4. `worker.terminate()` skips a worker's exit handlers. So each worker posts
 *    its recorder's SharedArrayBuffer-backed counters and its files' metadata
 *    over a BroadcastChannel (to the main thread and the keeper); the main
 *    thread writes the file of a worker that did not deliver itself, when it
 *    sees the worker end (diagnostics_channel "worker_threads") and at its
 *    own exit, then forgets it.
 *
 * 5. Profiles measured elsewhere and brought back to this thread (the deltas
 *    `profileAll` / `profileStream` merge from their workers, which run
 *    without lineprof's preload) are handed to `contribute`; every write of
 *    the thread's file is its recorder's snapshot plus all of them, so each
 *    counts once however often the file is rewritten. A thread posts their
 *    total at each interval when it changed, so the keeper's writes (and the
 *    main thread's write for a terminate()d worker) include them.
 *    Without a started delivery (no `lineprof run`) `contribute` does nothing.
 *
 * Each thread has a state cell in shared memory (IDLE / WRITING / DELIVERED)
 * that the thread, the main thread and the keeper change with Atomics: one
 * writer at a time, and after the final write nobody writes that thread's
 * file again. Stats go only into a folder that Control.checkFolder accepts.
 * A thread that instrumented nothing and was given no contributions writes no file.
 */
import { randomBytes } from "node:crypto"
import * as diagnostics from "node:diagnostics_channel"
import { writeSync } from "node:fs"
import * as path from "node:path"
import { BroadcastChannel, isMainThread, threadId, Worker } from "node:worker_threads"
import { createRequire } from "node:module"
import * as Profile from "../../core/Profile.ts"
import type * as StatsFile from "../../core/StatsFile.ts"
import type * as Config from "./Config.ts"
import * as Control from "./Control.ts"
import * as HotCounts from "./HotCounts.ts"
import * as Recorder from "./Recorder.ts"
import { writeFileAtomicSync } from "../files/AtomicWrite.ts"

/** ".ts" when running from src/, ".js" from a build: lazily loaded siblings take the same one. */
const ownExtension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"

const IDLE = 0
const WRITING = 1
const DELIVERED = 2

/**
 * The stats-file encoder (and effect/Schema behind it), loaded synchronously at
 * the first write: threads that instrument nothing never pay for it.
 */
let statsFile: Pick<typeof StatsFile, "encode"> | undefined
export const loadEncoder = (): Pick<typeof StatsFile, "encode"> =>
  (statsFile ??= createRequire(import.meta.url)(`./StatsEncoder${ownExtension}`) as Pick<typeof StatsFile, "encode">)
const encode = (profile: Profile.Profile): string => loadEncoder().encode(profile)

/** How long a final write waits for another writer of the same file before it takes over. */
const TAKE_OVER_AFTER_MS = 1000

export const channelName = "lineprof:delivery"
const STARTED_KEY = Symbol.for("lineprof.delivery.v1")
/** Where the started delivery puts its `contribute`, so that another copy of this module (src and dist) reaches it. */
const CONTRIBUTE_KEY = Symbol.for("lineprof.delivery.contribute.v1")
/** The main thread's hook through which the keeper makes lineprof step aside for a signal. */
export const STEP_ASIDE_KEY = Symbol.for("lineprof.delivery.stepAside.v1")
/** Counts of what delivery still holds (main thread), for tests: `{ workers, keeperRecords }`. */
const HELD_KEY = Symbol.for("lineprof.delivery.held.v1")

type Counters = Extract<Recorder.RecorderEvent, { readonly _tag: "Buffers" }>
type RegisteredFile = Recorder.FileRegistration

/** What threads say about themselves, to the main thread and the keeper. */
export type Message =
  | { readonly _tag: "Hello"; readonly threadId: number; readonly statsPath: string; readonly state: Int32Array }
  | { readonly _tag: "Buffers"; readonly threadId: number; readonly counters: Counters }
  | { readonly _tag: "File"; readonly threadId: number; readonly file: RegisteredFile }
  | { readonly _tag: "Contributed"; readonly threadId: number; readonly profile: Profile.Profile; readonly count: number }
  | { readonly _tag: "Ended"; readonly threadId: number }

/** What another thread knows of a thread: enough to write its file without it. */
export interface ThreadRecord {
  readonly threadId: number
  readonly statsPath: string
  readonly state: Int32Array
  counters: Counters | undefined
  readonly files: Array<RegisteredFile>
  /** `file + first slot` of each registration in `files`: a message may arrive twice (broadcast and forwarded). */
  readonly fileKeys: Set<string>
  /** Totals of hits, time and wait at the last write of the file by this holder. */
  lastTotals: string
  /** The thread's contributions as last posted, and how many there were. */
  contributed: Profile.Profile | undefined
  contributedCount: number
  lastContributedCount: number
  ended: boolean
}

/**
 * Shared cells between the main thread and its keeper (one Int32Array):
 * per stop signal k, HANDLED + k counts the runs of lineprof's listener,
 * LISTENERS + k the program's own listeners; WARNED (a warning line was
 * written), KEEPER_RECORDS (threads the keeper holds).
 */
export const HANDLED = 0
export const LISTENERS = 3
export const WARNED = 6
export const KEEPER_RECORDS = 7
/** Set by the keeper once it can write (its encoder is loaded). */
export const KEEPER_READY = 8
/** Set by the keeper when it wrote every final file the main thread asked for. */
export const FINAL_DONE = 9
const SHARED_CELLS = 10

/** How long the main thread waits for its keeper's final writes before it writes them itself. */
const FINAL_WAIT_MS = 2000

/** The main thread's request to its keeper: write every thread's final file now. */
export interface FinalRequest {
  readonly _tag: "Final"
}

/** What the main thread hands its keeper. */
export interface KeeperInit {
  readonly dir: string
  readonly runDir: boolean
  readonly intervalMs: number
  readonly shared: Int32Array
  /** Everything the main thread knew when it started the keeper; later news comes by message. */
  readonly messages: ReadonlyArray<Message>
}

/** Where stats go, and the warning cell of this thread (shared by the main thread and the keeper). */
export interface Folder {
  readonly dir: string
  readonly runDir: boolean
  readonly shared: Int32Array
}

const warnOnce = (folder: Folder, line: string): void => {
  if (Atomics.compareExchange(folder.shared, WARNED, 0, 1) !== 0) return
  try {
    // Not process.stderr: a worker's goes through the main thread's event loop.
    writeSync(2, `lineprof: ${line}\n`)
  } catch {
    // stderr closed.
  }
}

const sumOf = (values: Float64Array): number => {
  let total = 0
  for (let k = 0; k < values.length; k++) total += values[k]!
  return total
}

/**
 * A summary of counters that changes whenever anything ran: every line event
 * adds a hit, and resuming or leaving a function adds time or wait without one.
 */
const totalsOf = (counters: Counters | undefined): string =>
  counters === undefined ? "" : `${sumOf(counters.hits)} ${sumOf(counters.timeNs)} ${sumOf(counters.waitNs)}`

/** `own` plus `extra`, when there is any. */
const plus = (own: Profile.Profile, extra: Profile.Profile | undefined): Profile.Profile =>
  extra === undefined ? own : Profile.combine(own, extra)

/** A fresh stats file name for this process and thread. */
const makeStatsPath = (dir: string): string =>
  path.join(dir, `${process.pid}-${threadId}-${randomBytes(4).toString("hex")}.json`)


/**
 * Writes one thread's file under its state cell. `final` marks it delivered.
 * A periodic write gives way to a writer already at work; a final write waits
 * for it (up to `TAKE_OVER_AFTER_MS`, then takes over: that writer died mid-write).
 * Nothing is written into a folder that Control.checkFolder refuses.
 * Returns whether it wrote.
 */
const writeUnderState = (
  folder: Folder,
  state: Int32Array,
  file: string,
  final: boolean,
  profile: () => Profile.Profile | undefined
): boolean => {
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
      const problem = Control.checkFolder(folder.dir, folder.runDir)
      if (problem !== undefined) warnOnce(folder, problem)
      else {
        writeFileAtomicSync(file, encode(value), { mode: 0o600 })
        wrote = true
      }
    }
  } catch (error) {
    warnOnce(folder, `cannot write stats file ${file}: ${String((error as Error)?.message ?? error).split("\n")[0]}`)
  } finally {
    Atomics.store(state, 0, final ? DELIVERED : IDLE)
    Atomics.notify(state, 0)
  }
  return wrote
}

/**
 * Writes the file of a thread from what `record` holds, unless the thread
 * delivered it; `final` marks it delivered. A periodic (not final) write
 * happens only when the thread's counters or contributions changed since
 * this holder last wrote them.
 */
export const writeRecord = (folder: Folder, record: ThreadRecord, final: boolean): void => {
  const counters = record.counters
  // Sampled mode's hot counters (HotCounts) go into the totals before anything reads them.
  if (counters !== undefined) HotCounts.fold(counters.hot, counters.hits)
  const ownRan = counters !== undefined && record.files.some((file) => file.functions.length > 0)
  if (!ownRan && record.contributed === undefined) return
  const totals = totalsOf(counters)
  const count = record.contributedCount
  if (!final && totals === record.lastTotals && count === record.lastContributedCount) return
  writeUnderState(folder, record.state, record.statsPath, final, () => {
    record.lastTotals = totals
    record.lastContributedCount = count
    const own = ownRan ? Recorder.profileFrom(record.files, counters.hits, counters.timeNs, counters.waitNs) : Profile.empty
    return plus(own, record.contributed)
  })
}

/** Whether the thread's file was delivered: nobody writes it again. */
export const isDelivered = (record: ThreadRecord): boolean => Atomics.load(record.state, 0) === DELIVERED

/**
 * Applies a message to `records`. Idempotent, so that a message may arrive
 * twice (the keeper hears a worker directly and through the main thread).
 * Threads in `forgotten` stay forgotten. Returns the record it touched.
 */
export const applyMessage = (
  records: Map<number, ThreadRecord>,
  message: Message,
  forgotten: ReadonlySet<number>
): ThreadRecord | undefined => {
  if (forgotten.has(message.threadId)) return undefined
  if (message._tag === "Hello") {
    let record = records.get(message.threadId)
    if (record === undefined) {
      record = {
        threadId: message.threadId,
        statsPath: message.statsPath,
        state: message.state,
        counters: undefined,
        files: [],
        fileKeys: new Set(),
        lastTotals: "",
        contributed: undefined,
        contributedCount: 0,
        lastContributedCount: 0,
        ended: false
      }
      records.set(message.threadId, record)
    }
    return record
  }
  const record = records.get(message.threadId)
  if (record === undefined) return undefined
  switch (message._tag) {
    case "Buffers":
      // Buffers only grow: a late copy of older ones is ignored.
      if (record.counters === undefined || message.counters.hits.length > record.counters.hits.length) record.counters = message.counters
      break
    case "File": {
      const key = `${message.file.file}\u0000${message.file.functions[0]?.slots[0] ?? -1}`
      if (!record.fileKeys.has(key)) {
        record.fileKeys.add(key)
        record.files.push(message.file)
      }
      break
    }
    case "Contributed":
      // Totals, not increments: a later post replaces an earlier one.
      if (message.count > record.contributedCount) {
        record.contributed = message.profile
        record.contributedCount = message.count
      }
      break
    case "Ended":
      record.ended = true
      break
  }
  return record
}

/** A record's content as messages (the keeper's start-up copy). */
const messagesOf = (record: ThreadRecord): Array<Message> => {
  const messages: Array<Message> = [{ _tag: "Hello", threadId: record.threadId, statsPath: record.statsPath, state: record.state }]
  if (record.counters !== undefined) messages.push({ _tag: "Buffers", threadId: record.threadId, counters: record.counters })
  for (const file of record.files) messages.push({ _tag: "File", threadId: record.threadId, file })
  if (record.contributed !== undefined) {
    messages.push({ _tag: "Contributed", threadId: record.threadId, profile: record.contributed, count: record.contributedCount })
  }
  return messages
}

// ---------------------------------------------------------------------------
// This thread

/** This thread's stats file and its state cell, once `start` ran. */
let started: { readonly statsPath: string; readonly state: Int32Array; readonly folder: Folder } | undefined
let ownFiles = 0
let ownCounters: Counters | undefined
let lastOwnTotals = ""
/** Whether this thread told the main thread (or, in the main thread, its keeper) about itself. */
let announced = false
const registered: Array<RegisteredFile> = []

/**
 * Profiles given to `contribute` in this thread: `contributed` is the fold of
 * the earlier ones, `contributions` the ones not folded in yet (folding is
 * linear in the profile's size, so it waits for a write or a batch of 256).
 */
let contributed: Profile.Profile | undefined
let contributions: Array<Profile.Profile> = []
let contributedCount = 0
/** `contributedCount` at the last write of this thread's file, and at the last post. */
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
  announce()
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

/** Main thread: the workers that announced themselves and were not forgotten. */
const workers = new Map<number, ThreadRecord>()
const forgottenWorkers = new Set<number>()
/** Main thread: the keeper, once started; `keeperFailed` when it could not start or died. */
let keeper: Worker | undefined
let keeperFailed = false
let startingKeeper = false

/** Says `message` about this thread: a worker to everyone, the main thread to its keeper. */
const tell = (message: Message): void => {
  if (isMainThread) keeper?.postMessage(message)
  else post(message)
}

/**
 * Worker thread to main thread and keeper. A channel is opened for each
 * message (rare: announcement, file loads, buffer growth, changed
 * contributions) and closed at once, so that no worker holds a channel that
 * would also receive, and queue, every other worker's messages.
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

/** The first time this thread has something to deliver: say so, with all it has. */
const announce = (): void => {
  if (announced || started === undefined) return
  announced = true
  if (isMainThread) {
    startKeeper()
    return
  }
  post({ _tag: "Hello", threadId, statsPath: started.statsPath, state: started.state })
  if (ownCounters !== undefined) post({ _tag: "Buffers", threadId, counters: ownCounters })
  for (const file of registered) post({ _tag: "File", threadId, file })
}

/** Posts this thread's contributions' total when it changed since the last post. */
const postContributions = (): void => {
  const count = contributedCount
  if (count === postedContributedCount) return
  postedContributedCount = count
  tell({ _tag: "Contributed", threadId, profile: foldContributions()!, count })
}

/**
 * Writes this thread's own file: always when final, on a change of counts or
 * contributions otherwise.
 */
const flushOwn = (final: boolean): void => {
  if (started === undefined || (ownFiles === 0 && contributedCount === 0)) return
  const totals = totalsOf(ownCounters)
  const count = contributedCount
  if (!final && totals === lastOwnTotals && count === writtenContributedCount) return
  writeUnderState(started.folder, started.state, started.statsPath, final, () => {
    lastOwnTotals = totals
    writtenContributedCount = count
    return plus(Recorder.snapshot(), foldContributions())
  })
}

/** Main thread: writes this thread's file and every undelivered worker's file, not final. */
const flushAll = (): void => {
  flushOwn(false)
  for (const record of workers.values()) writeRecord(started!.folder, record, false)
}

/**
 * Main thread: has the keeper, when it is up, write every final file (it
 * holds everything, and its encoder is loaded: the main thread's would load
 * effect/Schema synchronously first, which takes a second on a loaded
 * machine), waiting for it up to FINAL_WAIT_MS. Returns whether it did.
 */
const finalByKeeper = (): boolean => {
  const shared = started?.folder.shared
  if (keeper === undefined || shared === undefined || Atomics.load(shared, KEEPER_READY) === 0) return false
  postContributions()
  Atomics.store(shared, FINAL_DONE, 0)
  keeper.postMessage({ _tag: "Final" } satisfies FinalRequest)
  Atomics.wait(shared, FINAL_DONE, 0, FINAL_WAIT_MS)
  return Atomics.load(shared, FINAL_DONE) === 1
}

/**
 * Main thread: writes the final files of this thread and of every worker
 * that did not deliver: by the keeper when it can, then here what is left.
 */
const deliverAll = (): void => {
  finalByKeeper()
  flushOwn(true)
  for (const record of workers.values()) writeRecord(started!.folder, record, true)
}

/** Main thread: news from a worker (by broadcast), passed on to the keeper. */
const onWorkerMessage = (message: Message): void => {
  const record = applyMessage(workers, message, forgottenWorkers)
  if (record === undefined) return
  keeper?.postMessage(message)
  if (message._tag === "Hello") startKeeper()
  if (message._tag === "Ended") {
    // Let messages the worker posted just before it ended arrive first.
    setImmediate(() => {
      writeRecord(started!.folder, record, true)
      // Delivered now, or nothing to deliver: nobody writes this file again, and nobody needs the record.
      Atomics.compareExchange(record.state, 0, IDLE, DELIVERED)
      workers.delete(record.threadId)
      forgottenWorkers.add(record.threadId)
    }).unref()
  }
}

/** The keeper's entry: an eval worker does not run NODE_OPTIONS' `--import` (a file worker does). */
const keeperUrl = new URL(`./Keeper${ownExtension}`, import.meta.url).href

/** Main thread: starts the keeper once (see Keeper), with everything known so far. */
const startKeeper = (): void => {
  if (keeper !== undefined || keeperFailed || started === undefined) return
  const folder = started.folder
  const ownRecord: ThreadRecord = {
    threadId,
    statsPath: started.statsPath,
    state: started.state,
    counters: ownCounters,
    files: registered.slice(),
    fileKeys: new Set(),
    lastTotals: "",
    contributed: foldContributions(),
    contributedCount,
    lastContributedCount: 0,
    ended: false
  }
  postedContributedCount = contributedCount
  const init: KeeperInit = {
    dir: folder.dir,
    runDir: folder.runDir,
    intervalMs: intervalMs,
    shared: folder.shared,
    messages: [ownRecord, ...workers.values()].flatMap(messagesOf)
  }
  startingKeeper = true
  try {
    keeper = new Worker(`import(${JSON.stringify(keeperUrl)})`, {
      eval: true,
      execArgv: [],
      workerData: init,
      stdout: false,
      stderr: false
    })
  } catch {
    keeperFailed = true
    return
  } finally {
    startingKeeper = false
  }
  keeper.unref()
  const lost = () => {
    // Back to the main thread's own timer.
    keeper = undefined
    keeperFailed = true
  }
  keeper.on("error", lost)
  keeper.on("exit", lost)
}

let intervalMs = 1000

/** Main thread: how many times each of lineprof's signal listeners ran, and the program's own listeners. */
const signals = Control.stopSignals

const onSignal = (signal: NodeJS.Signals): void => {
  const k = signals.indexOf(signal as Control.StopSignal)
  if (k >= 0 && started !== undefined) Atomics.add(started.folder.shared, HANDLED + k, 1)
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
  if (started !== undefined) Control.unmarkAlive(started.folder.dir)
  for (const name of signals) process.removeListener(name, onSignal)
  process.kill(process.pid, signal)
}

/**
 * Main thread: the program's own listeners for each stop signal, counted in
 * shared memory, so that the keeper knows whether the program handles a
 * signal without asking the (maybe busy) main thread.
 */
const trackListeners = (shared: Int32Array): void => {
  const count = (delta: number) => (event: string | symbol, listener: unknown) => {
    const k = signals.indexOf(event as Control.StopSignal)
    if (k >= 0 && listener !== onSignal) Atomics.add(shared, LISTENERS + k, delta)
  }
  process.on("newListener", count(1))
  process.on("removeListener", count(-1))
}

/**
 * Starts delivery in this thread (once; later calls are ignored): the exit
 * handler, the worker / main-thread hand-over and, in the main thread, the
 * signal listeners and the keeper (at the first instrumented file). Call
 * after `Recorder.install()` and before any file is instrumented.
 */
export const start = (config: Config.Config): void => {
  // One delivery a thread, even if two copies of this module are loaded in it.
  if (started !== undefined || (globalThis as any)[STARTED_KEY] === true) return
  ;(globalThis as any)[STARTED_KEY] = true
  intervalMs = config.intervalMs
  const state = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT))
  const shared = new Int32Array(new SharedArrayBuffer(SHARED_CELLS * Int32Array.BYTES_PER_ELEMENT))
  const folder: Folder = { dir: config.dir, runDir: Control.isRunDir(), shared }
  started = { statsPath: makeStatsPath(config.dir), state, folder }
  ;(globalThis as any)[CONTRIBUTE_KEY] = contributeHere
  if (isMainThread) {
    const channel = new BroadcastChannel(channelName)
    channel.onmessage = (event) => onWorkerMessage((event as { readonly data: Message }).data)
    channel.unref()
    ;(globalThis as any)[HELD_KEY] = () => ({ workers: workers.size, keeperRecords: Atomics.load(shared, KEEPER_RECORDS) })
  }
  Recorder.subscribe((event) => {
    if (event._tag === "File") {
      if (event.file.functions.length === 0) return
      ownFiles++
      registered.push(event.file)
      // The main thread's keeper may have started for a worker: it holds the main thread's Hello.
      if (announced || keeper !== undefined) tell({ _tag: "File", threadId, file: event.file })
      else announce()
    } else {
      ownCounters = event
      if (announced || keeper !== undefined) tell({ _tag: "Buffers", threadId, counters: event })
    }
  })

  // A worker that this thread starts: when it ends, make sure its file is there.
  diagnostics.subscribe("worker_threads", (message) => {
    if (startingKeeper) return
    const worker = (message as { readonly worker: Worker }).worker
    const workerThreadId = worker.threadId
    worker.once("exit", () => {
      if (isMainThread) onWorkerMessage({ _tag: "Ended", threadId: workerThreadId })
      else post({ _tag: "Ended", threadId: workerThreadId })
    })
  })

  // The keeper writes on the interval; threads only tell it their contributions.
  // Without a keeper (it could not start) the main thread writes every thread's file.
  setInterval(() => {
    if (isMainThread && keeper === undefined) flushAll()
    else postContributions()
  }, config.intervalMs).unref()
  writeFinalAfterExitListeners(() => {
    if (!isMainThread) return flushOwn(true)
    deliverAll()
    Control.unmarkAlive(folder.dir)
  })
  if (isMainThread) {
    trackListeners(shared)
    for (const signal of signals) process.on(signal, onSignal)
    ;(globalThis as any)[STEP_ASIDE_KEY] = (signal: NodeJS.Signals) => {
      process.removeListener(signal, onSignal)
    }
  }
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
