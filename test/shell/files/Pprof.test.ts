/**
 * pprof files on disk: the gzip layer (round trip, truncated and corrupt data,
 * the size guard), `StatsFiles.write` / `read` and folder merges with pprof,
 * and an independent reader: Go's `go tool pprof` (Debian's golang-go, which
 * .ci/run installs) must show, for the golden profiles, the same hits and
 * nanoseconds as the text report, and `-list` the figures beside the source.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Result from "effect/Result"
import * as PprofFormat from "pprof-format"
import * as Profile from "../../../src/core/Profile.ts"
import * as Text from "../../../src/core/render/Text.ts"
import * as Merge from "../../../src/shell/files/Merge.ts"
import * as PprofFiles from "../../../src/shell/files/Pprof.ts"
import * as StatsFiles from "../../../src/shell/files/StatsFiles.ts"
import { goPprof } from "../../e2e/go.ts"
import { goldenDir, profileFromGolden, readGolden, readInput } from "../../golden/profiles.ts"

const sample = Profile.make([
  {
    file: "/srv/fetch.mjs",
    name: "fetchAll",
    firstLine: 3,
    lastLine: 4,
    fileHash: "e1",
    source: ["async function fetchAll(urls) {", "  return Promise.all(urls.map(get))"],
    lines: [Profile.makeLine(4, { hits: 12n, timeNs: 2n ** 60n, waitNs: 7n })]
  }
])

const failureOf = (bytes: Uint8Array, options: PprofFiles.DecodeOptions = {}): string => {
  const decoded = PprofFiles.decodeGzip(bytes, "p.pb.gz", options)
  return Result.isFailure(decoded) ? decoded.failure : "<decoded without error>"
}

describe("the gzip layer", () => {
  it("reads back what it wrote, and knows pprof by its bytes and names", () => {
    const bytes = PprofFiles.encodeGzip(sample)
    assert.isTrue(PprofFiles.isGzip(bytes))
    assert.isFalse(PprofFiles.isGzip(new TextEncoder().encode("{}")))
    assert.deepStrictEqual(Result.getOrThrow(PprofFiles.decodeGzip(bytes, "p.pb.gz")), sample)
    assert.deepStrictEqual(["a.pb.gz", "A.PB.GZ", "cpu.pprof", "a.json", "a.gz", "pb.gz.json"].map(PprofFiles.hasPprofExtension), [
      true,
      true,
      true,
      false,
      false,
      false
    ])
  })

  it("truncated, corrupt or too large gzip data: one line naming the file", () => {
    const bytes = PprofFiles.encodeGzip(sample)
    assert.strictEqual(failureOf(bytes.subarray(0, bytes.length - 12)), "p.pb.gz: truncated gzip data")
    const corrupt = new Uint8Array(bytes) // a copy (a Buffer's slice() would share the bytes)
    corrupt[corrupt.length - 5] = corrupt[corrupt.length - 5]! ^ 0xff // the CRC-32 / length trailer
    assert.match(failureOf(corrupt), /^p\.pb\.gz: corrupt gzip data \([^\n]+\)$/)
    assert.match(failureOf(bytes, { maxBytes: 100 }), /^p\.pb\.gz: too large: unpacks to more than 100 bytes$/)
    assert.strictEqual(failureOf(gzipSync("hello\n")), "p.pb.gz: not a pprof profile (Unrecognized value type: 4)")
  })
})

/** A fresh folder, removed when the test's scope closes. */
const makeFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "lineprof-pprof-" }))

describe("StatsFiles with pprof", () => {
  it.effect("writes pprof for .pb.gz / .pprof names or format: pprof, JSON otherwise, and reads both back", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* makeFolder
      for (const [name, options, gzipped] of [
        ["a.pb.gz", {}, true],
        ["a.pprof", {}, true],
        ["a.json", {}, false],
        ["b.json", { format: "pprof" as const }, true],
        ["b.pb.gz", { format: "json" as const }, false]
      ] as const) {
        const path = join(dir, name)
        yield* StatsFiles.write(path, sample, options)
        assert.strictEqual(PprofFiles.isGzip(yield* fs.readFile(path)), gzipped, name)
        assert.deepStrictEqual(yield* StatsFiles.read(path), sample, name)
      }
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a counter pprof cannot hold: fails naming the file, leaves the old file and no temporary file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* makeFolder
      const path = join(dir, "p.pb.gz")
      yield* StatsFiles.write(path, sample)
      const before = yield* fs.readFile(path)
      const huge = Profile.make([{ ...sample.functions[0]!, lines: [Profile.makeLine(4, { hits: 2n ** 63n })] }])
      const error = yield* Effect.flip(StatsFiles.write(path, huge, { shownPath: "p.pb.gz" }))
      assert.strictEqual(
        error.message,
        "p.pb.gz: cannot write: cannot encode functions[0].lines[0] hits = 9223372036854775808: pprof values are int64 (at most 2^63 - 1)"
      )
      assert.deepStrictEqual(yield* fs.readFile(path), before)
      assert.deepStrictEqual(yield* fs.readDirectory(dir), ["p.pb.gz"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("another tool's pprof: a foreign StatsFileError naming the file", () =>
    Effect.gen(function*() {
      const dir = yield* makeFolder
      const path = join(dir, "cpu.pb.gz")
      const strings = new PprofFormat.StringTable()
      const cpu = new PprofFormat.Profile({ sampleType: [{ type: strings.dedup("cpu"), unit: strings.dedup("nanoseconds") }], stringTable: strings })
      yield* Effect.sync(() => writeFileSync(path, gzipSync(cpu.encode())))
      const error = yield* Effect.flip(StatsFiles.read(path))
      assert.deepStrictEqual(
        { message: error.message, foreign: error.foreign },
        { message: `${path}: a pprof profile not written by lineprof (lineprof reads back only the pprof files it writes)`, foreign: true }
      )
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("a folder merge picks up *.pb.gz beside *.json and adds exactly", () =>
    Effect.gen(function*() {
      const dir = yield* makeFolder
      yield* StatsFiles.write(join(dir, "one.pb.gz"), sample)
      yield* StatsFiles.write(join(dir, "two.json"), sample)
      const merged = yield* Merge.mergeInputs([dir])
      assert.strictEqual(merged.mergedFiles, 2)
      assert.deepStrictEqual(merged.profile, Profile.combine(sample, sample))
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

// -- go tool pprof ------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), "lineprof-go-pprof-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const goPprofHere = (args: ReadonlyArray<string>): string => goPprof(args, { cwd: goldenDir, home: scratch })

interface GoLine {
  readonly file: string
  readonly name: string
  readonly firstLine: number
  readonly lineNo: number
  readonly hits: bigint
  readonly timeNs: bigint
}

/**
 * The samples of `go tool pprof -raw`: the header of sample types, one
 * `values: location-id` row a sample, then the locations
 * (`id: 0x0 M=1 name file:line s=firstLine`).
 */
const parseRaw = (raw: string): { readonly types: string; readonly lines: ReadonlyArray<GoLine> } => {
  const rows = raw.split("\n")
  const samplesAt = rows.indexOf("Samples:")
  const locationsAt = rows.indexOf("Locations")
  assert.isAbove(samplesAt, -1, raw)
  assert.isAbove(locationsAt, samplesAt, raw)
  const locations = new Map<string, Omit<GoLine, "hits" | "timeNs">>()
  for (const row of rows.slice(locationsAt + 1)) {
    const match = /^\s*(\d+): 0x0 M=1 (.+) (\S+):(\d+) s=(\d+)$/.exec(row)
    if (match === null) continue
    locations.set(match[1]!, { name: match[2]!, file: match[3]!, lineNo: Number(match[4]), firstLine: Number(match[5]) })
  }
  const lines = rows.slice(samplesAt + 2, locationsAt).map((row) => {
    const match = /^\s*(\d+)\s+(\d+): (\d+) $/.exec(row)
    assert.isNotNull(match, `sample row ${JSON.stringify(row)}`)
    const location = locations.get(match![3]!)
    assert.isDefined(location, `location ${match![3]}`)
    return { ...location!, hits: BigInt(match![1]!), timeNs: BigInt(match![2]!) }
  })
  return { types: rows[samplesAt + 1]!, lines }
}

/** The profile go's figures describe: the original's functions (names, sources), with go's hits and nanoseconds. */
const profileFromGo = (original: Profile.Profile, lines: ReadonlyArray<GoLine>): Profile.Profile =>
  Profile.make(
    original.functions.map((fn) => ({
      ...fn,
      lines: lines
        .filter((line) => line.file === fn.file && line.name === fn.name && line.firstLine === fn.firstLine)
        .map((line) => Profile.makeLine(line.lineNo, { hits: line.hits, timeNs: line.timeNs }))
    }))
  )

const goldenCases = [
  {
    name: "line_profiler's four workers, merged",
    profile: Profile.ProfileReducer.combineAll([0, 1, 2, 3].map((k) => profileFromGolden(readInput(`worker-${k}.json`)))),
    reports: [
      ["merged_us.txt", { unit: 1e-6 }],
      ["merged_native.txt", {}]
    ] as const
  },
  {
    name: "the synthetic profile (counters beyond 2^53, a function that never ran, a vanished file)",
    profile: profileFromGolden(readInput("synthetic_input.json")),
    reports: [
      ["synthetic_native.txt", {}],
      ["synthetic_us.txt", { unit: 1e-6 }]
    ] as const
  }
]

describe("go tool pprof reads lineprof's pprof", () => {
  for (const [index, golden] of goldenCases.entries()) {
    it(`-raw shows the text report's hits and nanoseconds: ${golden.name}`, () => {
      const path = join(scratch, `golden-${index}.pb.gz`)
      writeFileSync(path, PprofFiles.encodeGzip(golden.profile))
      const raw = parseRaw(goPprofHere(["-raw", path]))
      assert.strictEqual(raw.types, "hits/count time/nanoseconds[dflt]")
      // go leaves out samples whose values are all 0; every golden line has hits.
      const expected = golden.profile.functions.flatMap((fn) =>
        fn.lines.map((line) => ({ file: fn.file, name: fn.name, firstLine: fn.firstLine, lineNo: line.lineNo, hits: line.hits, timeNs: line.timeNs }))
      )
      assert.isAbove(expected.length, 3)
      assert.deepStrictEqual(raw.lines, expected)
      const fromGo = profileFromGo(golden.profile, raw.lines)
      for (const [report, options] of golden.reports) assert.strictEqual(Text.render(fromGo, options), readGolden(report), report)
    })
  }

  it("-raw leaves out a line whose counters are all 0 (lineprof's own reader keeps it)", () => {
    const path = join(scratch, "zero.pb.gz")
    const withZero = Profile.make([{ ...sample.functions[0]!, lines: [Profile.makeLine(3), Profile.makeLine(4, { hits: 3n, timeNs: 5n })] }])
    writeFileSync(path, PprofFiles.encodeGzip(withZero))
    assert.deepStrictEqual(
      parseRaw(goPprofHere(["-raw", path])).lines.map((line) => [line.lineNo, line.hits, line.timeNs]),
      [[4, 3n, 5n]]
    )
    assert.deepStrictEqual(Result.getOrThrow(PprofFiles.decodeGzip(PprofFiles.encodeGzip(withZero), "zero.pb.gz")), withZero)
  })

  it("-list FUNC shows each line's hits beside its source", () => {
    const path = join(scratch, "golden-list.pb.gz")
    writeFileSync(path, PprofFiles.encodeGzip(goldenCases[0]!.profile))
    const listing = goPprofHere(["-list", "^child$", "-sample_index=hits", path])
    const rows = listing.split("\n").filter((row) => /^\s+(\d+|\.)\s+(\d+|\.)\s+\d+:/.test(row))
    assert.deepStrictEqual(rows.slice(0, 4), [
      "         .          .     13:def child(num):",
      "     20000      20000     14:    num = math.sqrt(num)",
      "     20000      20000     15:    num = power3(num)",
      "     20000      20000     16:    return num"
    ])
    assert.include(listing, "ROUTINE ======================== child in seed_pool.py")
  })
})
