/**
 * `npm run bench`: runs every bench/*.bench.ts script, one after another in its
 * own Node process (so one figure's JIT state never colours another's), and
 * prints their tables. Each script prints a Markdown table of its own figures,
 * ratios measured against a baseline in the same run.
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const benchDir = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const scripts = readdirSync(benchDir)
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => only.length === 0 || only.some((word) => name.includes(word)))
  .sort()

let failed = 0
for (const script of scripts) {
  process.stdout.write(`\n## ${script.replace(/\.bench\.ts$/, "")}\n\n`)
  const run = spawnSync(process.execPath, [join(benchDir, script)], { stdio: "inherit" })
  if (run.status !== 0) {
    failed++
    process.stdout.write(`(${script} failed with exit code ${run.status ?? run.signal})\n`)
  }
}
process.exitCode = failed === 0 ? 0 : 1
