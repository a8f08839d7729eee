/**
 * The merge laws of Profile (associativity, commutativity, identity, the
 * one-pass `combineAll`), the split-across-workers property against an
 * independent accumulator, and the stats-file round trip. Every property runs
 * 1000 cases and checks `Profile.check` after each transform.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import * as Profile from "../../src/core/Profile.ts"
import * as StatsFile from "../../src/core/StatsFile.ts"

const numRuns = 1000

// -- a small world of functions, so that random profiles collide often --------

interface Definition {
  readonly file: string
  readonly name: string
  readonly firstLine: number
  readonly lastLine: number
}

const definitions: ReadonlyArray<Definition> = [
  { file: "/app/src/a.ts", name: "f", firstLine: 1, lastLine: 4 },
  // Same file and first line as `f`: only the name tells them apart.
  { file: "/app/src/a.ts", name: "g", firstLine: 1, lastLine: 4 },
  { file: "/app/src/a.ts", name: "Queue.push", firstLine: 6, lastLine: 12 },
  { file: "/app/src/b.ts", name: "outer.inner", firstLine: 3, lastLine: 5 },
  { file: "file:///app/src/c.mjs", name: "main", firstLine: 100, lastLine: 101 }
]

/** Two versions of every file: the code changed between runs. */
const fileHashes = ["3f1a", "9c07"] as const

/** Source text is a function of the function's identity, as it is for real files. */
const sourceOf = (definition: Definition, fileHash: string): ReadonlyArray<string> =>
  Array.from(
    { length: definition.lastLine - definition.firstLine + 1 },
    (_, k) => `${fileHash} ${definition.name} line ${definition.firstLine + k}`
  )

/** Counters mix small values with values far beyond 2^53 (2^70 ns is about 37,000 years). */
const counter = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 2n ** 70n }))

const identity = fc.record({
  definition: fc.constantFrom(...definitions),
  fileHash: fc.constantFrom(...fileHashes)
})

const functionProfile: fc.Arbitrary<Profile.FunctionProfile> = identity.chain(({ definition, fileHash }) =>
  fc.record({
    withSource: fc.boolean(),
    lines: fc.array(
      fc.record({
        lineNo: fc.integer({ min: definition.firstLine, max: definition.lastLine }),
        hits: counter,
        timeNs: counter,
        waitNs: fc.oneof(fc.constant(0n), counter)
      }),
      { maxLength: 6 }
    )
  }).map(({ withSource, lines }) => ({
    ...definition,
    fileHash,
    source: withSource ? sourceOf(definition, fileHash) : undefined,
    lines
  }))
)

/** Every timing: exact (with and without the probe figures), sampled (a few intervals), mixed. */
const timing: fc.Arbitrary<Profile.Timing> = fc.oneof(
  fc.constant(Profile.exactTiming),
  fc.record({ mode: fc.constant("exact" as const), probeNs: counter, wallNs: counter }),
  fc.record({ mode: fc.constant("sampled" as const), intervalNs: fc.constantFrom(250_000, 1_000_000, 1_500_000), samples: counter }),
  fc.constant(Profile.mixedTiming)
)

/** Canonical profiles built the only supported way, through Profile.make; the timing left out (implied) or any. */
const profile: fc.Arbitrary<Profile.Profile> = fc
  .tuple(fc.array(functionProfile, { maxLength: 6 }), fc.option(timing, { nil: undefined }))
  .map(([functions, stated]) => Profile.make(functions, stated))

const assertWellFormed = (value: Profile.Profile): void => {
  assert.deepStrictEqual(Profile.check(value), [])
}

describe("Profile laws", () => {
  it("make produces well-formed profiles", () => {
    fc.assert(fc.property(profile, assertWellFormed), { numRuns })
  })

  it("combine is associative: combine(a, combine(b, c)) equals combine(combine(a, b), c)", () => {
    fc.assert(
      fc.property(profile, profile, profile, (a, b, c) => {
        const right = Profile.combine(a, Profile.combine(b, c))
        const left = Profile.combine(Profile.combine(a, b), c)
        assertWellFormed(right)
        assertWellFormed(left)
        assert.deepStrictEqual(right, left)
      }),
      { numRuns }
    )
  })

  it("combine is commutative: combine(a, b) equals combine(b, a)", () => {
    fc.assert(
      fc.property(profile, profile, (a, b) => {
        const ab = Profile.combine(a, b)
        assertWellFormed(ab)
        assert.deepStrictEqual(ab, Profile.combine(b, a))
      }),
      { numRuns }
    )
  })

  it("empty is the identity: combine(empty, a) and combine(a, empty) equal a", () => {
    assert.deepStrictEqual(Profile.ProfileReducer.initialValue, Profile.empty)
    fc.assert(
      fc.property(profile, (a) => {
        assert.deepStrictEqual(Profile.ProfileReducer.combine(Profile.ProfileReducer.initialValue, a), a)
        assert.deepStrictEqual(Profile.ProfileReducer.combine(a, Profile.ProfileReducer.initialValue), a)
      }),
      { numRuns }
    )
  })

  it("combineAll equals the left fold of combine from empty", () => {
    fc.assert(
      fc.property(fc.array(profile, { maxLength: 6 }), (profiles) => {
        const merged = Profile.ProfileReducer.combineAll(profiles)
        assertWellFormed(merged)
        assert.deepStrictEqual(merged, profiles.reduce(Profile.combine, Profile.empty))
      }),
      { numRuns }
    )
  })

  it("timing: exact with sampled is mixed (which mixedTimingProblem refuses); sampled ones add samples and keep the shorter interval", () => {
    const fn = { file: "/a.ts", name: "f", firstLine: 1, lastLine: 1, fileHash: "", source: undefined, lines: [Profile.makeLine(1, { hits: 1n })] }
    const exact = Profile.make([fn])
    const sampled = (intervalNs: number, samples: bigint) => Profile.make([fn], { mode: "sampled", intervalNs, samples })
    assert.deepStrictEqual(exact, { functions: [fn] })
    assert.deepStrictEqual(Profile.timingOf(Profile.combine(exact, sampled(1e6, 3n))), Profile.mixedTiming)
    assert.match(Profile.mixedTimingProblem(Profile.timingOf(Profile.combine(sampled(1e6, 3n), exact)))!, /^cannot merge sampled and exact profiles: their Times measure different things/)
    assert.deepStrictEqual(Profile.combine(sampled(1e6, 3n), sampled(5e5, 4n)).timing, { mode: "sampled", intervalNs: 5e5, samples: 7n })
    assert.strictEqual(Profile.mixedTimingProblem(Profile.timingOf(Profile.combine(Profile.empty, sampled(1e6, 3n)))), undefined)
    assert.strictEqual(Profile.timingOf(Profile.empty), undefined)
  })

  it("keeps functions whose file hash differs apart", () => {
    const definition = definitions[0]!
    const before = Profile.make([
      { ...definition, fileHash: "3f1a", source: undefined, lines: [Profile.makeLine(2, { hits: 1n, timeNs: 10n })] }
    ])
    const after = Profile.make([
      { ...definition, fileHash: "9c07", source: undefined, lines: [Profile.makeLine(2, { hits: 5n, timeNs: 70n })] }
    ])
    const merged = Profile.combine(after, before)
    assertWellFormed(merged)
    assert.deepStrictEqual(
      merged.functions.map((fn) => [fn.fileHash, fn.lines]),
      [
        ["3f1a", [Profile.makeLine(2, { hits: 1n, timeNs: 10n })]],
        ["9c07", [Profile.makeLine(2, { hits: 5n, timeNs: 70n })]]
      ]
    )
  })
})

// -- Python functions: equal keys that disagree on their last line ------------

/**
 * Python dumps carry no file hash (""), so one key can come with its source
 * (read where the .py file was: `lastLine` ends the block, trailing lines
 * may be blank) or without (`lastLine` is the last line that ran), and two
 * sources may differ (the file changed between runs).
 */
const pythonFunction: fc.Arbitrary<Profile.FunctionProfile> = fc
  .record({
    name: fc.constantFrom("f", "g"),
    span: fc.integer({ min: 1, max: 6 }),
    withSource: fc.boolean(),
    version: fc.constantFrom("v1", "v2"),
    blankTail: fc.integer({ min: 0, max: 2 }),
    lineOffsets: fc.array(fc.nat({ max: 5 }), { maxLength: 4 })
  })
  .map(({ name, span, withSource, version, blankTail, lineOffsets }) => {
    const firstLine = 10
    const lastLine = firstLine + span - 1
    const text = Array.from({ length: span }, (_, k) => (k >= span - blankTail && k > 0 ? "" : `${version} ${name} ${k}`))
    return {
      file: "job.py",
      name,
      firstLine,
      lastLine,
      fileHash: "",
      source: withSource ? text : undefined,
      lines: lineOffsets.filter((offset) => offset < span).map((offset) => Profile.makeLine(firstLine + offset, { hits: 1n, timeNs: 5n }))
    }
  })

const pythonProfile: fc.Arbitrary<Profile.Profile> = fc.array(pythonFunction, { maxLength: 4 }).map(Profile.make)

describe("Profile laws for Python functions that disagree", () => {
  it("two valid records, one with source ending earlier, merge into a valid one (issue 9, item 10)", () => {
    const sameEnd = (fn: Profile.FunctionProfile) => ({ ...fn, lastLine: 2, lines: [] })
    const withSource: Profile.FunctionProfile = {
      file: "job.py",
      name: "work",
      firstLine: 1,
      lastLine: 2,
      fileHash: "",
      source: ["def work():", "    return 1"],
      lines: [Profile.makeLine(2, { hits: 1n, timeNs: 10n })]
    }
    const withoutSource: Profile.FunctionProfile = {
      ...withSource,
      lastLine: 5,
      source: undefined,
      lines: [Profile.makeLine(5, { hits: 2n, timeNs: 20n })]
    }
    const merged = Profile.combine(Profile.make([withSource]), Profile.make([withoutSource]))
    assertWellFormed(merged)
    // Line 5 ran past the block the source ends: the source does not span the merge, so it is dropped.
    assert.strictEqual(merged.functions[0]!.source, undefined)
    assert.strictEqual(merged.functions[0]!.lastLine, 5)
    assert.deepStrictEqual(StatsFile.decode(StatsFile.encode(merged), "merged.json"), Result.succeed(merged))
    // Ending on the same line, the source is kept.
    const kept = Profile.combine(Profile.make([withSource]), Profile.make([sameEnd(withoutSource)]))
    assert.deepStrictEqual(kept.functions[0]!.source, withSource.source)
  })

  it("combine stays well formed, associative and commutative", () => {
    fc.assert(
      fc.property(pythonProfile, pythonProfile, pythonProfile, (a, b, c) => {
        const right = Profile.combine(a, Profile.combine(b, c))
        assertWellFormed(right)
        assert.deepStrictEqual(right, Profile.combine(Profile.combine(a, b), c))
        assert.deepStrictEqual(Profile.combine(a, b), Profile.combine(b, a))
        assert.doesNotThrow(() => StatsFile.encode(right))
      }),
      { numRuns }
    )
  })

  it("make of any records is well formed and equals the fold of combine", () => {
    fc.assert(
      fc.property(fc.array(pythonFunction, { maxLength: 6 }), (functions) => {
        const made = Profile.make(functions)
        assertWellFormed(made)
        assert.deepStrictEqual(made, functions.map((fn) => Profile.make([fn])).reduce(Profile.combine, Profile.empty))
      }),
      { numRuns }
    )
  })
})

// -- a run split across workers ----------------------------------------------

/** One recorded line event, as a recorder sees it. */
interface LineEvent {
  readonly definition: Definition
  readonly fileHash: string
  readonly lineNo: number
  readonly hits: bigint
  readonly timeNs: bigint
  readonly waitNs: bigint
}

const lineEvent: fc.Arbitrary<LineEvent> = identity.chain(({ definition, fileHash }) =>
  fc.record({
    definition: fc.constant(definition),
    fileHash: fc.constant(fileHash),
    lineNo: fc.integer({ min: definition.firstLine, max: definition.lastLine }),
    hits: fc.oneof(fc.constant(1n), counter),
    timeNs: counter,
    waitNs: fc.oneof(fc.constant(0n), counter)
  })
)

/** What one worker would report for its share of the events. */
const profileOfEvents = (events: ReadonlyArray<LineEvent>): Profile.Profile =>
  Profile.make(
    events.map((event) => ({
      ...event.definition,
      fileHash: event.fileHash,
      source: sourceOf(event.definition, event.fileHash),
      lines: [Profile.makeLine(event.lineNo, event)]
    }))
  )

/**
 * The expected profile of all events, computed without Profile's merge code:
 * plain maps of sums, then sorted by file, first line, name, hash and line.
 */
const accumulate = (events: ReadonlyArray<LineEvent>): Profile.Profile => {
  const byFunction = new Map<string, { event: LineEvent; lines: Map<number, Profile.LineStats> }>()
  for (const event of events) {
    const key = JSON.stringify([event.definition.file, event.definition.firstLine, event.definition.name, event.fileHash])
    const entry = byFunction.get(key) ?? { event, lines: new Map<number, Profile.LineStats>() }
    byFunction.set(key, entry)
    const line = entry.lines.get(event.lineNo)
    entry.lines.set(event.lineNo, {
      lineNo: event.lineNo,
      hits: (line?.hits ?? 0n) + event.hits,
      timeNs: (line?.timeNs ?? 0n) + event.timeNs,
      waitNs: (line?.waitNs ?? 0n) + event.waitNs
    })
  }
  const compare = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0)
  const functions = [...byFunction.values()]
    .map(({ event, lines }) => ({
      file: event.definition.file,
      name: event.definition.name,
      firstLine: event.definition.firstLine,
      lastLine: event.definition.lastLine,
      fileHash: event.fileHash,
      source: sourceOf(event.definition, event.fileHash),
      lines: [...lines.values()].sort((a, b) => a.lineNo - b.lineNo)
    }))
    .sort((a, b) =>
      compare(a.file, b.file) || compare(a.firstLine, b.firstLine) || compare(a.name, b.name) || compare(a.fileHash, b.fileHash)
    )
  return { functions }
}

/** Cuts `events` at the given points (taken modulo its length) into up to `cuts.length + 1` chunks. */
const split = <A>(events: ReadonlyArray<A>, cuts: ReadonlyArray<number>): Array<Array<A>> => {
  const points = [...new Set(cuts.map((cut) => cut % (events.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Array<A>> = []
  let start = 0
  for (const point of [...points, events.length]) {
    chunks.push(events.slice(start, point))
    start = point
  }
  return chunks
}

describe("a run split across workers", () => {
  it("merging the workers' profiles equals the profile of the same work done in one", () => {
    fc.assert(
      fc.property(
        fc.array(lineEvent, { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 7 }),
        fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
        (events, cuts, finishOrder) => {
          const expected = accumulate(events)
          assertWellFormed(expected)
          const workerProfiles = split(events, cuts).map(profileOfEvents)
          workerProfiles.forEach(assertWellFormed)
          // Workers finish in any order; the merge must not care.
          const finished = workerProfiles
            .map((workerProfile, k) => ({ workerProfile, rank: finishOrder[k] ?? 0 }))
            .sort((a, b) => a.rank - b.rank)
            .map(({ workerProfile }) => workerProfile)
          const merged = Profile.ProfileReducer.combineAll(finished)
          assertWellFormed(merged)
          assert.deepStrictEqual(merged, expected)
          assert.deepStrictEqual(finished.reduce(Profile.combine, Profile.empty), expected)
          assert.deepStrictEqual(profileOfEvents(events), expected)
        }
      ),
      { numRuns }
    )
  })
})

describe("stats file round trip", () => {
  it("decode(encode(profile)) gives the profile back", () => {
    fc.assert(
      fc.property(profile, (value) => {
        const decoded = StatsFile.decode(StatsFile.encode(value), "round-trip.json")
        assert.deepStrictEqual(decoded, Result.succeed(value))
        if (Result.isSuccess(decoded)) assertWellFormed(decoded.success)
      }),
      { numRuns }
    )
  })
  it("the fast encoder (core/StatsEncode) writes the bytes of the format's Schema encoder", () => {
    fc.assert(
      fc.property(profile, (value) => {
        assert.strictEqual(StatsFile.encode(value), StatsFile.encodeBySchema(value))
      }),
      { numRuns }
    )
  })
})
