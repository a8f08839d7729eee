/**
 * Go's `go tool pprof`, the independent reader of lineprof's pprof files:
 * Debian's golang-go puts `go` on PATH and at /usr/lib/go/bin/go. CI
 * installs it (.ci/run), so a test that needs it fails when it is absent.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { delimiter, join } from "node:path"

export const findGo = (): string => {
  const go = [...(process.env["PATH"] ?? "").split(delimiter).filter((dir) => dir !== "").map((dir) => join(dir, "go")), "/usr/lib/go/bin/go"]
    .find(existsSync)
  if (go === undefined) throw new Error("go not found on PATH nor at /usr/lib/go/bin/go: install Debian's golang-go (.ci/run does)")
  return go
}

/** Runs `go tool pprof ...args` in `cwd` (where it looks for sources) and returns its stdout; HOME is `home`, so nothing lands in the user's. */
export const goPprofBytes = (args: ReadonlyArray<string>, options: { readonly cwd: string; readonly home: string }): Buffer =>
  execFileSync(findGo(), ["tool", "pprof", ...args], {
    cwd: options.cwd,
    env: { ...process.env, HOME: options.home },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000
  })

/** `goPprofBytes` as text. */
export const goPprof = (args: ReadonlyArray<string>, options: { readonly cwd: string; readonly home: string }): string =>
  goPprofBytes(args, options).toString("utf8")
