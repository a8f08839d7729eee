/**
 * The built package on a cluster: two `lineprof runner` processes from
 * dist/bin.js, and a caller that imports `profileAll` and `Cluster` from
 * dist/index.js in a process of its own, as a user's program would.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { createDatabase, repoRoot, startRunner, waitUntilServing, type RunnerProcess } from "../shell/cluster/support.ts"

let database: Awaited<ReturnType<typeof createDatabase>>
const runners: Array<RunnerProcess> = []
let scratch: string

beforeAll(async () => {
  database = await createDatabase()
  scratch = mkdtempSync(join(tmpdir(), "lineprof-cluster-e2e-"))
  for (let k = 0; k < 2; k++) runners.push(await startRunner(database.url, { bin: join(repoRoot, "dist", "bin.js") }))
  await waitUntilServing(database.url, 2)
}, 300_000)

afterAll(async () => {
  await Promise.all(runners.map((runner) => runner.kill()))
  await database?.drop()
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
}, 60_000)

describe("dist: profileAll with Cluster.layerClient, runners from dist/bin.js", () => {
  it("the seed over 20,000 inputs: the plain run's results, exact hits, one profile per runner", () => {
    const caller = join(scratch, "caller.mjs")
    writeFileSync(
      caller,
      `import { Effect } from "${pathToFileURL(join(repoRoot, "node_modules", "effect", "dist", "index.js")).href}"
import { profileAll, Cluster } from "${pathToFileURL(join(repoRoot, "dist", "index.js")).href}"
import { child } from "${pathToFileURL(join(repoRoot, "examples", "power3.ts")).href}"
const inputs = Array.from({ length: 20000 }, (_, k) => k)
const run = await Effect.runPromise(profileAll(child, inputs).pipe(Effect.provide(Cluster.layerClient({ postgresUrl: process.argv[2] }))))
console.log(JSON.stringify({
  same: run.results.every((result, k) => result === child(k)),
  completed: run.completed,
  runners: run.workerProfiles.length,
  hits: run.profile.functions.flatMap((fn) => fn.lines.map((line) => [fn.name, line.lineNo, Number(line.hits)]))
}))
`
    )
    const result = spawnSync(process.execPath, [caller, database.url], { cwd: repoRoot, encoding: "utf8", timeout: 120_000 })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout), {
      same: true,
      completed: 20_000,
      runners: 2,
      hits: [["power3", 8, 20_000], ["child", 12, 20_000], ["child", 13, 20_000], ["child", 14, 20_000]]
    })
  }, 120_000)
})
