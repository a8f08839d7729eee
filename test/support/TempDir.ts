/**
 * Temporary folders for tests: `makeTempDir` makes one under os.tmpdir() and
 * removes it when the current test ends, passed or failed, so no test leaves
 * a folder behind (test/support/globalSetup.ts checks that none does).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { onTestFinished } from "vitest"

/** A fresh folder `lineprof-<label>-XXXXXX` under os.tmpdir(), removed with its contents when the current test finishes. */
export const makeTempDir = (label: string): string => {
  const dir = mkdtempSync(join(tmpdir(), `lineprof-${label}-`))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
