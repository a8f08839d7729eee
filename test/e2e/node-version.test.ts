/**
 * A Node that is too old for lineprof (the system's /usr/bin/node here is
 * v20.20.2, older than 22.19): the register preload lets the program run
 * unprofiled and says so in one line; profileAll fails with that line. Both
 * through the built dist/ (Node 20 cannot load .ts files), which `npm test`
 * builds first.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as NodeVersion from "../../src/shell/record/NodeVersion.ts"
import { makeScratch, repoRoot } from "./bin.ts"

const oldNode = "/usr/bin/node"
const oldVersion = spawnSync(oldNode, ["--version"], { encoding: "utf8" }).stdout.trim()
const preload = join(repoRoot, "dist", "shell", "record", "preload.js")
const runOld = (args: ReadonlyArray<string>, cwd: string) =>
  spawnSync(oldNode, args, { cwd, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "", LINEPROF_DIR: join(cwd, "stats") }, timeout: 60_000 })

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
  writeFileSync(join(scratch.dir, "app.mjs"), "function twice(x) {\n  return 2 * x\n}\nconsole.log(twice(21))\nprocess.exitCode = 5\n")
})
afterAll(() => scratch.remove())

describe("Node version", () => {
  it("the check: 22.19 and later pass; older gives one line naming the version and the binary", () => {
    expect(NodeVersion.problem("v20.20.2", "/usr/bin/node")).toBe("lineprof needs Node >= 22.19 (found v20.20.2: /usr/bin/node)")
    expect(NodeVersion.problem("v22.18.9", "/n")).toBe("lineprof needs Node >= 22.19 (found v22.18.9: /n)")
    for (const version of ["v22.19.0", "v22.20.1", "v23.0.0", "v24.21.0"]) expect(NodeVersion.problem(version, "/n")).toBeUndefined()
    expect(NodeVersion.problem(process.version)).toBeUndefined()
  })

  it(`register on ${oldNode}: the program runs unprofiled, as without lineprof, with one line on stderr`, () => {
    expect(NodeVersion.isSupported(oldVersion)).toBe(false)
    const plain = runOld(["app.mjs"], scratch.dir)
    const run = runOld(["--import", preload, "app.mjs"], scratch.dir)
    expect(run.stdout).toBe(plain.stdout)
    expect(run.stdout).toBe("42\n")
    expect(run.status).toBe(5)
    expect(run.stderr).toBe(`lineprof needs Node >= 22.19 (found ${oldVersion}: ${oldNode})\n`)
  })

  it(`profileAll on ${oldNode}: fails with that one line`, () => {
    const script = join(scratch.dir, "pool.mjs")
    writeFileSync(
      script,
      [
        `import { profileAll } from ${JSON.stringify(pathToFileURL(join(repoRoot, "dist", "index.js")).href)}`,
        `import * as Effect from ${JSON.stringify(pathToFileURL(join(repoRoot, "node_modules", "effect", "dist", "Effect.js")).href)}`,
        "export const double = (x) => 2 * x",
        "const error = await Effect.runPromise(Effect.flip(profileAll(double, [1, 2])))",
        "console.log(error._tag, error.message)"
      ].join("\n")
    )
    const run = runOld([script], scratch.dir)
    expect(run.stderr).toBe("")
    expect(run.stdout).toBe(`NodeVersionError lineprof needs Node >= 22.19 (found ${oldVersion}: ${oldNode})\n`)
  })
})
