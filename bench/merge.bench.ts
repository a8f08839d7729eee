/**
 * `lineprof merge` on many small stats files: wall time and peak RSS of the
 * real bin, merging 100, 1,000 and 10,000 files of the same shape (what many
 * workers profiling the same code leave behind). Merge folds as it reads, so
 * peak memory should stay flat as the file count grows 100 times; the
 * `--version` row is the bin's own start-up footprint, for reference, and the
 * last row is the naive way for contrast: `StatsFiles.readAll` (read every
 * file, then combine) on the 10,000 files, in a fresh process of its own.
 *
 * Peak RSS is the bin process's `process.resourceUsage().maxRSS`, reported by
 * a one-line module `--import`ed into it. RSS includes the headroom V8 keeps
 * between collections, so a second table shows what the fold really keeps
 * alive: the live heap after a forced GC, sampled every 1,000 files during
 * `Merge.mergeFiles` (in a fresh `--expose-gc` process).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Profile from "../src/core/Profile.ts"
import * as StatsFile from "../src/core/StatsFile.ts"
import * as Merge from "../src/shell/files/Merge.ts"
import * as StatsFiles from "../src/shell/files/StatsFiles.ts"

const binPath = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "bin.ts")
const reportRss = `data:text/javascript,process.on("exit",()=>process.stderr.write("maxRssKb="+process.resourceUsage().maxRSS+"\\n"))`

const functionsPerFile = 12
const linesPerFunction = 6

/** The k-th worker's profile: the same functions every time, counts that vary with k. */
const workerProfile = (k: number): Profile.Profile =>
  Profile.make(
    Array.from({ length: functionsPerFile }, (_, f) => {
      const firstLine = 1 + f * (linesPerFunction + 2)
      return {
        file: `/app/src/module${f % 3}.ts`,
        name: `fn${f}`,
        firstLine,
        lastLine: firstLine + linesPerFunction,
        fileHash: `hash${f % 3}`,
        source: Array.from({ length: linesPerFunction + 1 }, (_, l) => `  statement_${f}_${l}()`),
        lines: Array.from({ length: linesPerFunction }, (_, l) =>
          Profile.makeLine(firstLine + 1 + l, { hits: BigInt(1 + ((k + l) % 97)), timeNs: BigInt(1000 + ((k * 7919 + l) % 100_000)) })
        )
      }
    })
  )

const makeCorpus = (root: string, count: number): string => {
  const dir = join(root, `files-${count}`)
  mkdirSync(dir)
  // 100 files a sub-folder, as a stats folder of many runs would look.
  for (let k = 0; k < count; k++) {
    const sub = join(dir, `run-${Math.floor(k / 100)}`)
    if (k % 100 === 0) mkdirSync(sub)
    writeFileSync(join(sub, `${k}.json`), StatsFile.encode(workerProfile(k)))
  }
  return dir
}

interface Row {
  readonly label: string
  readonly files: number
  readonly wallMs: number
  readonly maxRssMb: number
}

const benchPath = fileURLToPath(import.meta.url)

/** `node merge.bench.ts --collect-all DIR`: the naive baseline, all profiles held at once. */
const collectAll = (dir: string) =>
  Effect.gen(function* () {
    const paths = yield* Merge.findStatsFiles([dir])
    const profile = yield* StatsFiles.readAll(paths)
    if (profile.functions.length === 0) throw new Error("empty merge")
  }).pipe(Effect.provide(NodeServices.layer))

const measure = (label: string, files: number, script: string, args: ReadonlyArray<string>): Row => {
  const startedAtMs = performance.now()
  const result = spawnSync(process.execPath, ["--import", reportRss, script, ...args], { encoding: "utf8" })
  const wallMs = performance.now() - startedAtMs
  if (result.status !== 0) throw new Error(`${label} failed (${result.status}): ${result.stderr}`)
  const rss = /maxRssKb=(\d+)/.exec(result.stderr)
  if (rss === null) throw new Error(`no maxRSS in: ${result.stderr}`)
  return { label, files, wallMs, maxRssMb: Number(rss[1]) / 1024 }
}

const runBin = (label: string, files: number, args: ReadonlyArray<string>): Row => measure(label, files, binPath, args)

const main = () => {
  const root = mkdtempSync(join(tmpdir(), "lineprof-merge-bench-"))
  try {
    const rows: Array<Row> = [runBin("lineprof --version (start-up)", 0, ["--version"])]
    let largest = ""
    const corpora: Array<readonly [number, string]> = []
    for (const count of [100, 1_000, 10_000]) {
      largest = makeCorpus(root, count)
      corpora.push([count, largest])
      rows.push(runBin(`lineprof merge -o out.json <folder of ${count}>`, count, ["merge", "-o", join(root, `out-${count}.json`), largest]))
    }
    rows.push(measure("naive: StatsFiles.readAll, then combine", 10_000, benchPath, ["--collect-all", largest]))
    const at100 = rows.find((row) => row.files === 100)!
    console.log("| command | files | wall (s) | files / s | peak RSS (MB) | RSS vs 100 files |")
    console.log("|---|---:|---:|---:|---:|---:|")
    for (const row of rows) {
      const perSecond = row.files === 0 ? "" : Math.round(row.files / (row.wallMs / 1000)).toString()
      const ratio = row.files === 0 ? "" : `${(row.maxRssMb / at100.maxRssMb).toFixed(2)}x`
      console.log(`| ${row.label} | ${row.files} | ${(row.wallMs / 1000).toFixed(2)} | ${perSecond} | ${row.maxRssMb.toFixed(1)} | ${ratio} |`)
    }
    console.log(`\n(${functionsPerFile} functions x ${linesPerFunction} lines a file; the merged profile has the same shape.)`)
    console.log("\n| files folded | live heap after listing (MB) | largest live heap during the fold (MB) |")
    console.log("|---:|---:|---:|")
    for (const [count, dir] of corpora) if (count >= 1_000) console.log(liveHeapRow(dir, count))
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/** `node --expose-gc merge.bench.ts --live-heap DIR`: prints the largest live heap (MB) seen during the fold. */
const liveHeap = (dir: string) =>
  Effect.gen(function* () {
    const gc = (globalThis as { gc?: () => void }).gc
    if (gc === undefined) throw new Error("run with --expose-gc")
    const paths = yield* Merge.findStatsFiles([dir])
    gc()
    const afterListingMb = process.memoryUsage().heapUsed / 2 ** 20
    let maxLiveMb = 0
    const progress = {
      tick: (done: number) => {
        if (done % 1000 !== 0) return
        gc()
        maxLiveMb = Math.max(maxLiveMb, process.memoryUsage().heapUsed / 2 ** 20)
      },
      finish: () => {}
    }
    yield* Merge.mergeFiles(paths, { progress })
    process.stdout.write(JSON.stringify({ afterListingMb, maxLiveMb }))
  }).pipe(Effect.provide(NodeServices.layer))

const liveHeapRow = (dir: string, files: number): string => {
  const result = spawnSync(process.execPath, ["--expose-gc", benchPath, "--live-heap", dir], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`live heap of ${files} files failed: ${result.stderr}`)
  const { afterListingMb, maxLiveMb } = JSON.parse(result.stdout) as { afterListingMb: number; maxLiveMb: number }
  return `| ${files} | ${afterListingMb.toFixed(1)} | ${maxLiveMb.toFixed(1)} |`
}

const collectAt = process.argv.indexOf("--collect-all")
const liveAt = process.argv.indexOf("--live-heap")
if (collectAt >= 0) Effect.runPromise(collectAll(process.argv[collectAt + 1]!))
else if (liveAt >= 0) Effect.runPromise(liveHeap(process.argv[liveAt + 1]!))
else main()
