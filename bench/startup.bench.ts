/**
 * Start-up (issue 14): what lineprof adds before the first profiled line, and
 * what a second run of a large program saves by the instrument cache. Runs the
 * build (dist/: `npm run build` first), with caches in a fresh folder of its
 * own (LINEPROF_CACHE_DIR) warmed by one run before timing, so neither the
 * user's cache nor an earlier bench counts. Each figure is the median of
 * several interleaved runs: wall time, and CPU time (user + system of the
 * whole process tree, from bash's `time`), which a busy machine inflates less.
 *
 * 1. `lineprof run --no-report -- empty.mjs` over `node empty.mjs` (target: at most 150 ms added)
 * 2. `node --import lineprof/register one.mjs` (one profiled function) over `node one.mjs`, caches warm (target: 40 ms)
 * 3. istanbul-lib-instrument (Babel: about 200 files) instrumenting two files of effect's dist, with every
 *    file of those two packages profiled: time spent instrumenting in the second run over the first
 *    (fresh cache each first run; target: at most 10%), as LINEPROF_VERBOSE reports it; once with
 *    `LINEPROF_SOURCE_MAPS=0` (the generated code), once with source maps (Babel ships them, so every
 *    file is reported in its original sources); and what finding and reading those maps costs, which
 *    every run pays outside that figure (SourceMaps.readSourceMap over every .js file of the two packages)
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = join(root, "dist", "bin.js")
const register = join(root, "dist", "shell", "record", "register.js")
const work = mkdtempSync(join(tmpdir(), "lineprof-startup-"))
const cacheDir = join(work, "cache")
writeFileSync(join(work, "empty.mjs"), "")
writeFileSync(join(work, "one.mjs"), "export function f(n) {\n  let s = 0\n  for (let i = 0; i < n; i++) s += i\n  return s\n}\nf(10)\n")

const env = (extra: Record<string, string> = {}): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = { ...process.env, LINEPROF_CACHE_DIR: cacheDir, LINEPROF_DIR: join(work, "stats"), ...extra }
  for (const name of ["NODE_OPTIONS", "LINEPROF_INCLUDE", "LINEPROF_EXCLUDE", "LINEPROF_CALIBRATION", "LINEPROF_RECALIBRATE", "NODE_COMPILE_CACHE"]) {
    if (!(name in extra)) delete out[name]
  }
  return out
}

/** Wall and CPU ms of one run of `args` (output discarded). */
const timeRun = (args: ReadonlyArray<string>): { readonly wallMs: number; readonly cpuMs: number } => {
  const result = spawnSync("bash", ["-c", 'TIMEFORMAT="%R %U %S"; time "$@" >/dev/null 2>/dev/null', "bash", ...args], {
    cwd: work,
    env: env(),
    encoding: "utf8"
  })
  const [wall, user, system] = result.stderr.trim().split(/\s+/).slice(-3).map(Number)
  if (result.status !== 0 || wall === undefined || user === undefined || system === undefined) {
    throw new Error(`${args.join(" ")}: ${result.stderr}`)
  }
  return { wallMs: wall * 1000, cpuMs: (user + system) * 1000 }
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Medians of `runs` interleaved runs of a plain command and the same with lineprof. */
const compare = (plain: ReadonlyArray<string>, withLineprof: ReadonlyArray<string>, runs = 9) => {
  timeRun(plain)
  timeRun(withLineprof) // warms the caches (calibration, instrumented files, compile cache)
  const a: Array<{ wallMs: number; cpuMs: number }> = []
  const b: Array<{ wallMs: number; cpuMs: number }> = []
  for (let k = 0; k < runs; k++) {
    a.push(timeRun(plain))
    b.push(timeRun(withLineprof))
  }
  const plainWall = median(a.map((run) => run.wallMs))
  const plainCpu = median(a.map((run) => run.cpuMs))
  const oursWall = median(b.map((run) => run.wallMs))
  const oursCpu = median(b.map((run) => run.cpuMs))
  return { plainWall, plainCpu, oursWall, oursCpu, addedWall: oursWall - plainWall, addedCpu: oursCpu - plainCpu }
}

const rows: Array<string> = []
const ms = (value: number) => `${Math.round(value)} ms`
const row = (what: string, figures: ReturnType<typeof compare>, targetMs: number) =>
  rows.push(
    `| ${what} | ${ms(figures.plainWall)} / ${ms(figures.plainCpu)} | ${ms(figures.oursWall)} / ${ms(figures.oursCpu)} | **${ms(figures.addedWall)}** / ${ms(figures.addedCpu)} | ${targetMs} ms |`
  )

try {
  const node = process.execPath
  row("`lineprof run --no-report -- empty.mjs` vs `node empty.mjs`", compare([node, "empty.mjs"], [node, bin, "run", "--no-report", "--", "empty.mjs"]), 150)
  row("`node --import lineprof/register one.mjs` (one profiled function), caches warm", compare([node, "one.mjs"], [node, "--import", register, "one.mjs"]), 40)
  const version = compare([node, "empty.mjs"], [node, bin, "--version"])
  rows.push(`| \`lineprof --version\` vs \`node empty.mjs\` | ${ms(version.plainWall)} / ${ms(version.plainCpu)} | ${ms(version.oursWall)} / ${ms(version.oursCpu)} | ${ms(version.addedWall)} / ${ms(version.addedCpu)} | |`)

  // 3. A large real program, first and second run.
  const modules = join(root, "node_modules")
  const programEnv = {
    LINEPROF_INCLUDE: `${modules}/@babel/**,${modules}/istanbul-lib-instrument/**`,
    LINEPROF_EXCLUDE: "**/no-such-folder/**",
    LINEPROF_VERBOSE: "1"
  }
  const instrumentingMs = (cache: string, extra: Record<string, string>): { readonly ms: number; readonly files: number; readonly hits: number } => {
    const result = spawnSync(
      process.execPath,
      ["--import", register, join(root, "bench", "workloads", "istanbulCorpus.mjs"), join(modules, "effect", "dist"), "2"],
      { cwd: work, env: env({ ...programEnv, ...extra, LINEPROF_CACHE_DIR: cache }), encoding: "utf8" }
    )
    const match = /(\d+) of (\d+) files? from the instrument cache \(\d+%\), ([\d.]+) ms instrumenting/.exec(result.stderr)
    if (result.status !== 0 || match === null) throw new Error(`istanbul corpus: ${result.stderr}`)
    return { ms: Number(match[3]), files: Number(match[2]), hits: Number(match[1]) }
  }
  /** Medians of 3 first runs (each with a fresh cache) and of the second runs after them. */
  const firstAndSecond = (extra: Record<string, string>) => {
    const firsts: Array<number> = []
    const seconds: Array<number> = []
    let files = 0
    let secondHits = 0
    for (let k = 0; k < 3; k++) {
      const cache = join(work, `program-cache-${k}`)
      const first = instrumentingMs(cache, extra)
      const second = instrumentingMs(cache, extra)
      firsts.push(first.ms)
      seconds.push(second.ms)
      files = first.files
      secondHits = second.hits
      rmSync(cache, { recursive: true, force: true })
    }
    return { firstMs: median(firsts), secondMs: median(seconds), files, secondHits }
  }
  const largeRow = (what: string, figures: ReturnType<typeof firstAndSecond>) =>
    `| ${what} (${figures.files} files; second run: ${figures.secondHits} from the cache) | ${ms(figures.firstMs)} | ${ms(figures.secondMs)} | **${(100 * figures.secondMs / figures.firstMs).toFixed(1)}%** | at most 10% |`
  const generated = firstAndSecond({ LINEPROF_SOURCE_MAPS: "0" })
  const mapped = firstAndSecond({ LINEPROF_SOURCE_MAPS: "1" })
  /** Median ms of SourceMaps.readSourceMap over every .js file of the two packages (the texts read beforehand), and how many have a map. */
  const readingMaps = async (): Promise<{ readonly ms: number; readonly withMap: number; readonly files: number }> => {
    const SourceMaps: typeof import("../src/shell/record/SourceMaps.ts") = await import(pathToFileURL(join(root, "dist", "shell", "record", "SourceMaps.js")).href)
    const files = ["@babel", "istanbul-lib-instrument"]
      .flatMap((name) => readdirSync(join(modules, name), { recursive: true, encoding: "utf8" }).map((file) => join(modules, name, file)))
      .filter((file) => file.endsWith(".js"))
      .map((file) => ({ text: readFileSync(file, "utf8"), url: pathToFileURL(file).href }))
    const times: Array<number> = []
    let withMap = 0
    for (let k = 0; k < 5; k++) {
      const startNs = process.hrtime.bigint()
      withMap = files.filter((file) => SourceMaps.readSourceMap(file.text, file.url) !== undefined).length
      times.push(Number(process.hrtime.bigint() - startNs) / 1e6)
    }
    return { ms: median(times), withMap, files: files.length }
  }
  const maps = await readingMaps()

  console.log("| figure | plain (wall / CPU) | with lineprof (wall / CPU) | added (wall / CPU) | target |")
  console.log("|---|---|---|---|---|")
  for (const line of rows) console.log(line)
  console.log("")
  console.log("| large program: istanbul-lib-instrument + Babel, every file profiled | first run | second run | second / first | target |")
  console.log("|---|---|---|---|---|")
  console.log(largeRow("time instrumenting, `LINEPROF_SOURCE_MAPS=0`", generated))
  console.log(largeRow("time instrumenting, reported through Babel's source maps", mapped))
  console.log("")
  console.log(`Finding and reading the source maps of those packages' ${maps.files} .js files (${maps.withMap} have one), paid by every run outside the figure above: ${ms(maps.ms)}.`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
