/**
 * Calibration once per machine: the recorder's chosen clock and calibrated
 * probe cost, kept in `<cache folder>/calibration.json` under a key of Node
 * version, CPU model and lineprof version (the same binary on the same CPU
 * pays the same probe cost). Contract:
 *
 * - `adopt()` (before the recorder installs): unless `LINEPROF_RECALIBRATE=1`
 *   or the thread already has a calibration in `LINEPROF_CALIBRATION` (from
 *   the process that started it), a cached calibration whose key matches is
 *   put into `LINEPROF_CALIBRATION`, where the recorder takes it from, as from
 *   a parent, unless its cost is implausible against a read of its clock
 *   measured now (`isPlausible`: it was calibrated under load). A missing,
 *   corrupt, foreign or implausible file changes nothing: the recorder
 *   calibrates as without a cache, and `save` replaces it.
 * - `save(calibration)` (after the recorder calibrated): writes the file
 *   atomically and, when `LINEPROF_RECALIBRATE` asked for this calibration,
 *   removes that variable, so that the processes this one starts take the
 *   new calibration instead of measuring again: a run calibrates once.
 *   Failures are silent.
 */
import { cpus } from "node:os"
import * as path from "node:path"
import * as CacheDir from "./CacheDir.ts"
import * as Clock from "./Clock.ts"

/** What the recorder measures: the clock it reads and the cost of one line probe. */
export interface Calibration {
  readonly clock: string
  readonly costNs: number
}

/** What a calibration is only valid for. */
export interface Key {
  readonly node: string
  readonly cpu: string
  readonly lineprof: string
}

export const Variables = {
  /** `1` (or on, true, yes): measure again and overwrite the cached calibration. */
  recalibrate: "LINEPROF_RECALIBRATE",
  /** Where a process hands its calibration to the threads and processes it starts (see Recorder.CALIBRATION_ENV). */
  calibration: "LINEPROF_CALIBRATION"
} as const

export const FILE_NAME = "calibration.json"
const FORMAT = 1

/** This machine's key. */
export const currentKey = (): Key => {
  let cpu = "unknown"
  try {
    cpu = cpus()[0]?.model ?? "unknown"
  } catch {
    // no /proc: the key still works, less precisely
  }
  return { node: process.version, cpu, lineprof: CacheDir.lineprofVersion }
}

export const isRecalibrateRequested = (env: NodeJS.ProcessEnv = process.env): boolean =>
  ["1", "on", "true", "yes"].includes((env[Variables.recalibrate] ?? "").trim().toLowerCase())

const sameKey = (a: Key, b: unknown): boolean =>
  typeof b === "object" && b !== null && (b as Key).node === a.node && (b as Key).cpu === a.cpu && (b as Key).lineprof === a.lineprof

/** The calibration cached in `dir` for `key`; undefined when there is none, it is for another key, or the file is bad. */
export const read = (dir: string, key: Key): Calibration | undefined => {
  const text = CacheDir.readText(path.join(dir, FILE_NAME))
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text)
    if (parsed?.format !== FORMAT || !sameKey(key, parsed.key)) return undefined
    const { clock, costNs } = parsed.calibration ?? {}
    if (typeof clock !== "string" || typeof costNs !== "number" || !Number.isFinite(costNs) || costNs < 0) return undefined
    return { clock, costNs }
  } catch {
    return undefined
  }
}

/** Caches `calibration` for `key` in `dir` (atomically); false when it could not be written. */
export const write = (dir: string, key: Key, calibration: Calibration): boolean =>
  CacheDir.writeTextAtomic(
    path.join(dir, FILE_NAME),
    `${JSON.stringify({ format: FORMAT, key, calibration: { clock: calibration.clock, costNs: calibration.costNs } }, null, 2)}\n`
  )

/**
 * Before the recorder installs: hands it the cached calibration through
 * `LINEPROF_CALIBRATION` (see the module comment). Returns what it adopted.
 */
export const adopt = (
  env: NodeJS.ProcessEnv = process.env,
  clockReadNs: (clock: string) => number | undefined = measureClockRead
): Calibration | undefined => {
  if (isRecalibrateRequested(env)) {
    // An inherited calibration must not stand in for the one asked for.
    delete env[Variables.calibration]
    return undefined
  }
  if (env[Variables.calibration] !== undefined) return undefined
  const dir = CacheDir.cacheDir(env)
  if (dir === undefined) return undefined
  const cached = read(dir, currentKey())
  if (cached === undefined || !isPlausible(cached, clockReadNs(cached.clock))) return undefined
  env[Variables.calibration] = `${process.version} ${cached.clock} ${cached.costNs}`
  return cached
}

/**
 * A probe costs a clock read and a few ns more (bench: 41.2 ns against a
 * 39.4 ns read). A cached cost far above a read of its clock measured now was
 * calibrated while the machine was loaded: compensating with it would take
 * too much off every line, so it is measured again (and `save` replaces it).
 * A read measured now under load only raises the bar: no needless calibration.
 */
export const isPlausible = (calibration: Calibration, clockReadNs: number | undefined): boolean =>
  clockReadNs !== undefined && calibration.costNs <= PLAUSIBLE_FACTOR * clockReadNs + PLAUSIBLE_SLACK_NS

const PLAUSIBLE_FACTOR = 1.5
const PLAUSIBLE_SLACK_NS = 10

/** ns per read of the named clock, from a short measurement (about 0.1 ms); undefined for a clock lineprof does not know. */
const measureClockRead = (name: string): number | undefined => {
  const clock = Clock.clockCandidates.find((candidate) => candidate.name === name)
  return clock === undefined ? undefined : Clock.measureClockNs(clock, 500, 5)
}

/** After the recorder calibrated: caches the result (see the module comment). */
export const save = (calibration: Calibration, env: NodeJS.ProcessEnv = process.env): void => {
  if (isRecalibrateRequested(env)) delete env[Variables.recalibrate]
  const dir = CacheDir.cacheDir(env)
  if (dir !== undefined) write(dir, currentKey(), calibration)
}
