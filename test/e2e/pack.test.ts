/**
 * What `npm pack` ships (the tarball a project installs): the built dist/
 * with its sources for the maps, README and package.json; no tests, fixtures,
 * benches or examples. Scripts are skipped (`--ignore-scripts`): `npm test`
 * built dist/ already, and a rebuild here would race the other tests.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./bin.ts"

interface PackEntry {
  readonly path: string
}

describe("npm pack", () => {
  it("ships dist/ (bin, API, preload, lazily loaded siblings), src/, README and package.json, and nothing else", () => {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm"
    const [pack] = JSON.parse(execFileSync(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repoRoot, encoding: "utf8" })) as Array<{
      readonly files: ReadonlyArray<PackEntry>
      readonly size: number
    }>
    const paths = pack!.files.map((file) => file.path)
    expect(paths.filter((path) => !/^(dist|src)\//.test(path)).sort()).toEqual(["README.md", "package.json"])
    expect(paths.filter((path) => /(^|\/)(test|tests|fixtures|bench|examples)\//.test(path) || /\.test\.[cm]?[jt]s$/.test(path))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"))
    const named = [manifest.bin.lineprof, manifest.exports["."].default, manifest.exports["."].types, manifest.exports["./register"]]
    for (const entry of [...named, "./dist/shell/record/register.js", "./dist/shell/record/Hooks.js", "./dist/core/Instrument.js", "./dist/shell/pool/NativeImport.cjs", "./dist/shell/pool/PoolWorker.js"]) {
      expect(paths).toContain(entry.replace(/^\.\//, ""))
    }
    expect(pack!.size).toBeLessThan(1_000_000)
  })
})
