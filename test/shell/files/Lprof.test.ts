/**
 * Reading .lprof files from disk: sources resolved against a folder (or the
 * current directory), a missing source file left undefined so the report says
 * so, and one-line errors starting with the path.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Profile from "../../../src/core/Profile.ts"
import * as Text from "../../../src/core/render/Text.ts"
import * as Lprof from "../../../src/shell/files/Lprof.ts"
import * as StatsFiles from "../../../src/shell/files/StatsFiles.ts"

const goldenDir = fileURLToPath(new URL("../../golden", import.meta.url))
const workerPaths = [0, 1, 2, 3].map((n) => join(goldenDir, `worker-${n}.lprof`))

const withTempDir = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "lineprof-lprof-"))),
    use,
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

describe("shell/Lprof.read", () => {
  it.effect("reads the four dumps with sources from the golden folder and renders line_profiler's merged text", () =>
    Effect.gen(function*() {
      const profiles = yield* Effect.forEach(workerPaths, (path) => Lprof.read(path, { sourceRoot: goldenDir }))
      const merged = Profile.ProfileReducer.combineAll(profiles)
      assert.deepStrictEqual(Profile.check(merged), [])
      assert.deepStrictEqual(merged.functions.map((fn) => fn.source), [
        ["def power3(num):", "    return num * num * num"],
        ["def child(num):", "    num = math.sqrt(num)", "    num = power3(num)", "    return num"]
      ])
      assert.strictEqual(Text.render(merged, { unit: 1e-6 }), readFileSync(join(goldenDir, "merged_us.txt"), "utf8"))
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("resolves sources against the current directory by default (the repository root under vitest)", () =>
    Effect.gen(function*() {
      const profile = yield* Lprof.read(fileURLToPath(new URL("../../fixtures/lprof/relative_source.lprof", import.meta.url)))
      assert.deepStrictEqual(profile.functions[0]!.source, ["def power3(num):", "    return num * num * num"])
      assert.strictEqual(profile.functions[0]!.lastLine, 10)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("leaves the source undefined when the referenced file is missing, and the text report says so", () =>
    withTempDir((dir) =>
      Effect.gen(function*() {
        copyFileSync(workerPaths[0]!, join(dir, "worker-0.lprof"))
        const profile = yield* Lprof.read(join(dir, "worker-0.lprof"), { sourceRoot: dir })
        assert.isTrue(profile.functions.every((fn) => fn.source === undefined))
        assert.include(Text.render(profile), "Could not find file seed_pool.py")
      })
    ).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("fails with one line starting with the path for a missing file and for a JSON file", () =>
    withTempDir((dir) =>
      Effect.gen(function*() {
        const missing = join(dir, "nope.lprof")
        const error = yield* Effect.flip(Lprof.read(missing))
        assert.strictEqual(error._tag, "LprofFileError")
        assert.strictEqual(error.message, `${missing}: cannot read: no such file`)

        const bytes = new TextEncoder().encode('{"format":"lineprof"}')
        const decodeError = yield* Effect.flip(Lprof.decodeBytes(join(dir, "x.lprof"), bytes))
        assert.strictEqual(decodeError.message, `${join(dir, "x.lprof")}: not a readable pickle: unknown pickle opcode 0x7b (at byte 0)`)
      })
    ).pipe(Effect.provide(NodeFileSystem.layer)))

  it("recognises .lprof files by extension and by pickle magic", () => {
    assert.isTrue(Lprof.hasLprofExtension("out/demo_0.LPROF"))
    assert.isFalse(Lprof.hasLprofExtension("stats.json"))
    assert.isTrue(Lprof.looksLikeLprof(readFileSync(workerPaths[0]!)))
    assert.isFalse(Lprof.looksLikeLprof(new TextEncoder().encode("{}")))
  })

  it.effect("is what StatsFiles.read uses for pickles (by magic) and for *.lprof files (by name, protocol 0 has no magic)", () =>
    Effect.gen(function*() {
      const fixtures = fileURLToPath(new URL("../../fixtures/lprof", import.meta.url))
      const byMagic = yield* StatsFiles.read(join(fixtures, "relative_source.lprof"))
      assert.deepStrictEqual(byMagic.functions[0]!.source, ["def power3(num):", "    return num * num * num"])
      const protocol0 = yield* StatsFiles.read(join(fixtures, "worker-0.protocol-0.lprof"))
      const direct = yield* Lprof.read(workerPaths[0]!)
      assert.deepStrictEqual(protocol0, direct)
      const refused = yield* Effect.flip(StatsFiles.read(join(fixtures, "os_system.protocol-2.pkl")))
      assert.strictEqual(refused._tag, "StatsFileError")
      assert.match(refused.message, /os_system\.protocol-2\.pkl: not a readable pickle: pickle refers to posix\.system, which is not allowed here/)
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("Lprof.withPythonSources", () => {
  it.effect("fills only functions of Python dumps (no file hash); a lineprof function without source stays so", () =>
    Effect.gen(function*() {
      const power3 = (fileHash: string): Profile.FunctionProfile => ({
        file: "seed_pool.py",
        name: fileHash === "" ? "power3" : "notPython",
        firstLine: 9,
        lastLine: 10,
        fileHash,
        source: undefined,
        lines: [Profile.makeLine(10, { hits: 1n, timeNs: 5n })]
      })
      const filled = yield* Lprof.withPythonSources(Profile.make([power3(""), power3("abc")]), { sourceRoot: goldenDir })
      const byName = new Map(filled.functions.map((fn) => [fn.name, fn]))
      assert.deepStrictEqual(byName.get("power3")?.source, ["def power3(num):", "    return num * num * num"])
      assert.strictEqual(byName.get("notPython")?.source, undefined)
      assert.deepStrictEqual(Profile.check(filled), [])
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
