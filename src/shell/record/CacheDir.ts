/**
 * lineprof's per-user cache folder and the file operations both caches
 * (CalibrationCache, InstrumentCache) share. The folder is
 * `$LINEPROF_CACHE_DIR`, else `$XDG_CACHE_HOME/lineprof`, else
 * `~/.cache/lineprof`; `LINEPROF_CACHE=off` turns both caches off (and the
 * `lineprof` command's module compile cache, kept in `compile/`). Every
 * operation is synchronous (the load hooks and the preload run before any
 * event loop) and none throws: a missing, unreadable or unwritable folder
 * reads as an empty cache and drops writes. Writes are atomic (a unique
 * temporary sibling, then rename), so a reader sees a whole old file or a
 * whole new one, and two processes writing one entry never mix their bytes.
 */
import { mkdirSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import * as path from "node:path"
import { writeFileAtomicSync } from "../files/AtomicWrite.ts"
import packageJson from "../../../package.json" with { type: "json" }

/** The version of lineprof that writes the caches (part of every key). */
export const lineprofVersion: string = packageJson.version

export const Variables = {
  /** `off` (or 0, false, no) disables both caches. */
  enabled: "LINEPROF_CACHE",
  /** Overrides the folder. */
  dir: "LINEPROF_CACHE_DIR"
} as const

const present = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value

/** The cache folder for `env`, or undefined when the caches are off or no home is known. */
export const cacheDir = (env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const enabled = present(env[Variables.enabled])?.trim().toLowerCase()
  if (enabled !== undefined && ["0", "off", "false", "no"].includes(enabled)) return undefined
  const explicit = present(env[Variables.dir])
  if (explicit !== undefined) return path.resolve(explicit)
  const xdg = present(env["XDG_CACHE_HOME"])
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, "lineprof")
  try {
    const home = homedir()
    return home === "" ? undefined : path.join(home, ".cache", "lineprof")
  } catch {
    return undefined
  }
}

/** The text of `file`, or undefined when it cannot be read. */
export const readText = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/**
 * Writes `text` to `file` atomically, making its folder first; false (and
 * nothing left behind) when anything fails.
 */
export const writeTextAtomic = (file: string, text: string): boolean => {
  try {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileAtomicSync(file, text)
    return true
  } catch {
    return false
  }
}
