/**
 * Control characters from the profiled program (its source text, names) reach
 * a terminal only escaped, as `cat -v` writes them, through the real bin: the
 * text report of `run` and `show`. The stats files written with `-o` keep the
 * text exactly, byte for byte.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Result from "effect/Result"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"
import { makeScratch, readText, runBin } from "./bin.ts"

const ESC = "\u001b"
/** What the report must not let through: C0 controls but tab and line feed, DEL, C1 controls. */
const anyControl = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

const decodeFile = (path: string): Profile.Profile => {
  const decoded = StatsFile.decode(readText(path), path)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure)
  return decoded.success
}

let scratch: ReturnType<typeof makeScratch>
beforeAll(() => {
  scratch = makeScratch()
})
afterAll(() => scratch.remove())

describe("control characters", () => {
  // A program whose source holds raw ESC (clear screen, reset terminal), BEL and a C1 CSI in string literals.
  const sourceLines = [
    "function paint() {",
    `  const clear = "${ESC}[2J${ESC}c\u0007"`,
    `  return clear.length + "\u009b1m".length`,
    "}",
    "let total = 0",
    "for (let i = 0; i < 100; i++) total += paint()",
    "console.log(total)"
  ]

  it("run: the report shows them as ^[, ^G and M-^[; the -o stats file keeps the source exactly", () => {
    writeFileSync(join(scratch.dir, "paint.mjs"), sourceLines.join("\n") + "\n")
    const result = runBin(["run", "-o", "paint.json", "--", "paint.mjs"], { cwd: scratch.dir })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("1000\n")
    expect(result.stderr).toContain(`  const clear = "^[[2J^[c^G"\n`)
    expect(result.stderr).toContain(`  return clear.length + "M-^[1m".length\n`)
    expect(result.stderr).not.toMatch(anyControl)
    const paint = decodeFile(join(scratch.dir, "paint.json")).functions.find((fn) => fn.name === "paint")
    expect(paint?.source).toEqual(sourceLines.slice(0, 4))
    expect(paint?.lines.map((line) => [line.lineNo, line.hits])).toEqual([[2, 100n], [3, 100n]])
  })

  it("show: names and file paths escaped on the terminal; show -o writes the stats file unchanged", () => {
    const profile = Profile.make([
      {
        file: `/app/${ESC}]0;owned${ESC}\\.ts`,
        name: `f${ESC}[2J`,
        firstLine: 1,
        lastLine: 2,
        fileHash: "h",
        source: ["function f() {", `  ${ESC}c\u007f`],
        lines: [Profile.makeLine(2, { hits: 1n, timeNs: 10n })]
      }
    ])
    const input = join(scratch.dir, "hostile.json")
    writeFileSync(input, StatsFile.encode(profile))
    const shown = runBin(["show", input])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain("File: /app/^[]0;owned^[\\.ts\nFunction: f^[[2J at line 1\n")
    expect(shown.stdout).toContain("  ^[c^?\n")
    expect(shown.stdout).not.toMatch(anyControl)
    const output = join(scratch.dir, "hostile-out.json")
    expect(runBin(["show", input, "--format", "json", "-o", output]).code).toBe(0)
    expect(readText(output)).toBe(readText(input))
  })
})
