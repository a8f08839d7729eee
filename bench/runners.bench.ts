/**
 * The per-line cost of portable probes (lineprof/vite, lineprof/jest), whose
 * slots are `__lp$b+k` with the file's base read from a module variable,
 * beside the literal-slot probes of Node's load hooks, on the same tight loop
 * (two line events an iteration) in the same run, with the same recorder.
 * Each variant is the real instrumenter's output, evaluated as CommonJS.
 */
import * as vm from "node:vm"
import { fileURLToPath } from "node:url"
import { instrumentSource } from "../src/core/Instrument.ts"
import * as Recorder from "../src/shell/record/Recorder.ts"
import * as Portable from "../src/shell/runners/Portable.ts"

Recorder.install({ compensate: false })
const runtimePath = fileURLToPath(new URL("../src/shell/runners/Runtime.ts", import.meta.url))
const source = [
  "function loop(n) {",
  "  let acc = 0",
  "  for (let i = 0; i < n; i++) {",
  "    acc += i",
  "  }",
  "  return acc",
  "}",
  "module.exports = { loop }"
].join("\n")

const evaluate = (code: string): ((n: number) => number) => {
  const module = { exports: {} as { loop: (n: number) => number } }
  vm.runInThisContext(`(function (module, exports) {${code}\n})`)(module, module.exports)
  return module.exports.loop
}
const slotBase = Recorder.nextSlot()
const literal = instrumentSource(source, { file: "/bench/literal.cjs", format: "commonjs", slotBase })
Recorder.allocateSlots(literal.slotCount)
const portable = Portable.instrument(source, { file: "/bench/portable.cjs", format: "commonjs", runtimePath })!
const variants = {
  "plain (no probes)": evaluate(source),
  "literal slots (node hooks)": evaluate(literal.code),
  "portable slots __lp$b+k (vite, jest)": evaluate(portable.code)
}

const N = 50_000
const bestNs: Record<string, number> = {}
for (let round = 0; round < 200; round++) {
  for (const [name, loop] of Object.entries(variants)) {
    const startNs = process.hrtime.bigint()
    loop(N)
    const perIterationNs = Number(process.hrtime.bigint() - startNs) / N
    bestNs[name] = Math.min(bestNs[name] ?? Infinity, perIterationNs)
  }
}
const literalNs = bestNs["literal slots (node hooks)"]!
console.log(`clock: ${Recorder.clockName()}; best of 200 interleaved rounds of ${N} iterations (two line events each)\n`)
console.log("| variant | ns / iteration | vs literal |")
console.log("|---|---:|---:|")
for (const [name, ns] of Object.entries(bestNs)) console.log(`| ${name} | ${ns.toFixed(2)} | ${(ns / literalNs).toFixed(3)} |`)
