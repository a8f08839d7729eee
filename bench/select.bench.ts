/**
 * Choosing what to profile (`--function`, LINEPROF_FUNCTIONS) on a real
 * library: marked (minified, with a source map, profiled in its TypeScript
 * sources) renders lineprof's own README, timed inside the process after a
 * warm-up, in four set-ups, each in its own process:
 *
 * 1. unprofiled;
 * 2. one hot function selected (`_Lexer.inlineTokens`, the inline tokenizer's loop);
 * 3. the whole package;
 * 4. the whole package, source maps off (the generated code's lines).
 *
 * The median of 5 runs each; the ratios are against the unprofiled median.
 */
import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const repo = join(dirname(fileURLToPath(import.meta.url)), "..")
const preload = join(repo, "src", "shell", "record", "preload.ts")
const dir = mkdtempSync(join(tmpdir(), "lineprof-bench-select-"))
cpSync(join(repo, "node_modules", "marked"), join(dir, "node_modules", "marked"), { recursive: true })
cpSync(join(repo, "bench", "workloads", "markdown.mjs"), join(dir, "markdown.mjs"))
const rounds = 200
const runs = 5

const time = (env: Record<string, string> | undefined): number => {
  const samples: Array<number> = []
  for (let k = 0; k < runs; k++) {
    const args = env === undefined ? [] : ["--import", preload]
    const child = spawnSync(process.execPath, [...args, "markdown.mjs", join(repo, "README.md"), String(rounds)], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, NODE_OPTIONS: "", LINEPROF_DIR: join(dir, "stats"), LINEPROF_INCLUDE: "node_modules/marked/**", ...env }
    })
    if (child.status !== 0) throw new Error(`markdown.mjs failed: ${child.stderr}`)
    samples.push(JSON.parse(child.stdout).ms)
  }
  return samples.sort((a, b) => a - b)[runs >> 1]!
}

const plainMs = time(undefined)
const rows: Array<[string, number]> = [
  ["unprofiled", plainMs],
  ["`--function _Lexer.inlineTokens`", time({ LINEPROF_FUNCTIONS: "_Lexer.inlineTokens" })],
  ["whole package (`--include 'node_modules/marked/**'`)", time({})],
  ["whole package, `--no-source-maps`", time({ LINEPROF_SOURCE_MAPS: "0" })]
]
rmSync(dir, { recursive: true, force: true })
console.log(`marked renders README.md ${rounds} times (median of ${runs} processes)\n`)
console.log("| set-up | ms | slowdown |")
console.log("|---|---:|---:|")
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(0)} | ${(ms / plainMs).toFixed(2)}x |`)
