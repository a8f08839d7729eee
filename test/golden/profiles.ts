/**
 * The golden profiles as `Profile` values: line_profiler's exact numbers
 * (test/golden/*.json, [file, first line, name, [[line, hits, time]]], unit
 * 1e-9 s so times are ns) with the source of every file found in test/golden.
 * Shared by the tests that check a format against the golden reports.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as Profile from "../../src/core/Profile.ts"
import * as PythonSource from "../../src/core/python/PythonSource.ts"

export const goldenDir = import.meta.dirname
export const readGolden = (name: string): string => readFileSync(join(goldenDir, name), "utf8")

/** Parses JSON keeping integers exact (bigint): some golden counters exceed 2^53. */
const parseExact = (text: string): unknown =>
  JSON.parse(text, (_key: string, value: unknown, context?: { readonly source: string }) =>
    typeof value === "number" && context !== undefined && /^-?\d+$/.test(context.source) ? BigInt(context.source) : value
  )

type Entry = readonly [bigint, bigint, bigint]
type FunctionRecord = readonly [string, bigint, string, ReadonlyArray<Entry>]
export interface GoldenInput {
  readonly unit: number
  readonly functions: ReadonlyArray<FunctionRecord>
  readonly cases?: Record<string, { readonly output_unit?: number; readonly sort?: boolean; readonly summarize?: boolean; readonly stripzeros?: boolean }>
}

/** A profile from line_profiler's numbers, with the source of every file found in test/golden. */
export const profileFromGolden = (input: GoldenInput): Profile.Profile => {
  if (input.unit !== 1e-9) throw new Error(`golden unit ${input.unit}, expected 1e-9`)
  const profile = Profile.make(
    input.functions.map(([file, firstLine, name, entries]): Profile.FunctionProfile => ({
      file,
      name,
      firstLine: Number(firstLine),
      lastLine: Math.max(Number(firstLine), ...entries.map(([lineNo]) => Number(lineNo))),
      fileHash: "",
      source: undefined,
      lines: entries.map(([lineNo, hits, timeNs]) => Profile.makeLine(Number(lineNo), { hits, timeNs }))
    }))
  )
  const fileTexts = new Map<string, string>()
  for (const fn of profile.functions) {
    try {
      fileTexts.set(fn.file, readGolden(fn.file))
    } catch {
      // vanished/deleted_module.py does not exist: the report says so.
    }
  }
  return PythonSource.withSources(profile, fileTexts)
}

export const readInput = (name: string): GoldenInput => parseExact(readGolden(name)) as GoldenInput
