/**
 * The calibration cache: a calibration is reused only under its own key,
 * a bad file or an unusable folder changes nothing, LINEPROF_RECALIBRATE
 * measures again once per run, and a real process adopts the cached value
 * instead of calibrating (seen through LINEPROF_CALIBRATION, which the
 * recorder hands to the processes it starts).
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as CalibrationCache from "../../../src/shell/record/CalibrationCache.ts"
import { makeTempDir } from "../../support/TempDir.ts"

const registerPath = fileURLToPath(new URL("../../../src/shell/record/register.ts", import.meta.url))
const key = CalibrationCache.currentKey()

describe("CalibrationCache", () => {
  it("reads back what it wrote under the same key, and nothing under another", () => {
    const dir = makeTempDir("calib")
    assert.isTrue(CalibrationCache.write(dir, key, { clock: "process.hrtime", costNs: 12.5 }))
    assert.deepStrictEqual(CalibrationCache.read(dir, key), { clock: "process.hrtime", costNs: 12.5 })
    assert.isUndefined(CalibrationCache.read(dir, { ...key, node: "v1.0.0" }))
    assert.isUndefined(CalibrationCache.read(dir, { ...key, cpu: "another CPU" }))
    assert.isUndefined(CalibrationCache.read(dir, { ...key, lineprof: "0.0.0" }))
  })

  it("a missing, corrupt or ill-typed file reads as no calibration", () => {
    const dir = makeTempDir("calib")
    assert.isUndefined(CalibrationCache.read(dir, key))
    const file = path.join(dir, CalibrationCache.FILE_NAME)
    for (const bad of ["", "{", "null", JSON.stringify({ format: 1, key, calibration: { clock: "x", costNs: -1 } }), JSON.stringify({ format: 1, key, calibration: { clock: 3, costNs: 1 } })]) {
      writeFileSync(file, bad)
      assert.isUndefined(CalibrationCache.read(dir, key), bad)
    }
  })

  it("adopt hands a cached calibration on through LINEPROF_CALIBRATION; an inherited one wins; LINEPROF_RECALIBRATE drops both", () => {
    const dir = makeTempDir("calib")
    CalibrationCache.write(dir, key, { clock: "performance.now", costNs: 7 })
    const env: NodeJS.ProcessEnv = { LINEPROF_CACHE_DIR: dir }
    // The real measurement of a performance.now() read: a cost of 7 ns is below any bar it sets.
    assert.deepStrictEqual(CalibrationCache.adopt(env), { clock: "performance.now", costNs: 7 })
    assert.strictEqual(env["LINEPROF_CALIBRATION"], `${process.version} performance.now 7`)

    const inherited: NodeJS.ProcessEnv = { LINEPROF_CACHE_DIR: dir, LINEPROF_CALIBRATION: `${process.version} process.hrtime 3` }
    assert.isUndefined(CalibrationCache.adopt(inherited))
    assert.strictEqual(inherited["LINEPROF_CALIBRATION"], `${process.version} process.hrtime 3`)

    const forced: NodeJS.ProcessEnv = { LINEPROF_CACHE_DIR: dir, LINEPROF_CALIBRATION: `${process.version} process.hrtime 3`, LINEPROF_RECALIBRATE: "1" }
    assert.isUndefined(CalibrationCache.adopt(forced))
    assert.isUndefined(forced["LINEPROF_CALIBRATION"])
  })

  it("a cached cost far above a read of its clock now (calibrated under load) is not adopted; a plausible one is", () => {
    const dir = makeTempDir("calib")
    const readNs = (clock: string) => (clock === "performance.now" ? 40 : undefined)
    // The bar: 1.5 reads + 10 ns = 70 ns.
    CalibrationCache.write(dir, key, { clock: "performance.now", costNs: 70 })
    const plausible: NodeJS.ProcessEnv = { LINEPROF_CACHE_DIR: dir }
    assert.deepStrictEqual(CalibrationCache.adopt(plausible, readNs), { clock: "performance.now", costNs: 70 })
    CalibrationCache.write(dir, key, { clock: "performance.now", costNs: 71 })
    const loaded: NodeJS.ProcessEnv = { LINEPROF_CACHE_DIR: dir }
    assert.isUndefined(CalibrationCache.adopt(loaded, readNs))
    assert.isUndefined(loaded["LINEPROF_CALIBRATION"])
    // A clock lineprof does not know is not trusted either.
    CalibrationCache.write(dir, key, { clock: "sundial", costNs: 1 })
    assert.isUndefined(CalibrationCache.adopt({ LINEPROF_CACHE_DIR: dir }, readNs))
  })

  it("save writes the file and ends a LINEPROF_RECALIBRATE request; an unusable folder is silent", () => {
    const dir = makeTempDir("calib")
    const env: NodeJS.ProcessEnv = { LINEPROF_CACHE_DIR: dir, LINEPROF_RECALIBRATE: "1" }
    CalibrationCache.save({ clock: "process.hrtime.bigint", costNs: 9 }, env)
    assert.isUndefined(env["LINEPROF_RECALIBRATE"])
    assert.deepStrictEqual(CalibrationCache.read(dir, key), { clock: "process.hrtime.bigint", costNs: 9 })

    const blocker = path.join(dir, "file")
    writeFileSync(blocker, "")
    CalibrationCache.save({ clock: "process.hrtime", costNs: 1 }, { LINEPROF_CACHE_DIR: path.join(blocker, "below") })
    assert.isUndefined(CalibrationCache.adopt({ LINEPROF_CACHE_DIR: path.join(blocker, "below") }))
  })

  describe("in a profiled process", () => {
    /** Runs a program under the register module that prints the calibration it ended up with. */
    const calibrationOf = (env: Record<string, string>): { readonly code: number | null; readonly calibration: string; readonly stderr: string } => {
      const statsDir = makeTempDir("calib-stats")
      const childEnv: Record<string, string | undefined> = { ...process.env, LINEPROF_DIR: statsDir, ...env }
      delete childEnv["LINEPROF_CALIBRATION"]
      delete childEnv["NODE_OPTIONS"]
      const result = spawnSync(process.execPath, ["--import", registerPath, "-e", "console.log(process.env.LINEPROF_CALIBRATION)"], {
        env: childEnv,
        encoding: "utf8"
      })
      return { code: result.status, calibration: result.stdout.trim(), stderr: result.stderr }
    }

    it("the first process calibrates and caches; the next adopts the cache; LINEPROF_RECALIBRATE=1 measures again and rewrites it", () => {
      const dir = makeTempDir("calib")
      const first = calibrationOf({ LINEPROF_CACHE_DIR: dir })
      assert.strictEqual(first.code, 0, first.stderr)
      const [version, clock, cost] = first.calibration.split(" ")
      assert.strictEqual(version, process.version)
      assert.deepStrictEqual(CalibrationCache.read(dir, key), { clock: clock!, costNs: Number(cost) })

      // A recognisable (and plausible) value in the cache is what the next process uses: it did not calibrate.
      CalibrationCache.write(dir, key, { clock: clock!, costNs: 1.2345 })
      assert.strictEqual(calibrationOf({ LINEPROF_CACHE_DIR: dir }).calibration, `${process.version} ${clock} 1.2345`)

      const again = calibrationOf({ LINEPROF_CACHE_DIR: dir, LINEPROF_RECALIBRATE: "1" })
      assert.notStrictEqual(again.calibration, `${process.version} ${clock} 1.2345`)
      const cached = CalibrationCache.read(dir, key)!
      assert.strictEqual(again.calibration, `${process.version} ${cached.clock} ${cached.costNs}`)
    })

    it("a cached cost far above a clock read (calibrated under load): the process calibrates again and replaces it", () => {
      const dir = makeTempDir("calib")
      const first = calibrationOf({ LINEPROF_CACHE_DIR: dir })
      const clock = first.calibration.split(" ")[1]!
      CalibrationCache.write(dir, key, { clock, costNs: 1234.5 })
      const next = calibrationOf({ LINEPROF_CACHE_DIR: dir })
      assert.strictEqual(next.code, 0, next.stderr)
      assert.notStrictEqual(next.calibration, `${process.version} ${clock} 1234.5`)
      const cached = CalibrationCache.read(dir, key)!
      assert.isBelow(cached.costNs, 1234.5)
      assert.strictEqual(next.calibration, `${process.version} ${cached.clock} ${cached.costNs}`)
    })

    it("a corrupt cache file or an unwritable folder: the process calibrates and runs as without a cache", () => {
      const dir = makeTempDir("calib")
      writeFileSync(path.join(dir, CalibrationCache.FILE_NAME), "{ not json")
      const corrupt = calibrationOf({ LINEPROF_CACHE_DIR: dir })
      assert.strictEqual(corrupt.code, 0)
      assert.strictEqual(corrupt.stderr, "")
      assert.match(corrupt.calibration, /^v\S+ \S+ [\d.e-]+$/)
      // ... and the bad file was replaced by a good one.
      assert.isDefined(CalibrationCache.read(dir, key))

      const blocker = path.join(dir, "blocker")
      writeFileSync(blocker, "")
      const unwritable = calibrationOf({ LINEPROF_CACHE_DIR: path.join(blocker, "cache") })
      assert.strictEqual(unwritable.code, 0)
      assert.strictEqual(unwritable.stderr, "")
      assert.match(unwritable.calibration, /^v\S+ \S+ [\d.e-]+$/)
      assert.include(readFileSync(path.join(dir, CalibrationCache.FILE_NAME), "utf8"), '"calibration"')
    })
  })
})
