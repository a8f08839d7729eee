/**
 * Stats files on a real file system (a fresh temporary folder per test):
 * the one-line error of every kind of bad file, read/write round trips, and
 * the atomicity of `write` when writing or renaming fails half way.
 * File-system failures that root cannot provoke (permission denied, a full
 * disk) come from a FileSystem layer that wraps the real one.
 */
import { constants } from "node:buffer"
import { execFileSync } from "node:child_process"
import { symlinkSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as PlatformError from "effect/PlatformError"
import * as Profile from "../../../src/core/Profile.ts"
import * as StatsFile from "../../../src/core/StatsFile.ts"
import * as StatsFiles from "../../../src/shell/files/StatsFiles.ts"

const sample = Profile.make([
  {
    file: "/app/src/pow.ts",
    name: "power3",
    firstLine: 9,
    lastLine: 10,
    fileHash: "9f2c",
    source: ["function power3(x: number) {", "  return x * x * x"],
    lines: [Profile.makeLine(10, { hits: 5000n, timeNs: 2n ** 60n })]
  }
])

const other = Profile.make([
  {
    file: "/app/src/pow.ts",
    name: "power3",
    firstLine: 9,
    lastLine: 10,
    fileHash: "9f2c",
    source: undefined,
    lines: [Profile.makeLine(10, { hits: 1n, timeNs: 7n, waitNs: 3n })]
  }
])

/** A fresh folder, removed when the test's scope closes. */
const makeFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "lineprof-stats-" }))

const writeBytes = (path: string, bytes: Uint8Array | string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    typeof bytes === "string" ? fs.writeFileString(path, bytes) : fs.writeFile(path, bytes)
  )

/** Reads `path` expecting a typed failure; returns its message after checking it is one line without a stack. */
const readFailure = (path: string) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(StatsFiles.read(path))
    assert.strictEqual(error._tag, "StatsFileError")
    assert.strictEqual(error.path, path)
    assert.notInclude(error.message, "\n")
    assert.notMatch(error.message, /\bat .*:\d+:\d+/)
    return error.message
  })

const namesIn = (folder: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.map(fs.readDirectory(folder), (names) => [...names].sort()))

const systemError = (tag: PlatformError.SystemErrorTag, code: string, method: string, path: string) =>
  PlatformError.systemError({
    _tag: tag,
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    cause: Object.assign(new Error(`${code}: simulated`), { code })
  })

/** The real file system with some operations replaced. */
const layerWith = (override: (real: FileSystem.FileSystem) => Partial<FileSystem.FileSystem>) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) => ({ ...real, ...override(real) }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

describe("StatsFiles.read: one line for every bad file", () => {
  it.effect("a missing file", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      const path = `${folder}/missing.json`
      assert.strictEqual(yield* readFailure(path), `${path}: no such file`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a path through a file", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      yield* writeBytes(`${folder}/plain`, "x")
      const path = `${folder}/plain/a.json`
      assert.strictEqual(yield* readFailure(path), `${path}: a parent of this path is not a directory`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a directory", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      assert.strictEqual(yield* readFailure(folder), `${folder}: is a directory, not a stats file`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  // Permission denied and I/O errors cannot be provoked here as root: the
  // words come from RawFiles' errno table (test/shell/files/RawFiles.test.ts),
  // and test/e2e/cli-files.test.ts reads a mode-000 file without root's override.

  it.effect("a named pipe (FIFO) is refused at once, without waiting for a writer", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      const path = `${folder}/pipe.json`
      execFileSync("mkfifo", [path])
      assert.strictEqual(yield* readFailure(path), `${path}: not a regular file: a named pipe (FIFO)`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a device is refused without reading it", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* readFailure("/dev/zero"), "/dev/zero: not a regular file: a character device")
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a symbolic link to a FIFO is refused too", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      execFileSync("mkfifo", [`${folder}/pipe`])
      symlinkSync(`${folder}/pipe`, `${folder}/link.json`)
      assert.strictEqual(yield* readFailure(`${folder}/link.json`), `${folder}/link.json: not a regular file: a named pipe (FIFO)`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  const badFiles: ReadonlyArray<readonly [string, Uint8Array | string, string]> = [
    ["an empty file", "", "empty file, expected lineprof stats (JSON)"],
    ["not JSON", "Timer unit: 1e-06 s\n", `not JSON: Unexpected token 'T', "Timer unit: 1e-06 s\n" is not valid JSON`.replace("\n", "\\n")],
    ["truncated JSON", StatsFile.encode(sample).slice(0, 100), "truncated JSON: the text ends in the middle of a value"],
    ["binary garbage", new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x7b]), "binary data, not a lineprof stats file (expected JSON text)"],
    ["valid UTF-8 with NUL bytes", "{\u0000\u0000}", "binary data, not a lineprof stats file (expected JSON text)"],
    ["a foreign JSON file", `{"nodes": [], "startTime": 0}`, `not a lineprof stats file: no "format" field (expected "format": "lineprof")`],
    ["the wrong format", `{"format": "lineprof-html", "version": 1}`, `not a lineprof stats file: "format" is "lineprof-html", expected "lineprof"`],
    ["the wrong version", `{"format": "lineprof", "version": 7, "functions": []}`, "lineprof stats version 7 was written by a newer lineprof; this one reads versions 1 and 2 (upgrade lineprof)"],
    [
      "a negative count",
      StatsFile.encode(sample).replace("[[10,5000,", "[[10,-5000,"),
      "functions[0].lines[0][1] (hits): expected a non-negative integer, got -5000"
    ],
    [
      "a fractional count",
      StatsFile.encode(other).replace("[[10,1,7,3]]", "[[10,1,7.25,3]]"),
      "functions[0].lines[0][2] (timeNs): expected a non-negative integer, got 7.25"
    ]
  ]

  for (const [title, content, problem] of badFiles) {
    it.effect(title, () =>
      Effect.gen(function*() {
        const folder = yield* makeFolder
        const path = `${folder}/bad.json`
        yield* writeBytes(path, content)
        assert.strictEqual(yield* readFailure(path), `${path}: ${problem}`)
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  }
})

describe("StatsFiles.decodeBytes: text too long for one string", () => {
  it.effect("says the file is too large, not that it is binary", () =>
    Effect.gen(function*() {
      // Spaces: valid JSON whitespace, one byte longer than Node's longest string.
      const bytes = new Uint8Array(constants.MAX_STRING_LENGTH + 1).fill(0x20)
      const error = yield* Effect.flip(StatsFiles.decodeBytes("huge.json", bytes))
      assert.strictEqual(error.message, "huge.json: too large to read: more than the 512 MB of text Node holds in one string")
    }).pipe(Effect.provide(NodeFileSystem.layer)), { timeout: 60_000 })
})

describe("StatsFiles.write and read", () => {
  it.effect("round trip through a file, leaving only the file in the folder", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* makeFolder
      const path = `${folder}/worker-0.json`
      yield* StatsFiles.write(path, sample)
      assert.deepStrictEqual(yield* StatsFiles.read(path), sample)
      assert.strictEqual(yield* fs.readFileString(path), StatsFile.encode(sample))
      assert.deepStrictEqual(yield* namesIn(folder), ["worker-0.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("replaces an existing file", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      const path = `${folder}/stats.json`
      yield* StatsFiles.write(path, sample)
      yield* StatsFiles.write(path, other)
      assert.deepStrictEqual(yield* StatsFiles.read(path), other)
      assert.deepStrictEqual(yield* namesIn(folder), ["stats.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("readAll merges the files", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      yield* StatsFiles.write(`${folder}/a.json`, sample)
      yield* StatsFiles.write(`${folder}/b.json`, other)
      const merged = yield* StatsFiles.readAll([`${folder}/a.json`, `${folder}/b.json`])
      assert.deepStrictEqual(merged, Profile.combine(sample, other))
      assert.deepStrictEqual(merged.functions[0]!.lines, [Profile.makeLine(10, { hits: 5001n, timeNs: 2n ** 60n + 7n, waitNs: 3n })])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("readAll fails with the first bad file's message", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      yield* StatsFiles.write(`${folder}/a.json`, sample)
      const error = yield* Effect.flip(StatsFiles.readAll([`${folder}/a.json`, `${folder}/gone.json`]))
      assert.strictEqual(error.message, `${folder}/gone.json: no such file`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("StatsFiles.write is atomic", () => {
  it.effect("a write that fails half way leaves the old file and no temporary file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* makeFolder
      const path = `${folder}/stats.json`
      yield* fs.writeFileString(path, StatsFile.encode(sample))
      const error = yield* Effect.flip(StatsFiles.write(path, other))
      assert.strictEqual(error.message, `${path}: cannot write: no space left on the device`)
      assert.strictEqual(yield* fs.readFileString(path), StatsFile.encode(sample))
      assert.deepStrictEqual(yield* namesIn(folder), ["stats.json"])
    }).pipe(
      Effect.provide(
        layerWith((real) => ({
          open: (path, options) =>
            Effect.map(real.open(path, options), (file) => {
              // A disk that fills up after half of the bytes: a partial temporary file exists when the error comes.
              const writeAll = (bytes: Uint8Array) =>
                file.writeAll(bytes.subarray(0, bytes.length >> 1)).pipe(
                  Effect.andThen(Effect.fail(systemError("Unknown", "ENOSPC", "writeAll", path)))
                )
              return Object.assign(Object.create(file) as FileSystem.File, { writeAll })
            })
        }))
      )
    ))

  it.effect("a rename that fails leaves the old file and no temporary file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* makeFolder
      const path = `${folder}/stats.json`
      yield* fs.writeFileString(path, StatsFile.encode(sample))
      const error = yield* Effect.flip(StatsFiles.write(path, other))
      assert.strictEqual(error.message, `${path}: cannot write: permission denied`)
      assert.strictEqual(yield* fs.readFileString(path), StatsFile.encode(sample))
      assert.deepStrictEqual(yield* namesIn(folder), ["stats.json"])
    }).pipe(
      Effect.provide(layerWith(() => ({ rename: (from) => Effect.fail(systemError("PermissionDenied", "EACCES", "rename", from)) })))
    ))

  it.effect("an invalid profile is refused before anything is written", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* makeFolder
      const path = `${folder}/stats.json`
      yield* fs.writeFileString(path, StatsFile.encode(sample))
      const negative: Profile.Profile = { functions: [{ ...sample.functions[0]!, lines: [Profile.makeLine(10, { hits: -1n })] }] }
      const error = yield* Effect.flip(StatsFiles.write(path, negative))
      assert.strictEqual(error.message, `${path}: cannot write: cannot encode an invalid profile: functions[0] (power3).lines[0]: negative counter`)
      assert.strictEqual(yield* fs.readFileString(path), StatsFile.encode(sample))
      assert.deepStrictEqual(yield* namesIn(folder), ["stats.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a missing folder", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      const path = `${folder}/no/such/folder/stats.json`
      const error = yield* Effect.flip(StatsFiles.write(path, sample))
      assert.strictEqual(error.message, `${path}: cannot write: folder ${folder}/no/such/folder does not exist`)
      assert.deepStrictEqual(yield* namesIn(folder), [])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("messages name the file as shownPath, the spelling the user gave", () =>
    Effect.gen(function*() {
      const folder = yield* makeFolder
      const error = yield* Effect.flip(
        StatsFiles.write(`${folder}/no/such/folder/stats.json`, sample, { shownPath: "no/such/folder/stats.json" })
      )
      assert.strictEqual(error.message, "no/such/folder/stats.json: cannot write: folder no/such/folder does not exist")
      assert.strictEqual(error.path, `${folder}/no/such/folder/stats.json`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a directory in the way", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* makeFolder
      const path = `${folder}/stats.json`
      yield* fs.makeDirectory(path)
      yield* fs.writeFileString(`${path}/keep`, "kept")
      const error = yield* Effect.flip(StatsFiles.write(path, sample))
      assert.strictEqual(error.message, `${path}: cannot write: is a directory, not a stats file`)
      assert.strictEqual(yield* fs.readFileString(`${path}/keep`), "kept")
      assert.deepStrictEqual(yield* namesIn(folder), ["stats.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
