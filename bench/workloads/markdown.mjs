// Renders a markdown file with marked, `rounds` times after a warm-up, and
// prints the milliseconds the timed rounds took (JSON on stdout).
import { readFileSync } from "node:fs"
import { marked } from "marked"

const [file, roundsText] = process.argv.slice(2)
const markdown = readFileSync(file, "utf8")
const rounds = Number(roundsText)
let length = 0
for (let k = 0; k < Math.max(1, rounds >> 3); k++) length += marked.parse(markdown).length
const startMs = performance.now()
for (let k = 0; k < rounds; k++) length += marked.parse(markdown).length
console.log(JSON.stringify({ ms: performance.now() - startMs, length }))
