/**
 * Instrumentation throughput (issue 3): MB/s of `instrumentSource` over a large real
 * source tree, the `effect` package's own dist, beside istanbul-lib-instrument (a
 * devDependency of the bench only) on the same files in the same run.
 * Target: at least 10 times faster.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { instrumentSource } from "../src/core/Instrument.ts"

const require = createRequire(import.meta.url)
const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const effectDist = join(root, "node_modules", "effect", "dist")

const files: Array<{ path: string; text: string }> = []
const walk = (dir: string): void => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (name.endsWith(".js")) files.push({ path, text: readFileSync(path, "utf8") })
  }
}
walk(effectDist)
// istanbul takes seconds a MB: time both on the same slice of ~4 MB.
const slice: Array<{ path: string; text: string }> = []
let sliceBytes = 0
for (const file of files) {
  if (sliceBytes > 4_000_000) break
  slice.push(file)
  sliceBytes += Buffer.byteLength(file.text)
}

const timeMs = (run: () => void): number => {
  const startNs = process.hrtime.bigint()
  run()
  return Number(process.hrtime.bigint() - startNs) / 1e6
}

let failed = 0
const ours = (): void => {
  let slotBase = 1
  for (const file of slice) {
    try {
      slotBase += instrumentSource(file.text, { file: file.path, format: "module", slotBase }).slotCount
    } catch {
      failed++
    }
  }
}
ours() // warm-up
failed = 0
const oursMs = timeMs(ours)

const { createInstrumenter } = require("istanbul-lib-instrument") as {
  createInstrumenter: (options: object) => { instrumentSync: (code: string, file: string) => string }
}
const istanbul = createInstrumenter({ esModules: true, produceSourceMap: false, compact: true })
const istanbulMs = timeMs(() => {
  for (const file of slice) istanbul.instrumentSync(file.text, file.path)
})

const mb = sliceBytes / 1e6
console.log("| instrumenter | files | MB | ms | MB/s |")
console.log("|---|---:|---:|---:|---:|")
console.log(`| lineprof (oxc-parser, insert-only splice) | ${slice.length} | ${mb.toFixed(2)} | ${oursMs.toFixed(0)} | ${(mb / (oursMs / 1000)).toFixed(1)} |`)
console.log(`| istanbul-lib-instrument | ${slice.length} | ${mb.toFixed(2)} | ${istanbulMs.toFixed(0)} | ${(mb / (istanbulMs / 1000)).toFixed(2)} |`)
console.log(`| lineprof / istanbul (target >= 10) | | | | ${(istanbulMs / oursMs).toFixed(1)}x |`)
if (failed > 0) console.log(`(${failed} files failed to instrument)`)
