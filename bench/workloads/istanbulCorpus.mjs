// A large real program for bench/startup.bench.ts: istanbul-lib-instrument (Babel's parser, traverse,
// generator and types: some hundreds of files) instruments a corpus, the first files of effect's dist.
import { readdirSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"

const require = createRequire(import.meta.url)
const { createInstrumenter } = require("istanbul-lib-instrument")
const corpusDir = process.argv[2]
const count = Number(process.argv[3] ?? 10)
const instrumenter = createInstrumenter({ esModules: true, produceSourceMap: false, compact: true })
let bytes = 0
for (const name of readdirSync(corpusDir).filter((file) => file.endsWith(".js")).sort().slice(0, count)) {
  bytes += instrumenter.instrumentSync(readFileSync(join(corpusDir, name), "utf8"), name).length
}
console.log(`instrumented ${count} files, ${bytes} bytes out`)
