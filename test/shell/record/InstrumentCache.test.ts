/**
 * The instrument cache: an entry made at one slot base serves any other
 * exactly as instrumenting there would (checked over real files, across digit
 * boundaries), corrupt entries are ignored and rewritten, an unusable folder
 * never fails, eviction removes the oldest first, concurrent writers never
 * leave a bad entry, and a program run warm gives the hits of a cold run.
 * The same for files reported through their source maps (test/fixtures/engine/mapped:
 * test/fixtures/sourcemaps built by `tsc -p test/fixtures/sourcemaps --outDir
 * test/fixtures/engine/mapped/tsc` and by `esbuild test/fixtures/sourcemaps/src/main.ts
 * --bundle --sourcemap --format=esm --platform=node --outfile=test/fixtures/engine/mapped/bundle/main.js`),
 * and a change of the generated file, of its map or of an original source misses.
 */
import { assert, describe, it } from "@effect/vitest"
import { buildSync, transformSync } from "esbuild"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Instrument from "../../../src/core/Instrument.ts"
import { instrumentSource, type LoadFormat } from "../../../src/core/Instrument.ts"
import * as CacheDir from "../../../src/shell/record/CacheDir.ts"
import * as InstrumentCache from "../../../src/shell/record/InstrumentCache.ts"
import * as SourceMaps from "../../../src/shell/record/SourceMaps.ts"
import { hitsOf, runFixture } from "../../fixtures/engine/run.ts"
import { hitsOf100Rounds } from "../../fixtures/sourcemaps/expected.ts"
import { makeTempDir } from "../../support/TempDir.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

const formatOf = (file: string): LoadFormat =>
  file.endsWith(".cjs") ? "commonjs" : file.endsWith(".cts") ? "commonjs-typescript" : file.endsWith(".ts") ? "module-typescript" : "module"

/** Real sources: the engine fixtures (sync, async, generators, CJS, TS) and lineprof's own instrumenter and recorder. */
const corpus = [
  ...readdirSync(path.join(repoRoot, "test/fixtures/engine"), { recursive: true, encoding: "utf8" })
    .filter((name) => /\.(mjs|cjs|cts|ts)$/.test(name) && !name.endsWith(".d.mts") && !name.includes("broken"))
    .map((name) => path.join(repoRoot, "test/fixtures/engine", name)),
  path.join(repoRoot, "src/core/Instrument.ts"),
  path.join(repoRoot, "src/shell/record/Recorder.ts"),
  path.join(repoRoot, "src/shell/record/Delivery.ts")
]

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex")

describe("InstrumentCache.rebase", () => {
  it.each(["calls", "inline"] as const)("%s probes: an instrumentation moved to another slot base equals instrumenting at that base (code, runs, functions)", (probes) => {
    let checked = 0
    for (const file of corpus) {
      const source = readFileSync(file, "utf8")
      const format = formatOf(file)
      const at1 = instrumentSource(source, { file, format, slotBase: 1, probes })
      if (at1.slotCount === 0) continue
      for (const base of [2, 9, 10, 99, 100, 1000, 123_456]) {
        const direct = instrumentSource(source, { file, format, slotBase: base, probes })
        const moved = InstrumentCache.rebase(at1, 1, base)
        assert.strictEqual(moved.code, direct.code, `${file} at ${base}`)
        assert.deepStrictEqual(Array.from(moved.insertions), Array.from(direct.insertions), `${file} at ${base}`)
        assert.deepStrictEqual(moved.functions, direct.functions, `${file} at ${base}`)
        assert.strictEqual(moved.slotCount, direct.slotCount)
        // And back down again.
        const back = InstrumentCache.rebase(direct, base, 1)
        assert.strictEqual(back.code, at1.code)
        checked++
      }
    }
    assert.isAbove(checked, 50)
  })

  it.each(["calls", "inline"] as const)("%s probes: leaves the program's own text alone, even where it looks like a probe", (probes) => {
    const source = "function f() {\n  const s = '__lp$l=5, __lp$H(__lp$f,7, __lp$c[3]++, __lp$s[__lp$d]=4'\n  return s\n}\n"
    const file = "/virtual/lookalike.mjs"
    const at1 = instrumentSource(source, { file, format: "module", slotBase: 1, probes })
    const moved = InstrumentCache.rebase(at1, 1, 500)
    assert.strictEqual(moved.code, instrumentSource(source, { file, format: "module", slotBase: 500, probes }).code)
    assert.include(moved.code, "'__lp$l=5, __lp$H(__lp$f,7, __lp$c[3]++, __lp$s[__lp$d]=4'")
  })
})

describe("InstrumentCache.instrument", () => {
  const request = (source: string, slotBase: number, file = "/virtual/app.mjs"): InstrumentCache.Request => ({
    sourceHash: sha1(source),
    file,
    format: "module",
    slotBase
  })
  const source = "export function f(n) {\n  let s = 0\n  for (let i = 0; i < n; i++) s += i\n  return s\n}\n"
  const instrumentAt = (base: number) => instrumentSource(source, { file: "/virtual/app.mjs", format: "module", slotBase: base })

  it("a miss instruments and stores; a hit at another base gives what instrumenting there gives, without instrumenting", () => {
    const dir = makeTempDir("icache")
    const env = { LINEPROF_CACHE_DIR: dir }
    let calls = 0
    const counting = (base: number) => {
      calls++
      return instrumentAt(base)
    }
    const before = InstrumentCache.stats()
    const cold = InstrumentCache.instrument(request(source, 1), counting, env)
    assert.deepStrictEqual(cold, instrumentAt(1))
    const warm = InstrumentCache.instrument(request(source, 42), counting, env)
    assert.strictEqual(calls, 1)
    const direct = instrumentAt(42)
    assert.strictEqual(warm.code, direct.code)
    assert.deepStrictEqual(warm.functions, direct.functions)
    assert.deepStrictEqual(Array.from(warm.insertions), Array.from(direct.insertions))
    const after = InstrumentCache.stats()
    assert.deepStrictEqual(
      { hits: after.hits - before.hits, misses: after.misses - before.misses, stored: after.stored - before.stored },
      { hits: 1, misses: 1, stored: 1 }
    )
    assert.isAbove(after.timeNs, before.timeNs)
    assert.strictEqual(readdirSync(path.join(dir, "instrument")).length, 1)
  })

  it("the key separates formats, TypeScript files, extra options (the probe style among them) and sources", () => {
    const base = request(source, 1)
    const keys = new Set([
      InstrumentCache.keyOf(base),
      InstrumentCache.keyOf({ ...base, format: "commonjs" }),
      InstrumentCache.keyOf({ ...base, file: "/virtual/app.ts" }),
      InstrumentCache.keyOf({ ...base, options: { sourceMaps: true } }),
      InstrumentCache.keyOf({ ...base, options: { probes: "calls" } }),
      InstrumentCache.keyOf({ ...base, options: { probes: "inline" } }),
      InstrumentCache.keyOf({ ...base, sourceHash: sha1(source + " ") })
    ])
    assert.strictEqual(keys.size, 7)
    // The base and the folder are not part of the key.
    assert.strictEqual(InstrumentCache.keyOf({ ...base, slotBase: 7, file: "/elsewhere/app.mjs" }), InstrumentCache.keyOf(base))
  })

  it("a corrupt entry (garbage, truncated, a changed byte) is ignored and rewritten", () => {
    const dir = makeTempDir("icache")
    const env = { LINEPROF_CACHE_DIR: dir }
    InstrumentCache.instrument(request(source, 1), instrumentAt, env)
    const entry = InstrumentCache.entryPath(dir, InstrumentCache.keyOf(request(source, 1)))
    const good = readFileSync(entry, "utf8")
    for (const bad of ["garbage", good.slice(0, good.length >> 1), good.replace("__lp$l=1", "__lp$l=2"), ""]) {
      writeFileSync(entry, bad)
      let calls = 0
      const result = InstrumentCache.instrument(request(source, 1), (base) => (calls++, instrumentAt(base)), env)
      assert.strictEqual(calls, 1, `instrumented again after ${JSON.stringify(bad.slice(0, 20))}`)
      assert.deepStrictEqual(result, instrumentAt(1))
      assert.strictEqual(readFileSync(entry, "utf8"), good)
    }
  })

  it("an unusable folder (a file in the way) never fails: every lookup instruments", () => {
    const dir = makeTempDir("icache")
    const blocker = path.join(dir, "not-a-folder")
    writeFileSync(blocker, "")
    const env = { LINEPROF_CACHE_DIR: blocker }
    for (let round = 0; round < 2; round++) {
      let calls = 0
      const result = InstrumentCache.instrument(request(source, 3), (base) => (calls++, instrumentAt(base)), env)
      assert.strictEqual(calls, 1)
      assert.deepStrictEqual(result, instrumentAt(3))
    }
  })

  it("LINEPROF_CACHE=off: nothing is read or written", () => {
    const dir = makeTempDir("icache")
    InstrumentCache.instrument(request(source, 1), instrumentAt, { LINEPROF_CACHE_DIR: dir, LINEPROF_CACHE: "off" })
    assert.deepStrictEqual(readdirSync(dir), [])
  })
})

describe("InstrumentCache.evict", () => {
  it("removes the oldest entries first until the folder is under the target, and stale temporary files", () => {
    const dir = makeTempDir("icache")
    const folder = path.join(dir, "instrument")
    mkdirSync(folder)
    const nowMs = Date.now()
    for (let k = 0; k < 10; k++) {
      const file = path.join(folder, `entry${k}.json`)
      writeFileSync(file, "x".repeat(1000))
      // entry0 is the oldest.
      utimesSync(file, (nowMs - (10 - k) * 60_000) / 1000, (nowMs - (10 - k) * 60_000) / 1000)
    }
    const staleTemporary = path.join(folder, "entry0.json.123-abcd.tmp")
    writeFileSync(staleTemporary, "partial")
    utimesSync(staleTemporary, (nowMs - 3_600_000) / 1000, (nowMs - 3_600_000) / 1000)
    const freshTemporary = path.join(folder, "entry1.json.456-abcd.tmp")
    writeFileSync(freshTemporary, "being written")
    const left = InstrumentCache.evict(dir, 4500, nowMs)
    assert.strictEqual(left, 4000)
    assert.deepStrictEqual(
      readdirSync(folder).sort(),
      ["entry1.json.456-abcd.tmp", "entry6.json", "entry7.json", "entry8.json", "entry9.json"]
    )
  })

  it("a process that writes past LINEPROF_CACHE_MAX_MB evicts the oldest entries", () => {
    const dir = makeTempDir("icache")
    const env = { LINEPROF_CACHE_DIR: dir, LINEPROF_CACHE_MAX_MB: String(3000 / 1024 / 1024) }
    const folder = path.join(dir, "instrument")
    const sources = Array.from({ length: 12 }, (_, k) => `export function f${k}(n) {\n  return n + ${k}\n}\n`)
    for (const [k, text] of sources.entries()) {
      InstrumentCache.instrument(
        { sourceHash: sha1(text), file: "/virtual/m.mjs", format: "module", slotBase: 1 },
        (base) => instrumentSource(text, { file: "/virtual/m.mjs", format: "module", slotBase: base }),
        env
      )
      // Distinct modification times, in the order written.
      const entry = InstrumentCache.entryPath(dir, InstrumentCache.keyOf({ sourceHash: sha1(text), file: "/virtual/m.mjs", format: "module", slotBase: 1 }))
      utimesSync(entry, 1_000_000 + k, 1_000_000 + k)
    }
    const names = readdirSync(folder)
    const total = names.reduce((sum, name) => sum + statSync(path.join(folder, name)).size, 0)
    assert.isAtMost(total, 3000)
    assert.isBelow(names.length, 12)
    // The newest entry survived.
    const newest = sources[11]!
    assert.include(names, `${InstrumentCache.keyOf({ sourceHash: sha1(newest), file: "/virtual/m.mjs", format: "module", slotBase: 1 })}.json`)
  })
})

describe("InstrumentCache: writers and programs", () => {
  it("two processes writing the same entry over and over never leave a bad one for a reader", async () => {
    const dir = makeTempDir("icache")
    const entry = path.join(dir, "instrument", "same.json")
    const cacheDirUrl = new URL("../../../src/shell/record/CacheDir.ts", import.meta.url).href
    // Each writer writes a different, whole, self-checking text: `<sha1 of body>\n<body>`.
    const writer = (tag: string) =>
      new Promise<number | null>((resolve) => {
        const script = `
          const CacheDir = await import(${JSON.stringify(cacheDirUrl)})
          const { createHash } = await import("node:crypto")
          const body = ${JSON.stringify(tag)}.repeat(200_000)
          const text = createHash("sha1").update(body).digest("hex") + "\\n" + body
          for (let k = 0; k < 60; k++) if (!CacheDir.writeTextAtomic(${JSON.stringify(entry)}, text)) process.exit(3)
        `
        spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" }).on("exit", resolve)
      })
    const writers = Promise.all([writer("a"), writer("b")])
    let reads = 0
    let done = false
    void writers.then(() => (done = true))
    while (!done) {
      const text = CacheDir.readText(entry)
      if (text !== undefined) {
        const [check, body] = [text.slice(0, 40), text.slice(41)]
        assert.strictEqual(createHash("sha1").update(body).digest("hex"), check, "a reader saw a mixed or partial entry")
        reads++
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.deepStrictEqual(await writers, [0, 0])
    assert.isAbove(reads, 0)
    // Only the entry is left: no temporary file.
    assert.deepStrictEqual(readdirSync(path.join(dir, "instrument")), ["same.json"])
  })

  it("a program run warm gives the hits of a cold run, from the cache (LINEPROF_VERBOSE prints the hit rate)", async () => {
    const dir = makeTempDir("icache")
    const env = { LINEPROF_CACHE_DIR: dir, LINEPROF_VERBOSE: "1" }
    const cold = await runFixture("esm/app.mjs", ["1000"], { env })
    const warm = await runFixture("esm/app.mjs", ["1000"], { env })
    assert.match(cold.stderr, /^lineprof: pid \d+: 0 of 2 files from the instrument cache \(0%\), [\d.]+ ms instrumenting\n$/)
    assert.match(warm.stderr, /^lineprof: pid \d+: 2 of 2 files from the instrument cache \(100%\), [\d.]+ ms instrumenting\n$/)
    assert.strictEqual(warm.stdout, cold.stdout)
    assert.strictEqual(warm.code, cold.code)
    for (const name of ["child", "power3"]) assert.deepStrictEqual(hitsOf(warm.merged, name), hitsOf(cold.merged, name))
    assert.deepStrictEqual(hitsOf(warm.merged, "child"), { 5: 1000, 6: 1000, 7: 1000 })
    // The same functions with the same lines and sources, timed in both.
    const shape = (profile: typeof cold.merged) =>
      profile.functions.map((fn) => ({ name: fn.name, firstLine: fn.firstLine, lines: fn.lines.map((line) => line.lineNo), source: fn.source }))
    assert.deepStrictEqual(shape(warm.merged), shape(cold.merged))
    for (const profile of [cold.merged, warm.merged]) {
      const total = profile.functions.flatMap((fn) => fn.lines).reduce((sum, line) => sum + line.timeNs, 0n)
      assert.isAbove(Number(total), 0)
    }
  })
})

// ---------------------------------------------------------------------------
// Files reported through their source maps

const fixtures = path.join(repoRoot, "test/fixtures")

/** A generated file and its map, as the hooks see them. */
interface Mapped {
  readonly name: string
  readonly text: string
  readonly url: string
  readonly raw: SourceMaps.RawSourceMap
}

const mappedFile = (file: string): Mapped => {
  const text = readFileSync(file, "utf8")
  const url = pathToFileURL(file).href
  const raw = SourceMaps.readSourceMap(text, url)
  if (raw === undefined) throw new Error(`${file}: no source map`)
  return { name: path.relative(fixtures, file), text, url, raw }
}

/** The committed builds (tsc: originals from disk; esbuild: sourcesContent), rolldown's minified file, and an esbuild minified bundle made here. */
const mappedCorpus = (): ReadonlyArray<Mapped> => {
  const outfile = path.join(fixtures, "engine/mapped/min/main.js")
  const built = buildSync({
    entryPoints: [path.join(fixtures, "sourcemaps/src/main.ts")],
    bundle: true,
    minify: true,
    sourcemap: "external",
    format: "esm",
    platform: "node",
    outfile,
    write: false,
    logLevel: "warning"
  })
  const code = built.outputFiles.find((output) => output.path === outfile)!.text
  const mapText = built.outputFiles.find((output) => output.path === `${outfile}.map`)!.text
  const url = pathToFileURL(outfile).href
  return [
    ...["engine/sourcemap/out.mjs", "engine/mapped/tsc/main.js", "engine/mapped/tsc/math.js", "engine/mapped/tsc/shapes.js", "engine/mapped/bundle/main.js"]
      .map((name) => mappedFile(path.join(fixtures, name))),
    { name: "esbuild --minify", text: code, url, raw: { json: JSON.parse(mapText), mapUrl: `${url}.map`, fromComment: true, text: mapText } }
  ]
}

const instrumentMappedAt = (mapped: Mapped, slotBase: number, probes: "calls" | "inline" = "calls") =>
  SourceMaps.instrumentMapped(Instrument, mapped.text, { url: mapped.url, format: "module", slotBase, probes }, mapped.raw)!

/** What the hooks ask the cache for a mapped file. */
const mappedRequest = (mapped: Mapped, slotBase: number, probes: "calls" | "inline" = "calls"): InstrumentCache.MappedRequest => ({
  sourceHash: sha1(mapped.text),
  mapHash: SourceMaps.mapHash(mapped.raw),
  mapUrl: mapped.raw.mapUrl,
  file: fileURLToPath(mapped.url),
  format: "module",
  slotBase,
  options: { probes }
})

/** A result with its insertions as a plain array, for deepStrictEqual. */
const comparable = (result: SourceMaps.MappedResult | undefined) =>
  result === undefined ? undefined : { ...result, insertions: Array.from(result.insertions) }

describe("InstrumentCache.rebaseMapped", () => {
  it.each(["calls", "inline"] as const)("%s probes: a mapped instrumentation moved to another slot base equals instrumenting there (code, runs, files, functions, slots)", (probes) => {
    let checked = 0
    for (const mapped of mappedCorpus()) {
      const at1 = instrumentMappedAt(mapped, 1, probes)
      assert.isAbove(at1.files.flatMap((file) => file.functions).length, 0, mapped.name)
      for (const base of [2, 9, 10, 99, 100, 1000, 123_456]) {
        const direct = instrumentMappedAt(mapped, base, probes)
        assert.deepStrictEqual(comparable(InstrumentCache.rebaseMapped(at1, 1, base)), comparable(direct), `${mapped.name} at ${base}`)
        assert.deepStrictEqual(comparable(InstrumentCache.rebaseMapped(direct, base, 1)), comparable(at1), `${mapped.name} back from ${base}`)
        checked++
      }
    }
    assert.strictEqual(checked, 6 * 7)
  })
})

describe("InstrumentCache.instrumentMapped", () => {
  it("a miss instruments and stores; a hit at another base gives what instrumenting there gives, without instrumenting", () => {
    const dir = makeTempDir("icache")
    const env = { LINEPROF_CACHE_DIR: dir }
    for (const mapped of mappedCorpus()) {
      let calls = 0
      const counting = (base: number) => (calls++, instrumentMappedAt(mapped, base))
      const before = InstrumentCache.stats()
      const cold = InstrumentCache.instrumentMapped(mappedRequest(mapped, 1), counting, env)
      assert.deepStrictEqual(comparable(cold), comparable(instrumentMappedAt(mapped, 1)), mapped.name)
      const warm = InstrumentCache.instrumentMapped(mappedRequest(mapped, 1000), counting, env)
      assert.strictEqual(calls, 1, mapped.name)
      assert.deepStrictEqual(comparable(warm), comparable(instrumentMappedAt(mapped, 1000)), mapped.name)
      const after = InstrumentCache.stats()
      assert.deepStrictEqual(
        { hits: after.hits - before.hits, misses: after.misses - before.misses, stored: after.stored - before.stored },
        { hits: 1, misses: 1, stored: 1 },
        mapped.name
      )
    }
    assert.strictEqual(readdirSync(path.join(dir, "instrument")).length, 6)
  })

  it("the key separates the map's text, where its sources resolve from, the generated text, the options, and plain entries", () => {
    const mapped = mappedFile(path.join(fixtures, "engine/mapped/tsc/math.js"))
    const base = mappedRequest(mapped, 1)
    const keys = new Set([
      InstrumentCache.mappedKeyOf(base),
      InstrumentCache.mappedKeyOf({ ...base, mapHash: sha1("another map") }),
      InstrumentCache.mappedKeyOf({ ...base, mapUrl: "file:///elsewhere/math.js.map" }),
      InstrumentCache.mappedKeyOf({ ...base, sourceHash: sha1(mapped.text + " ") }),
      InstrumentCache.mappedKeyOf({ ...base, options: { probes: "inline" } }),
      InstrumentCache.mappedKeyOf({ ...base, format: "commonjs" }),
      InstrumentCache.keyOf(base)
    ])
    assert.strictEqual(keys.size, 7)
    assert.strictEqual(InstrumentCache.mappedKeyOf({ ...base, slotBase: 9 }), InstrumentCache.mappedKeyOf(base))
  })

  /** tsc-like output in a folder: out.js names out.js.map, whose source orig.ts is read from disk (no sourcesContent). */
  const original = "export function square(value: number): number {\n  const product = value * value\n  return product\n}\n"
  const writeBuild = (dir: string, source: string, options: { readonly sourcesContent: boolean } = { sourcesContent: false }) => {
    const built = transformSync(source, { loader: "ts", sourcemap: "external", sourcefile: "orig.ts", sourcesContent: options.sourcesContent, format: "esm" })
    writeFileSync(path.join(dir, "orig.ts"), source)
    writeFileSync(path.join(dir, "out.js"), `${built.code}//# sourceMappingURL=out.js.map\n`)
    writeFileSync(path.join(dir, "out.js.map"), built.map)
  }
  /** One lookup of dir/out.js as the hooks make it: whether it hit, and whether the result is what instrumenting gives today. */
  const lookup = (dir: string) => {
    const mapped = mappedFile(path.join(dir, "out.js"))
    let calls = 0
    const result = InstrumentCache.instrumentMapped(mappedRequest(mapped, 7), (base) => (calls++, instrumentMappedAt(mapped, base)), { LINEPROF_CACHE_DIR: path.join(dir, "cache") })
    assert.deepStrictEqual(comparable(result), comparable(instrumentMappedAt(mapped, 7)))
    return { hit: calls === 0, result: result! }
  }

  it("a changed original source (the generated file and the map unchanged) misses; so do a changed map and a changed generated file", () => {
    const dir = makeTempDir("icache")
    writeBuild(dir, original)
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
    assert.deepStrictEqual(lookup(dir).result.diskReads.map((read) => path.basename(read.file)), ["orig.ts"])
    // The original edited on disk, not rebuilt: the report must show today's text.
    writeFileSync(path.join(dir, "orig.ts"), original.replace("return product", "return product // edited"))
    const edited = lookup(dir)
    assert.isFalse(edited.hit)
    assert.include(edited.result.files[0]!.sourceText, "// edited")
    assert.isTrue(lookup(dir).hit)
    // The map changed (its source renamed to a copy), the generated file not.
    writeFileSync(path.join(dir, "copy.ts"), original)
    const map = JSON.parse(readFileSync(path.join(dir, "out.js.map"), "utf8"))
    writeFileSync(path.join(dir, "out.js.map"), JSON.stringify({ ...map, sources: ["copy.ts"] }))
    const remapped = lookup(dir)
    assert.isFalse(remapped.hit)
    assert.deepStrictEqual(remapped.result.files.map((file) => path.basename(file.file)), ["copy.ts"])
    assert.isTrue(lookup(dir).hit)
    // The generated file changed, its map not.
    writeFileSync(path.join(dir, "out.js"), `${readFileSync(path.join(dir, "out.js"), "utf8")}\n`)
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
  })

  it("a missing original counts: it missing, then back, each misses", () => {
    const dir = makeTempDir("icache")
    writeBuild(dir, original)
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
    rmSync(path.join(dir, "orig.ts"))
    const missing = lookup(dir)
    assert.isFalse(missing.hit)
    assert.deepStrictEqual(missing.result.files.map((file) => file.sourceText), [""])
    assert.deepStrictEqual(missing.result.diskReads.map((read) => read.textSha1), [undefined])
    assert.isTrue(lookup(dir).hit)
    writeFileSync(path.join(dir, "orig.ts"), original)
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
  })

  it("with sourcesContent the map holds the originals: nothing is read from disk, a change of them is a change of the map", () => {
    const dir = makeTempDir("icache")
    writeBuild(dir, original, { sourcesContent: true })
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
    assert.deepStrictEqual(lookup(dir).result.diskReads, [])
    writeBuild(dir, original.replace("return product", "return product // edited"), { sourcesContent: true })
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
  })

  it("a map beside the file (no comment) and an inline data: URL map are keyed by their text too", () => {
    const dir = makeTempDir("icache")
    writeBuild(dir, original)
    const code = readFileSync(path.join(dir, "out.js"), "utf8").replace(/\/\/# sourceMappingURL=.*\n$/, "")
    const map = JSON.parse(readFileSync(path.join(dir, "out.js.map"), "utf8"))
    writeFileSync(path.join(dir, "out.js"), code)
    writeFileSync(path.join(dir, "out.js.map"), JSON.stringify({ ...map, file: "out.js" }))
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
    writeFileSync(path.join(dir, "copy.ts"), original)
    writeFileSync(path.join(dir, "out.js.map"), JSON.stringify({ ...map, file: "out.js", sources: ["copy.ts"] }))
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
    const inline = (sources: ReadonlyArray<string>) =>
      `${code}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify({ ...map, sources })).toString("base64")}\n`
    writeFileSync(path.join(dir, "out.js"), inline(["orig.ts"]))
    assert.deepStrictEqual([lookup(dir).hit, lookup(dir).hit], [false, true])
    writeFileSync(path.join(dir, "out.js"), inline(["copy.ts"]))
    const remapped = lookup(dir)
    assert.isFalse(remapped.hit)
    assert.deepStrictEqual(remapped.result.files.map((file) => path.basename(file.file)), ["copy.ts"])
  })

  it("a map that cannot be used (a section that names another file) is neither stored nor counted", () => {
    const dir = makeTempDir("icache")
    const text = `export function f(n) {\n  return n + 1\n}\n//# sourceMappingURL=data:application/json,${encodeURIComponent(JSON.stringify({ version: 3, sections: [{ offset: { line: 0, column: 0 }, url: "x.map" }] }))}\n`
    writeFileSync(path.join(dir, "out.js"), text)
    const mapped = mappedFile(path.join(dir, "out.js"))
    const before = InstrumentCache.stats()
    const result = InstrumentCache.instrumentMapped(mappedRequest(mapped, 1), (base) => SourceMaps.instrumentMapped(Instrument, text, { url: mapped.url, format: "module", slotBase: base }, mapped.raw), { LINEPROF_CACHE_DIR: path.join(dir, "cache") })
    assert.isUndefined(result)
    const after = InstrumentCache.stats()
    assert.deepStrictEqual([after.hits - before.hits, after.misses - before.misses, after.stored - before.stored], [0, 0, 0])
    assert.deepStrictEqual(readdirSync(dir), ["out.js"])
  })

  it("a corrupt entry (garbage, truncated, a changed byte, a plain entry's text) is ignored and rewritten", () => {
    const dir = makeTempDir("icache")
    writeBuild(dir, original)
    lookup(dir)
    const mapped = mappedFile(path.join(dir, "out.js"))
    const entry = InstrumentCache.entryPath(path.join(dir, "cache"), InstrumentCache.mappedKeyOf(mappedRequest(mapped, 7)))
    const good = readFileSync(entry, "utf8")
    const plain = InstrumentCache.encodeEntry(InstrumentCache.mappedKeyOf(mappedRequest(mapped, 7)), 7, instrumentSource(mapped.text, { file: "/virtual/out.js", format: "module", slotBase: 7 }))
    for (const bad of ["garbage", good.slice(0, good.length >> 1), good.replace("__lp$l=7", "__lp$l=8"), plain, ""]) {
      writeFileSync(entry, bad)
      assert.isFalse(lookup(dir).hit, `used ${JSON.stringify(bad.slice(0, 20))}`)
      assert.strictEqual(readFileSync(entry, "utf8"), good)
    }
    assert.isTrue(lookup(dir).hit)
  })
})

describe("InstrumentCache: programs with source maps", () => {
  const expected = hitsOf100Rounds
  /** `{ "src/<file>.ts <function>": { line: hits } }`, the files relative to their sourcemaps folder. */
  const hitsByFunction = (profile: Awaited<ReturnType<typeof runFixture>>["merged"]) =>
    Object.fromEntries(profile.functions.map((fn) => [
      `src/${path.basename(fn.file)} ${fn.name}`,
      Object.fromEntries(fn.lines.map((line) => [line.lineNo, Number(line.hits)]))
    ]))
  const hitRate = /^lineprof: pid \d+: (\d+) of (\d+) files? from the instrument cache \(\d+%\), [\d.]+ ms instrumenting\n$/

  it.each([["tsc with maps", "mapped/tsc/main.js", 3], ["an esbuild bundle", "mapped/bundle/main.js", 1]] as const)(
    "%s: a warm run gives the hits, lines and sources of a cold run, from the cache",
    async (_, fixture, files) => {
      const dir = makeTempDir("icache")
      const env = { LINEPROF_CACHE_DIR: dir, LINEPROF_VERBOSE: "1" }
      const cold = await runFixture(fixture, ["100"], { env })
      const warm = await runFixture(fixture, ["100"], { env })
      assert.deepStrictEqual(hitRate.exec(cold.stderr)?.slice(1), ["0", String(files)])
      assert.deepStrictEqual(hitRate.exec(warm.stderr)?.slice(1), [String(files), String(files)])
      assert.strictEqual(cold.stdout, "328350 985050\n")
      assert.strictEqual(warm.stdout, cold.stdout)
      assert.deepStrictEqual(hitsByFunction(cold.merged), expected)
      assert.deepStrictEqual(hitsByFunction(warm.merged), expected)
      const shape = (profile: typeof cold.merged) =>
        profile.functions.map((fn) => ({ file: fn.file, name: fn.name, firstLine: fn.firstLine, source: fn.source }))
      assert.deepStrictEqual(shape(warm.merged), shape(cold.merged))
      assert.match(cold.merged.functions[0]!.file, /test\/fixtures\/sourcemaps\/src\/\w+\.ts$/)
    }
  )

  it("a warm run of a mapped program loads neither the instrumenter (nor its parser) nor trace-mapping", async () => {
    const dir = makeTempDir("icache")
    // A preload that notes every require of either's code (Hooks and SourceMaps load them lazily through
    // createRequire; the cache key reads trace-mapping's package.json for its version, which is no load of its code).
    const spy = path.join(dir, "spy.cjs")
    writeFileSync(spy, [
      "const Module = require('node:module')",
      "const load = Module._load",
      "const seen = new Set()",
      "Module._load = function (request, ...rest) {",
      "  if (/core[\\/]Instrument|trace-mapping$/.test(request)) seen.add(request.includes('trace-mapping') ? 'trace-mapping' : 'Instrument')",
      "  return load.call(this, request, ...rest)",
      "}",
      "process.on('exit', () => process.stderr.write(`loaded: ${[...seen].sort().join(' ')}\\n`))",
      ""
    ].join("\n"))
    const env = { LINEPROF_CACHE_DIR: path.join(dir, "cache"), NODE_OPTIONS: `--require ${spy}` }
    const cold = await runFixture("mapped/tsc/main.js", ["100"], { env })
    const warm = await runFixture("mapped/tsc/main.js", ["100"], { env })
    assert.include(cold.stderr, "loaded: Instrument trace-mapping\n")
    assert.include(warm.stderr, "loaded: \n")
    assert.deepStrictEqual(hitsByFunction(warm.merged), expected)
  })

  it("an original .ts edited after the build (generated files unchanged): its file misses, the report shows its new text", async () => {
    const dir = makeTempDir("icache")
    // The fixture's layout, so the maps' relative sources resolve to the copies.
    cpSync(path.join(fixtures, "engine/mapped"), path.join(dir, "engine/mapped"), { recursive: true })
    cpSync(path.join(fixtures, "sourcemaps/src"), path.join(dir, "sourcemaps/src"), { recursive: true })
    const env = { LINEPROF_CACHE_DIR: path.join(dir, "cache"), LINEPROF_VERBOSE: "1" }
    const main = path.join(dir, "engine/mapped/tsc/main.js")
    const cold = await runFixture(main, ["100"], { env })
    const math = path.join(dir, "sourcemaps/src/math.ts")
    writeFileSync(math, readFileSync(math, "utf8").replace("  return product\n", "  return product // edited\n"))
    const warm = await runFixture(main, ["100"], { env })
    assert.deepStrictEqual(hitRate.exec(cold.stderr)?.slice(1), ["0", "3"])
    assert.deepStrictEqual(hitRate.exec(warm.stderr)?.slice(1), ["2", "3"])
    assert.deepStrictEqual(hitsByFunction(warm.merged), expected)
    const square = (profile: typeof cold.merged) => (profile.functions.find((fn) => fn.name === "square")!.source ?? []).join("\n")
    assert.include(square(cold.merged), "  return product")
    assert.include(square(warm.merged), "  return product // edited")
  })
})
