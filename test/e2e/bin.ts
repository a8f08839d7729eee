/**
 * Runs the real `lineprof` bin (src/bin.ts under the Node that runs the
 * tests) and returns what it did: exit code, signal, stdout, stderr. Colour
 * is off (NO_COLOR) unless the caller's env says otherwise.
 */
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
export const binPath = join(repoRoot, "src", "bin.ts")
export const fixturesDir = join(repoRoot, "test", "fixtures", "cli")

export interface BinResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface BinOptions {
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly input?: string
  /**
   * Run without the capabilities that let root read any file (CAP_DAC_OVERRIDE,
   * CAP_DAC_READ_SEARCH), through util-linux's setpriv, so that a root test run
   * meets "permission denied" on a mode-000 file. Unlike switching to another
   * user, this keeps access to the clone wherever it lies (a 0700 temp folder).
   */
  readonly withoutReadOverride?: boolean
}

const environment = (env: BinOptions["env"]): Record<string, string> => {
  const merged: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...env }
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(merged)) if (value !== undefined) out[key] = value
  return out
}

/** Runs `lineprof ...args` to completion. */
export const runBin = (args: ReadonlyArray<string>, options: BinOptions = {}): BinResult => {
  const dropCapabilities = options.withoutReadOverride === true && process.getuid?.() === 0
  const caps = "-dac_override,-dac_read_search"
  const [command, commandArgs] = dropCapabilities
    ? ["setpriv", [`--bounding-set=${caps}`, `--inh-caps=${caps}`, "--", process.execPath, binPath, ...args]]
    : [process.execPath, [binPath, ...args]]
  const result = spawnSync(command, commandArgs, {
    cwd: options.cwd ?? repoRoot,
    env: environment(options.env),
    input: options.input ?? "",
    encoding: "utf8",
    timeout: 120_000
  })
  if (result.error !== undefined) throw result.error
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

/**
 * Starts `lineprof ...args` and returns the child, for tests that send it
 * signals. `detached` gives it a process group of its own, as a shell gives a
 * foreground job, so that a test can signal the whole group like Ctrl-C does.
 */
export const startBin = (args: ReadonlyArray<string>, options: BinOptions & { readonly detached?: boolean } = {}) =>
  spawn(process.execPath, [binPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: environment(options.env),
    stdio: ["pipe", "pipe", "pipe"],
    detached: options.detached ?? false
  })

/** A fresh folder that anyone may write into (tests may run the bin as another user); removed by the returned function. */
export const makeScratch = (): { readonly dir: string; readonly remove: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), "lineprof-e2e-"))
  chmodSync(dir, 0o777)
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export const readText = (path: string): string => readFileSync(path, "utf8")
