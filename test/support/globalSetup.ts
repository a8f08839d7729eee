/**
 * The suite's temporary folders, checked: every test process gets a private
 * TMPDIR (a `lineprof-suite-` folder), so that folders created by other
 * processes at the same time never count, and at the end of the run whatever
 * `lineprof-*` folder or file a test (or a program a test ran) left in it
 * fails the run, by name. The private folder is removed either way.
 *
 * Workers and the programs they spawn inherit TMPDIR, and os.tmpdir() reads
 * it on every call, so everything that asks os.tmpdir() lands in the private
 * folder.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export default function setup(): () => void {
  const saved = process.env["TMPDIR"]
  const suiteDir = mkdtempSync(join(tmpdir(), "lineprof-suite-"))
  process.env["TMPDIR"] = suiteDir
  // lineprof's caches (calibration, instrumented sources) go to the private folder too, never to ~/.cache.
  const savedCache = process.env["XDG_CACHE_HOME"]
  process.env["XDG_CACHE_HOME"] = join(suiteDir, "xdg-cache")
  return () => {
    if (saved === undefined) delete process.env["TMPDIR"]
    else process.env["TMPDIR"] = saved
    if (savedCache === undefined) delete process.env["XDG_CACHE_HOME"]
    else process.env["XDG_CACHE_HOME"] = savedCache
    const left = readdirSync(suiteDir).filter((name) => name.startsWith("lineprof-"))
    rmSync(suiteDir, { recursive: true, force: true })
    if (left.length > 0) {
      throw new Error(`tests left ${left.length} temporary folder(s) behind in os.tmpdir(): ${left.join(", ")} (make them with test/support/TempDir.makeTempDir, or remove them in afterAll)`)
    }
  }
}
