/**
 * The seed example, the line_profiler article's workload over a pool: `child`
 * (a square root, then `power3`) runs on every input 0..count-1 on `workers`
 * worker threads (or child processes), each worker loading examples/power3.ts
 * through lineprof's instrumentation; the workers' profiles are merged and
 * printed in line_profiler's layout, then the sum of the results (as
 * test/golden/seed_pool.py prints it).
 *
 *   npx node examples/seed.ts [count=10000] [workers=4] [thread|process]
 *
 * Ctrl-C interrupts the run and ends every worker.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Text from "../src/core/render/Text.ts"
import { profileAll } from "../src/shell/pool/Pool.ts"
import { child } from "./power3.ts"

const usage = "usage: node examples/seed.ts [count=10000] [workers=4] [thread|process]"

const positiveInteger = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    process.stderr.write(`examples/seed.ts: ${name} must be a positive integer, got ${JSON.stringify(text)}\n${usage}\n`)
    process.exit(2)
  }
  return value
}

const [countText, workersText, isolationText = "thread"] = process.argv.slice(2)
const count = positiveInteger("count", countText, 10_000)
const workers = positiveInteger("workers", workersText, 4)
if (isolationText !== "thread" && isolationText !== "process") {
  process.stderr.write(`examples/seed.ts: isolation must be thread or process, got ${JSON.stringify(isolationText)}\n${usage}\n`)
  process.exit(2)
}

const program = Effect.gen(function* () {
  const inputs = Array.from({ length: count }, (_, num) => num)
  const { results, profile } = yield* profileAll(child, inputs, { concurrency: workers, isolation: isolationText })
  const sum = results.reduce((total, result) => total + result, 0)
  process.stdout.write(Text.render(profile, { unit: 1e-6, cwd: process.cwd() }))
  process.stdout.write(`sum of results: ${sum}\n`)
})

NodeRuntime.runMain(program)
