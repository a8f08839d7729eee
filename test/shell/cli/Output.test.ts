/**
 * Output.writeTextAtomic words a failed write with the one errno table, as
 * `merge` does: a full disk is "no space left on the device", not Effect's
 * `Unknown: FileSystem.writeFile`; and it leaves no temporary file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as PlatformError from "effect/PlatformError"
import { writeTextAtomic } from "../../../src/shell/cli/Output.ts"

/** The real file system whose files fill the disk half way through a write. */
const fullDisk = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (real) => ({
    ...real,
    open: (path: string, options?: Parameters<FileSystem.FileSystem["open"]>[1]) =>
      Effect.map(real.open(path, options), (file) => {
        const writeAll = (bytes: Uint8Array) =>
          file.writeAll(bytes.subarray(0, bytes.length >> 1)).pipe(
            Effect.andThen(
              Effect.fail(
                PlatformError.systemError({
                  _tag: "Unknown",
                  module: "FileSystem",
                  method: "writeAll",
                  pathOrDescriptor: path,
                  cause: Object.assign(new Error("ENOSPC: simulated"), { code: "ENOSPC" })
                })
              )
            )
          )
        return Object.assign(Object.create(file) as FileSystem.File, { writeAll })
      })
  }))
).pipe(Layer.provide(NodeFileSystem.layer))

describe("Output.writeTextAtomic", () => {
  it.effect("on a full disk: one line naming the file as shown and the errno in words; the old file stays", () =>
    Effect.gen(function*() {
      const folder = mkdtempSync(join(tmpdir(), "lineprof-output-"))
      try {
        const path = join(folder, "report.txt")
        writeFileSync(path, "old report")
        const error = yield* Effect.flip(writeTextAtomic(path, "new report", "out/report.txt"))
        assert.strictEqual(error.message, "out/report.txt: cannot write: no space left on the device")
        assert.strictEqual(readFileSync(path, "utf8"), "old report")
        assert.deepStrictEqual(readdirSync(folder), ["report.txt"])
      } finally {
        rmSync(folder, { recursive: true, force: true })
      }
    }).pipe(Effect.provide(fullDisk)))
})
