/**
 * The text report against Python line_profiler's own output (test/golden), byte
 * for byte, from profiles built from the exact numbers behind that output; the
 * lineprof additions (Wait column, changed-file notes, relative paths); the
 * Python number formatting; and properties: rendering never throws, and the
 * order of merge inputs never changes a byte.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Profile from "../../src/core/Profile.ts"
import * as Text from "../../src/core/render/Text.ts"
import { profileFromGolden, readGolden, readInput } from "../golden/profiles.ts"

describe("Text.render against line_profiler's output", () => {
  const workers = [0, 1, 2, 3].map((k) => profileFromGolden(readInput(`worker-${k}.json`)))
  const merged = Profile.ProfileReducer.combineAll(workers)

  it("merged workers, microseconds", () => {
    assert.deepStrictEqual(Profile.check(merged), [])
    assert.strictEqual(Text.render(merged, { unit: 1e-6 }), readGolden("merged_us.txt"))
  })

  it("merged workers, native unit (the default)", () => {
    assert.strictEqual(Text.render(merged), readGolden("merged_native.txt"))
    assert.strictEqual(Text.render(merged, { unit: 1e-9 }), readGolden("merged_native.txt"))
  })

  it("one worker, microseconds", () => {
    assert.strictEqual(Text.render(workers[0]!, { unit: 1e-6 }), readGolden("worker-0_us.txt"))
  })

  const synthetic = readInput("synthetic_input.json")
  const syntheticProfile = profileFromGolden(synthetic)
  it("synthetic input has the cases and a function without source", () => {
    assert.deepStrictEqual(Object.keys(synthetic.cases ?? {}).sort(), [
      "synthetic_ms_sorted_summary.txt",
      "synthetic_native.txt",
      "synthetic_s_skipzero.txt",
      "synthetic_us.txt"
    ])
    assert.deepStrictEqual(
      syntheticProfile.functions.filter((fn) => fn.source === undefined).map((fn) => fn.name),
      ["ghost"]
    )
  })
  for (const [name, options] of Object.entries(synthetic.cases ?? {})) {
    it(`synthetic case ${name}`, () => {
      const textOptions: Text.TextOptions = {
        ...(options.output_unit !== undefined ? { unit: options.output_unit } : {}),
        sort: options.sort === true,
        summary: options.summarize === true,
        skipZero: options.stripzeros === true
      }
      assert.strictEqual(Text.render(syntheticProfile, textOptions), readGolden(name))
    })
  }
})

// -- hand-made profiles ----------------------------------------------------------

const fn = (
  overrides: Partial<Profile.FunctionProfile> & Pick<Profile.FunctionProfile, "lines">
): Profile.FunctionProfile => ({
  file: "/app/src/a.ts",
  name: "f",
  firstLine: 1,
  lastLine: 3,
  fileHash: "h1",
  source: ["function f() {", "  work()", "}"],
  ...overrides
})

const rowOf = (text: string, lineNo: number): string => {
  const row = text.split("\n").find((line) => line.startsWith(String(lineNo).padStart(6) + " "))
  assert.isDefined(row)
  return row!
}

describe("Text.render: lineprof additions", () => {
  it("sampled timing: one line under Timer unit with the interval and the samples; exact stays as it was", () => {
    const lines = [Profile.makeLine(2, { hits: 3n, timeNs: 30n })]
    const exact = Text.render(Profile.make([fn({ lines })]))
    const sampled = Text.render(Profile.make([fn({ lines })], { mode: "sampled", intervalNs: 1_000_000, samples: 5120n }))
    assert.strictEqual(
      sampled,
      exact.replace(
        "Timer unit: 1e-09 s\n",
        "Timer unit: 1e-09 s\nTiming: sampled, every 1 ms on average, 5120 samples (hits exact, times estimated)\n"
      )
    )
    assert.include(Text.render(Profile.make([fn({ lines })], { mode: "sampled", intervalNs: 250_000, samples: 1n })), "every 250 us on average, 1 samples")
    assert.include(Text.render(Profile.make([fn({ lines })], Profile.mixedTiming)), "\nTiming: mixed (sampled and exact profiles merged")
  })

  it("ends with one line suggesting --timing sampled when the probes took most of an exact run's time, only then", () => {
    const lines = [Profile.makeLine(2, { hits: 3n, timeNs: 30n })]
    const withShare = (probeNs: bigint, wallNs: bigint) => Text.render(Profile.make([fn({ lines })], { mode: "exact", probeNs, wallNs }))
    const plain = Text.render(Profile.make([fn({ lines })]))
    assert.strictEqual(
      withShare(830n, 1000n),
      `${plain}Note: lineprof's probes took at least 83% of the profiled threads' time (exact timing reads the clock at every line event); try --timing sampled\n`
    )
    assert.strictEqual(withShare(190n, 1000n), plain)
    assert.strictEqual(withShare(0n, 0n), plain)
  })

  it("has no Wait column when no line waited", () => {
    const text = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2, { hits: 3n, timeNs: 30n })] })]))
    assert.notInclude(text, "Wait")
  })

  it("adds a Wait column after % Time when a line waited, to every function", () => {
    const profile = Profile.make([
      fn({ lines: [Profile.makeLine(2, { hits: 2n, timeNs: 4000n, waitNs: 1_500_000n })] }),
      fn({ name: "g", firstLine: 5, lastLine: 6, source: ["function g() {", "}"], lines: [Profile.makeLine(5, { hits: 1n, timeNs: 10n })] })
    ])
    const text = Text.render(profile, { unit: 1e-6 })
    const headers = text.split("\n").filter((line) => line.startsWith("Line #"))
    assert.deepStrictEqual(headers, [
      "Line #      Hits         Time  Per Hit   % Time         Wait  Line Contents",
      "Line #      Hits         Time  Per Hit   % Time         Wait  Line Contents"
    ])
    assert.strictEqual(rowOf(text, 2), "     2         2          4.0      2.0    100.0       1500.0    work()")
    assert.strictEqual(rowOf(text, 5), "     5         1          0.0      0.0    100.0          0.0  function g() {")
    // Lines that did not run keep empty cells in the Wait column too.
    assert.strictEqual(rowOf(text, 3), "     3" + " ".repeat(9 + 12 + 8 + 8 + 12 + 5) + "  }")
    // The other columns are laid out as without waits.
    const noWait = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2, { hits: 2n, timeNs: 4000n })] })]), { unit: 1e-6 })
    assert.strictEqual(rowOf(noWait, 2), "     2         2          4.0      2.0    100.0    work()")
  })

  it("widens the Wait column and falls back to %g for huge waits", () => {
    const text = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2, { hits: 1n, timeNs: 1n, waitNs: 123_456_789_012_345n })] })]))
    assert.strictEqual(rowOf(text, 2), "     2         1          1.0      1.0    100.0     1.23e+14    work()")
  })

  it("notes, once per file, functions from different versions of a file", () => {
    const profile = Profile.make([
      fn({ fileHash: "h1", lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })] }),
      fn({ fileHash: "h2", lines: [Profile.makeLine(2, { hits: 1n, timeNs: 7n })] }),
      fn({ fileHash: "h3", name: "g", firstLine: 5, lastLine: 6, source: ["function g() {", "}"], lines: [] }),
      fn({ file: "/app/src/b.ts", fileHash: "h9", lines: [Profile.makeLine(2, { hits: 1n, timeNs: 1n })] })
    ])
    const text = Text.render(profile, { cwd: "/app" })
    const notes = text.split("\n").filter((line) => line.startsWith("Note:"))
    assert.deepStrictEqual(notes, [
      "Note: src/a.ts changed between runs: its functions are reported once per version of the file (3 versions)."
    ])
    assert.isTrue(text.startsWith(`Timer unit: 1e-09 s\n\n${notes[0]}\n\nTotal time:`))
    // Versions are never summed: both blocks of f are there with their own times.
    assert.strictEqual(text.split("File: src/a.ts\nFunction: f at line 1\n").length - 1, 2)
    assert.include(text, "Total time: 5e-09 s\nFile: src/a.ts\nFunction: f at line 1\n")
    assert.include(text, "Total time: 7e-09 s\nFile: src/a.ts\nFunction: f at line 1\n")
  })

  it("adds no note when every file has one version", () => {
    const text = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })] })]))
    assert.isTrue(text.startsWith("Timer unit: 1e-09 s\n\nTotal time: 5e-09 s\n"))
  })

  it("shows files under cwd relative to it, in File:, the missing-file message and the summary", () => {
    const profile = Profile.make([
      fn({ lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })] }),
      fn({ file: "file:///app/lib/c%20d.mjs", source: undefined, lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })] }),
      fn({ file: "/elsewhere/b.ts", lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })] })
    ])
    const text = Text.render(profile, { cwd: "/app/", summary: true })
    assert.include(text, "File: src/a.ts\n")
    assert.include(text, "Could not find file lib/c d.mjs\n")
    assert.include(text, "File: /elsewhere/b.ts\n")
    assert.include(text, "  0.00 seconds - src/a.ts:1 - f\n")
    // Without cwd, paths are shown as recorded.
    assert.include(Text.render(profile), "File: /app/src/a.ts\n")
  })

  it("keeps paths that merely share a prefix with cwd", () => {
    assert.strictEqual(Text.displayPath("/app2/x.ts", "/app"), "/app2/x.ts")
    assert.strictEqual(Text.displayPath("/app/x.ts", "/app"), "x.ts")
    assert.strictEqual(Text.displayPath("C:\\w\\x.ts", "C:\\w"), "x.ts")
    assert.strictEqual(Text.displayPath("x.ts", "/app"), "x.ts")
  })

  it("falls back to %g in the Time, Per Hit and Hits columns and widens them", () => {
    const profile = Profile.make([
      fn({
        lines: [
          Profile.makeLine(1, { hits: 1234567890n, timeNs: 10n }),
          Profile.makeLine(2, { hits: 1n, timeNs: 9_999_999_999_999n })
        ]
      })
    ])
    const text = Text.render(profile)
    const header = text.split("\n").find((line) => line.startsWith("Line #"))
    assert.strictEqual(header, "Line #        Hits         Time  Per Hit   % Time  Line Contents")
    assert.strictEqual(rowOf(text, 1), "     1 1.23457e+09         10.0      0.0      0.0  function f() {")
    assert.strictEqual(rowOf(text, 2), "     2           1        1e+13    1e+13    100.0    work()")
  })

  it("leaves Per Hit empty for a line with time but no hits", () => {
    const text = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2, { timeNs: 2000n })] })]), { unit: 1e-6 })
    assert.strictEqual(rowOf(text, 2), "     2         0          2.0             100.0    work()")
  })

  it("gives a line that never ran empty cells even when it has an entry", () => {
    const text = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2)] })]))
    assert.strictEqual(rowOf(text, 2), "     2" + " ".repeat(9 + 12 + 8 + 8 + 4) + "    work()")
  })

  it("renders the summary alone with details: false", () => {
    const text = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2, { hits: 1n, timeNs: 40_000_000n })] })]), {
      details: false,
      summary: true
    })
    assert.strictEqual(text, "Timer unit: 1e-09 s\n\n  0.04 seconds - /app/src/a.ts:1 - f\n")
  })
})

describe("Text.render: control characters", () => {
  it("showControls writes them as cat -v does and keeps tabs and printable characters", () => {
    assert.deepStrictEqual(
      ["\u001b[2J", "\u0000", "\u0007", "\u007f", "\u009b31m", "\u0085", "\u0080\u009f", "a\tb", "\n", "\r", "é ∑ 😀 \u00a0\u00ff"].map(
        Text.showControls
      ),
      ["^[[2J", "^@", "^G", "^?", "M-^[31m", "M-^E", "M-^@M-^_", "a\tb", "^J", "^M", "é ∑ 😀 \u00a0\u00ff"]
    )
  })

  it("escapes names, paths and source lines in every part of the report; tabs stay", () => {
    const profile = Profile.make([
      fn({
        file: "/app/src/\u001b]0;title\u0007.ts",
        name: "f\u001b[2J",
        fileHash: "h1",
        source: ["function f() {", "\twork() // \u001bc\u009b1m\u007f", "}"],
        lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })]
      }),
      fn({
        file: "/app/src/\u001b]0;title\u0007.ts",
        name: "g\nTotal time: 0 s",
        firstLine: 5,
        fileHash: "h2",
        source: undefined,
        lines: [Profile.makeLine(5, { hits: 1n, timeNs: 1n })]
      })
    ])
    const text = Text.render(profile, { cwd: "/app", summary: true })
    assert.include(text, "Note: src/^[]0;title^G.ts changed between runs")
    assert.include(text, "File: src/^[]0;title^G.ts\nFunction: f^[[2J at line 1\n")
    assert.include(text, "100.0  \twork() // ^[cM-^[1m^?\n")
    assert.include(text, "Could not find file src/^[]0;title^G.ts\n")
    assert.include(text, " seconds - src/^[]0;title^G.ts:1 - f^[[2J\n")
    assert.include(text, " seconds - src/^[]0;title^G.ts:5 - g^JTotal time: 0 s\n")
    assert.notMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
  })

  it("no profile text puts a control character other than tab and line feed in the report, nor a line of its own", () => {
    const anyText = fc.string({ unit: "binary", maxLength: 12 })
    fc.assert(
      fc.property(anyText, anyText, fc.array(anyText, { minLength: 3, maxLength: 3 }), (file, name, source) => {
        const profile = Profile.make([fn({ file, name, source, lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })] })])
        const text = Text.render(profile, { summary: true })
        assert.notMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
        // As many lines as with plain names and source: a header block of 3, the table (header, rule, 3 rows), blanks, a summary line.
        const plainText = Text.render(Profile.make([fn({ lines: [Profile.makeLine(2, { hits: 1n, timeNs: 5n })] })]), { summary: true })
        assert.strictEqual(text.split("\n").length, plainText.split("\n").length)
      }),
      { numRuns: 200 }
    )
  })
})

describe("Text.render: colour", () => {
  const tag: Text.Colour = (role, text) => `<${role}>${text}</${role}>`
  const profile = Profile.make([
    fn({
      source: ["function f() {", "  a()", "  b()", "  c()", "}"],
      lastLine: 5,
      lines: [
        Profile.makeLine(2, { hits: 1n, timeNs: 800n }),
        Profile.makeLine(3, { hits: 1n, timeNs: 150n }),
        Profile.makeLine(4, { hits: 1n, timeNs: 40n })
      ]
    })
  ])

  it("styles the headings and the hot (>= 20 %) and warm (>= 5 %) rows, around the padded text", () => {
    assert.strictEqual(
      Text.render(profile, { colour: tag }),
      [
        "Timer unit: 1e-09 s",
        "",
        "<heading>Total time: 9.9e-07 s</heading>",
        "File: /app/src/a.ts",
        "<heading>Function: f at line 1</heading>",
        "",
        "<heading>Line #      Hits         Time  Per Hit   % Time  Line Contents</heading>",
        "==============================================================",
        "     1                                           function f() {",
        "<hot>     2         1        800.0    800.0     80.8    a()</hot>",
        "<warm>     3         1        150.0    150.0     15.2    b()</warm>",
        "     4         1         40.0     40.0      4.0    c()",
        "     5                                           }",
        "",
        ""
      ].join("\n")
    )
  })

  it("heat comes from the exact share, not the printed one: 19.96 % prints 20.0 and is warm", () => {
    const nearHot = Profile.make([
      fn({
        lines: [Profile.makeLine(2, { hits: 1n, timeNs: 1996n }), Profile.makeLine(3, { hits: 1n, timeNs: 8004n })]
      })
    ])
    const text = Text.render(nearHot, { colour: tag })
    assert.include(text, "<warm>     2         1       1996.0   1996.0     20.0    work()</warm>\n")
  })

  it("changes nothing but the styled pieces: removing the tags gives the plain report", () => {
    fc.assert(
      fc.property(profileArbitrary, optionsArbitrary, (profile, options) => {
        const styled = Text.render(profile, { ...options, colour: tag })
        assert.strictEqual(styled.replace(/<\/?(heading|hot|warm)>/g, ""), Text.render(profile, options))
      }),
      { numRuns: 300 }
    )
  })
})

describe("Python number formatting", () => {
  it("%f rounds the exact binary value half to even, like Python", () => {
    // 0.25 and 0.75 are exact ties; 0.35 is a little below .35 in binary.
    assert.deepStrictEqual(
      [0.25, 0.75, 2.5, 0.35, 0.05, 1e22, 0, 123.45].map((x) => Text.formatFixed(x, 1)),
      ["0.2", "0.8", "2.5", "0.3", "0.1", "10000000000000000000000.0", "0.0", "123.5"]
    )
    assert.strictEqual(Text.formatFixed(0.125, 2), "0.12")
    assert.strictEqual(Text.formatFixed(2.5, 0), "2")
    assert.strictEqual(Text.formatFixed(-1.25, 1), "-1.2")
  })

  it("%f's fast path gives the exact path's digits, ties and near-ties included", () => {
    // Doubles of every magnitude, plus values on and next to ties (k + 1/2) / 10^p.
    const tie = fc
      .tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 3 }), fc.constantFrom(-1, 0, 1))
      .map(([k, p, step]) => {
        const x = (k + 0.5) / 10 ** p
        return [step === 0 ? x : step < 0 ? x - Number.EPSILON * x : x + Number.EPSILON * x, p] as const
      })
    const anyValue = fc.tuple(fc.double({ min: 0, max: 1e16, noNaN: true }), fc.integer({ min: 0, max: 3 }))
    fc.assert(
      fc.property(fc.oneof(tie, anyValue), ([x, precision]) => Text.formatFixed(x, precision) === Text.formatFixedExact(x, precision)),
      { numRuns: 20_000 }
    )
    assert.deepStrictEqual([Text.formatFixed(0, 1), Text.formatFixed(-0, 1)], ["0.0", "-0.0"])
  })

  it("%g picks fixed or exponent notation and trims zeros, like Python", () => {
    assert.deepStrictEqual(
      [1e-9, 1e-6, 0.001, 1, 0.000513427, 12444444.333335813, 100000, 1000000, 999999.5, 0.0001, 0.00001, 0].map((x) =>
        Text.formatGeneral(x)
      ),
      ["1e-09", "1e-06", "0.001", "1", "0.000513427", "1.24444e+07", "100000", "1e+06", "1e+06", "0.0001", "1e-05", "0"]
    )
    assert.deepStrictEqual(
      [98765432101234, 12345678901234567, 0.000125, 1e100].map((x) => Text.formatGeneral(x, 3)),
      ["9.88e+13", "1.23e+16", "0.000125", "1e+100"]
    )
  })

  it("divides integers with one rounding", () => {
    // (2^53 + 1) / 1 is a tie between 2^53 and 2^53 + 2: ties to even.
    assert.strictEqual(Text.divideExact(2n ** 53n + 1n, 1n), 2 ** 53)
    // (2^53 + 3) rounds up to 2^53 + 4, even though Number(2^53 + 3) / 1 would too;
    // with a remainder the sticky bit breaks the tie upwards.
    assert.strictEqual(Text.divideExact(2n * (2n ** 53n + 1n) + 1n, 2n), 2 ** 53 + 2)
    assert.strictEqual(Text.divideExact(1n, 3n), 1 / 3)
    assert.strictEqual(Text.divideExact(0n, 7n), 0)
  })

  it("divideExact agrees with double division when both sides are exact doubles", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 53n }), fc.bigInt({ min: 1n, max: 2n ** 53n }), (a, b) =>
        Text.divideExact(a, b) === Number(a) / Number(b)
      ),
      { numRuns: 1000 }
    )
  })
})

// -- properties ----------------------------------------------------------------------

const definitions = [
  { file: "/app/src/a.ts", name: "f", firstLine: 1, lastLine: 4 },
  { file: "/app/src/a.ts", name: "Queue.push", firstLine: 6, lastLine: 9 },
  { file: "/app/src/b.ts", name: "outer.inner", firstLine: 3, lastLine: 5 }
] as const

const counter = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 2n ** 70n }))

const functionArbitrary: fc.Arbitrary<Profile.FunctionProfile> = fc
  .record({
    definition: fc.constantFrom(...definitions),
    fileHash: fc.constantFrom("v1", "v2"),
    withSource: fc.boolean(),
    lines: fc.array(
      fc.record({ offset: fc.integer({ min: -1, max: 5 }), hits: counter, timeNs: counter, waitNs: fc.oneof(fc.constant(0n), counter) }),
      { maxLength: 5 }
    )
  })
  .map(({ definition, fileHash, withSource, lines }) => ({
    ...definition,
    fileHash,
    source: withSource
      ? Array.from({ length: definition.lastLine - definition.firstLine + 1 }, (_, k) => `${fileHash} ${definition.name} ${k}`)
      : undefined,
    lines: lines.map(({ offset, hits, timeNs, waitNs }) =>
      Profile.makeLine(Math.max(1, definition.firstLine + offset), { hits, timeNs, waitNs })
    )
  }))

const profileArbitrary = fc.array(functionArbitrary, { maxLength: 4 }).map(Profile.make)

const optionsArbitrary: fc.Arbitrary<Text.TextOptions> = fc.record({
  unit: fc.constantFrom(1, 1e-3, 1e-6, 1e-9),
  skipZero: fc.boolean(),
  sort: fc.boolean(),
  summary: fc.boolean(),
  details: fc.boolean(),
  cwd: fc.constantFrom("/app", "/")
})

describe("Text.render properties", () => {
  it("never throws, and every block has header, rule and rows of equal layout", () => {
    fc.assert(
      fc.property(profileArbitrary, optionsArbitrary, (profile, options) => {
        const text = Text.render(profile, options)
        assert.isTrue(text.startsWith("Timer unit: "))
        const lines = text.split("\n")
        lines.forEach((line, k) => {
          if (line.startsWith("Line #")) assert.strictEqual(lines[k + 1], "=".repeat(line.length))
        })
      }),
      { numRuns: 1000 }
    )
  })

  it("the order of merge inputs never changes the rendered text", () => {
    fc.assert(
      fc.property(
        fc.array(profileArbitrary, { minLength: 1, maxLength: 5 }),
        optionsArbitrary,
        fc.infiniteStream(fc.nat()),
        (profiles, options, randomness) => {
          const shuffled = [...profiles]
          const picks = randomness[Symbol.iterator]()
          for (let k = shuffled.length - 1; k > 0; k--) {
            const j = picks.next().value! % (k + 1)
            ;[shuffled[k], shuffled[j]] = [shuffled[j]!, shuffled[k]!]
          }
          const inOrder = Text.render(Profile.ProfileReducer.combineAll(profiles), options)
          const reordered = Text.render(Profile.ProfileReducer.combineAll(shuffled), options)
          const pairwise = Text.render(shuffled.reduceRight((acc, p) => Profile.combine(p, acc), Profile.empty), options)
          assert.strictEqual(reordered, inOrder)
          assert.strictEqual(pairwise, inOrder)
        }
      ),
      { numRuns: 1000 }
    )
  })
})
