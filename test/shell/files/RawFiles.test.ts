/**
 * RawFiles: regular files only and a size cap on reads, atomic writes (Effect
 * and sync) that leave nothing behind on failure, the one errno table, and
 * the one format sniffer.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as PlatformError from "effect/PlatformError"
import * as RawFiles from "../../../src/shell/files/RawFiles.ts"

const folders: Array<string> = []
const makeFolder = (): string => {
  const folder = mkdtempSync(join(tmpdir(), "lineprof-raw-"))
  folders.push(folder)
  return folder
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

const platformError = (tag: PlatformError.SystemErrorTag, code: string | undefined) =>
  PlatformError.systemError({
    _tag: tag,
    module: "FileSystem",
    method: "readFile",
    pathOrDescriptor: "/x",
    ...(code === undefined ? {} : { cause: Object.assign(new Error(`${code}: simulated`), { code }) })
  })

describe("RawFiles.describeError: the one errno table", () => {
  it("words errno codes, from Node errors and from Effect's PlatformError alike", () => {
    assert.strictEqual(RawFiles.describeErrno("ENOSPC"), "no space left on the device")
    assert.strictEqual(RawFiles.describeError(Object.assign(new Error("x"), { code: "ENOSPC" })), "no space left on the device")
    assert.strictEqual(RawFiles.describeError(platformError("Unknown", "ENOSPC")), "no space left on the device")
    assert.strictEqual(RawFiles.describeError(platformError("PermissionDenied", "EACCES")), "permission denied")
    assert.strictEqual(RawFiles.describeError(platformError("Unknown", "EIO")), "I/O error (EIO)")
  })

  it("falls back on Effect's reason when there is no errno code", () => {
    assert.strictEqual(RawFiles.describeError(platformError("PermissionDenied", undefined)), "permission denied")
    assert.strictEqual(RawFiles.describeError(platformError("NotFound", undefined)), "no such file")
    assert.strictEqual(RawFiles.describeError(platformError("Unknown", undefined)), "I/O error")
  })
})

describe("RawFiles.readRegularFile", () => {
  const readFailure = (path: string, maxBytes = 1024) =>
    Effect.runPromise(Effect.flip(RawFiles.readRegularFile(path, { maxBytes })))

  it("reads a regular file whole", async () => {
    const path = join(makeFolder(), "a.json")
    writeFileSync(path, "x".repeat(5000))
    const bytes = await Effect.runPromise(RawFiles.readRegularFile(path, { maxBytes: 5000 }))
    assert.strictEqual(new TextDecoder().decode(bytes), "x".repeat(5000))
  })

  it("refuses a file over the cap without reading it", async () => {
    const path = join(makeFolder(), "a.json")
    writeFileSync(path, "x".repeat(2000))
    const error = await readFailure(path, 1000)
    assert.strictEqual(error.problem, "too large: 2000 bytes, more than the 1000 bytes lineprof reads")
  })

  it("refuses FIFOs, devices and folders, each with its kind", async () => {
    const folder = makeFolder()
    execFileSync("mkfifo", [join(folder, "pipe")])
    assert.strictEqual((await readFailure(join(folder, "pipe"))).problem, "not a regular file: a named pipe (FIFO)")
    assert.strictEqual((await readFailure("/dev/null")).problem, "not a regular file: a character device")
    const error = await readFailure(folder)
    assert.strictEqual(error.problem, "is a directory")
    assert.strictEqual(error.code, "EISDIR")
    assert.strictEqual((await readFailure(join(folder, "missing"))).code, "ENOENT")
  })
})

describe("RawFiles atomic writes", () => {
  it("writeFileAtomic writes and replaces, leaving only the file", async () => {
    const folder = makeFolder()
    const path = join(folder, "out.txt")
    writeFileSync(path, "old")
    await Effect.runPromise(RawFiles.writeFileAtomic(path, "new text").pipe(Effect.provide(NodeFileSystem.layer)))
    assert.strictEqual(readFileSync(path, "utf8"), "new text")
    assert.deepStrictEqual(readdirSync(folder), ["out.txt"])
  })

  it("writeFileAtomic over a folder fails with the errno's words and leaves no temporary file", async () => {
    const folder = makeFolder()
    mkdirSync(join(folder, "out.txt"))
    const error = await Effect.runPromise(
      Effect.flip(RawFiles.writeFileAtomic(join(folder, "out.txt"), "x")).pipe(Effect.provide(NodeFileSystem.layer))
    )
    assert.strictEqual(error.code, "EISDIR")
    assert.deepStrictEqual(readdirSync(folder), ["out.txt"])
  })

  it("writeFileAtomicSync writes and replaces; on failure it throws the system error and leaves no temporary file", () => {
    const folder = makeFolder()
    const path = join(folder, "out.txt")
    RawFiles.writeFileAtomicSync(path, "one")
    RawFiles.writeFileAtomicSync(path, new TextEncoder().encode("two"))
    assert.strictEqual(readFileSync(path, "utf8"), "two")
    mkdirSync(join(folder, "dir"))
    assert.throws(() => RawFiles.writeFileAtomicSync(join(folder, "dir"), "x"), /EISDIR/)
    assert.deepStrictEqual(readdirSync(folder).sort(), ["dir", "out.txt"])
  })
})

describe("RawFiles.sniffFormat: the one format sniffer", () => {
  const bytes = (...values: Array<number>) => new Uint8Array(values)
  it("pickle protocols 2 to 5 by their header, 0 and 1 by the .lprof name", () => {
    for (const protocol of [2, 3, 4, 5]) assert.strictEqual(RawFiles.sniffFormat("a.bin", bytes(0x80, protocol, 0x7d)), "lprof")
    for (const protocol of [0, 1, 6]) assert.strictEqual(RawFiles.sniffFormat("a.bin", bytes(0x80, protocol, 0x7d)), "json")
    assert.strictEqual(RawFiles.sniffFormat("old.LPROF", new TextEncoder().encode("(dp0\n")), "lprof")
    assert.strictEqual(RawFiles.sniffFormat("a.json", new TextEncoder().encode("{}")), "json")
  })
})
