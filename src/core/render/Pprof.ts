/**
 * A profile as pprof (the `Profile` message of Google's profile.proto, encoded
 * by the pprof-format package) and back. The bytes are plain protobuf: the
 * shell gzips them, as pprof files are.
 *
 * The message:
 * - sample types `hits/count`, `time/nanoseconds` and, when any line waited,
 *   `wait/nanoseconds`; the default sample type is `time`;
 * - one Function per profiled function (id k + 1 for the k-th in canonical
 *   order): name and system name, file, first line (`start_line`);
 * - one Location per profiled line, with one Line (the function, the line
 *   number), and one Sample per Location whose values are that line's counters.
 *   A sample's "stack" is the line alone: pprof's flat and cum of a line are
 *   both the line's own figures, callees included as in the text report;
 * - one Mapping (`lineprof`, functions, file names and line numbers all
 *   present), so that pprof tools do not try to symbolize anything;
 * - what pprof has no field for, so that lineprof reads its own files back
 *   exactly: one comment `lineprof {"version":1,"functions":F,"lines":L,"extras":X}`
 *   (pprof tools print comments atop their reports; F and L catch a message cut
 *   short) and, at index X of the string table, one JSON array with each
 *   function's `{"lastLine":…,"fileHash":"…","source":[…] | null}` in function
 *   order. Nothing else refers to that string, so pprof tools never show it.
 *
 * Contract:
 * - `decode(encode(p), name)` succeeds with `p` for every `p` whose
 *   `Profile.check` is empty and whose counters are below 2^63 (pprof's values
 *   are int64; counters are written as bigint, so nothing is rounded).
 * - `encode` throws on an invalid profile or a counter of 2^63 or more.
 * - `decode` never throws: a pprof from another tool, or bytes that are no
 *   pprof at all, give ONE line `<fileName>: <problem>`.
 */
import * as PprofFormat from "pprof-format"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Profile from "../Profile.ts"
import * as StatsEncode from "../StatsEncode.ts"
import * as StatsFile from "../StatsFile.ts"

/** The version of the layout this module writes, and the only one it reads. */
export const currentVersion = 1

/** The prefix of the header comment, which marks a pprof file as lineprof's. */
export const headerPrefix = "lineprof "

/** The sample types, in order; `wait` only when some line waited. */
export const sampleTypes = {
  hits: { type: "hits", unit: "count" },
  time: { type: "time", unit: "nanoseconds" },
  wait: { type: "wait", unit: "nanoseconds" }
} as const

/** The largest value of pprof's int64 fields. */
export const maxValue = 2n ** 63n - 1n

/** The name of the one Mapping: pprof tools then know every location is symbolized. */
export const mappingName = "lineprof"

const Count = Schema.Number.check(
  Schema.makeFilter((n: number) => (Number.isSafeInteger(n) && n >= 0 ? undefined : `expected a count, got ${n}`))
)

const Versioned = Schema.Struct({ version: Schema.Number })

const Header = Schema.Struct({
  version: Schema.Literal(currentVersion),
  functions: Count,
  lines: Count,
  extras: Count,
  // The timing as the stats file writes it (StatsEncode.timingDocument), read by the stats file's own schema.
  timing: Schema.optionalKey(StatsFile.TimingEntry)
})

const FunctionExtras = Schema.Struct({
  lastLine: StatsFile.LineNumber,
  fileHash: Schema.String,
  source: Schema.NullOr(Schema.Array(Schema.String)),
  file: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String)
})

const Extras = Schema.Array(FunctionExtras)

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * The extras of one function. A name or file with a lone surrogate has no
 * UTF-8 form: the string table holds it with U+FFFD, and the extras (JSON
 * escapes the surrogate) hold it exactly.
 */
const extrasOf = (fn: Profile.FunctionProfile): typeof FunctionExtras.Type => ({
  lastLine: fn.lastLine,
  fileHash: fn.fileHash,
  source: fn.source ?? null,
  ...(loneSurrogate.test(fn.file) ? { file: fn.file } : {}),
  ...(loneSurrogate.test(fn.name) ? { name: fn.name } : {})
})

const hasWait = (profile: Profile.Profile): boolean =>
  profile.functions.some((fn) => fn.lines.some((line) => line.waitNs > 0n))

/** The pprof message of a profile (see the module comment); throws like `encode`. */
export const toMessage = (profile: Profile.Profile): PprofFormat.Profile => {
  const problems = Profile.check(profile)
  if (problems.length > 0) throw new Error(`cannot encode an invalid profile: ${problems[0]}`)
  const strings = new PprofFormat.StringTable()
  const withWait = hasWait(profile)
  // Sampled timing: the header comment carries the mode, the interval and the
  // sample count (pprof tools print it atop their reports), and the interval is
  // the profile's period.
  const types = withWait ? [sampleTypes.hits, sampleTypes.time, sampleTypes.wait] : [sampleTypes.hits, sampleTypes.time]
  const sampleType = types.map((valueType) => ({ type: strings.dedup(valueType.type), unit: strings.dedup(valueType.unit) }))
  const functions: Array<PprofFormat.FunctionInput> = []
  const locations: Array<PprofFormat.LocationInput> = []
  const samples: Array<PprofFormat.SampleInput> = []
  profile.functions.forEach((fn, index) => {
    const functionId = index + 1
    const name = strings.dedup(fn.name)
    functions.push({ id: functionId, name, systemName: name, filename: strings.dedup(fn.file), startLine: fn.firstLine })
    fn.lines.forEach((line, k) => {
      const locationId = locations.length + 1
      const at = `functions[${index}].lines[${k}]`
      locations.push({ id: locationId, mappingId: 1, line: [{ functionId, line: line.lineNo }] })
      const values = [int64(line.hits, `${at} hits`), int64(line.timeNs, `${at} timeNs`)]
      if (withWait) values.push(int64(line.waitNs, `${at} waitNs`))
      samples.push({ locationId: [locationId], value: values })
    })
  })
  // One string, so that the string table's de-duplication can never split it.
  const extras = strings.dedup(JSON.stringify(profile.functions.map(extrasOf)))
  const timing = profile.timing === undefined ? undefined : StatsEncode.timingDocument(profile.timing)
  const header = { version: currentVersion, functions: functions.length, lines: samples.length, extras, ...(timing === undefined ? {} : { timing }) }
  const sampled = profile.timing?.mode === "sampled" ? profile.timing : undefined
  return new PprofFormat.Profile({
    ...(sampled === undefined
      ? {}
      : { periodType: { type: strings.dedup("wall"), unit: strings.dedup("nanoseconds") }, period: Math.round(sampled.intervalNs) }),
    sampleType,
    sample: samples,
    mapping: [{ id: 1, filename: strings.dedup(mappingName), hasFunctions: true, hasFilenames: true, hasLineNumbers: true }],
    location: locations,
    function: functions,
    comment: [strings.dedup(headerPrefix + JSON.stringify(header))],
    defaultSampleType: strings.dedup(sampleTypes.time.type),
    stringTable: strings
  })
}

const int64 = (value: bigint, what: string): bigint => {
  if (value > maxValue) throw new Error(`cannot encode ${what} = ${value}: pprof values are int64 (at most 2^63 - 1)`)
  return value
}

/** The profile as an (uncompressed) pprof message; throws on an invalid profile or a counter of 2^63 or more. */
export const encode = (profile: Profile.Profile): Uint8Array => toMessage(profile).encode()

// -- decoding -----------------------------------------------------------------

type Numeric = number | bigint

/** A pprof id or line as a JS number, or undefined when it is no positive safe integer. */
const positive = (value: Numeric): number | undefined => {
  const n = typeof value === "bigint" ? (value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.NaN) : value
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined
}

/** A problem found while reading the message: thrown, caught by `decode`. */
class Invalid {
  readonly problem: string
  constructor(problem: string) {
    this.problem = problem
  }
}

const parseJson = <A>(text: string, schema: Schema.Codec<A, unknown>, what: string): A => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Invalid(`${what}: not JSON`)
  }
  const decoded = Schema.decodeUnknownResult(schema)(json, { errors: "first", onExcessProperty: "ignore" })
  if (Result.isFailure(decoded)) throw new Invalid(`${what}: ${StatsFile.formatIssue(decoded.failure.issue)}`)
  return decoded.success
}

/** What a pprof tool that rewrites the file (`go tool pprof -proto`) does: it keeps the comment, not the unreferenced extras. */
const rewritten = " (rewritten by another pprof tool? lineprof reads back only the files it wrote)"

const readExtras = <A>(read: () => A): A => {
  try {
    return read()
  } catch (error) {
    throw error instanceof Invalid ? new Invalid(`${error.problem}${rewritten}`) : error
  }
}

/** A pprof message without lineprof's header. */
class Foreign {}

const foreignProblem = "a pprof profile not written by lineprof (lineprof reads back only the pprof files it writes)"

/** Reads a pprof message that lineprof wrote; throws `Invalid` with the first problem. */
const fromMessage = (message: PprofFormat.Profile): Profile.Profile => {
  const strings = message.stringTable.strings
  const stringAt = (index: Numeric, what: string): string => {
    const at = positive(index) ?? (index === 0 || index === 0n ? 0 : undefined)
    const text = at === undefined ? undefined : strings[at]
    if (text === undefined) throw new Invalid(`${what}: string index ${index} is outside the string table`)
    return text
  }
  // 1. the header: a lineprof pprof, of this version
  const comments = message.comment.map((index, k) => stringAt(index, `comment[${k}]`))
  const headerText = comments[0]
  if (headerText === undefined || !headerText.startsWith(headerPrefix)) {
    throw new Foreign()
  }
  // The version first: another version may lay out the rest differently.
  const headerJson = headerText.slice(headerPrefix.length)
  const { version } = parseJson(headerJson, Versioned, "lineprof header comment")
  if (version !== currentVersion) {
    const why = version > currentVersion ? "was written by a newer lineprof" : "is not supported"
    throw new Invalid(`lineprof pprof version ${version} ${why}; this one reads version ${currentVersion}`)
  }
  const header = parseJson(headerJson, Header, "lineprof header comment")
  // 2. the sample types
  const types = message.sampleType.map((valueType, k) =>
    `${stringAt(valueType.type, `sample_type[${k}]`)}/${stringAt(valueType.unit, `sample_type[${k}]`)}`
  )
  const expected = [sampleTypes.hits, sampleTypes.time, sampleTypes.wait].map((t) => `${t.type}/${t.unit}`)
  const typesOk = (types.length === 2 || types.length === 3) && types.every((type, k) => type === expected[k])
  if (!typesOk) {
    const found = types.map((type) => (/^[\x21-\x7e]{1,40}$/.test(type) ? type : StatsFile.showValue(type))).join(", ")
    throw new Invalid(`sample types are ${found || "none"}, expected ${expected.join(", ")} (the last one optional)`)
  }
  // 3. functions, each with its extras (by position)
  const extras = readExtras(() => parseJson(stringAt(header.extras, "lineprof header comment: extras"), Extras, "lineprof extras"))
  if (extras.length !== message.function.length) {
    throw new Invalid(`lineprof extras describe ${extras.length} functions, the profile has ${message.function.length}${rewritten}`)
  }
  const functions = new Map<number, { fn: Omit<Profile.FunctionProfile, "lines">; lines: Array<Profile.LineStats> }>()
  message.function.forEach((entry, k) => {
    const at = `function[${k}]`
    const id = positive(entry.id)
    if (id === undefined || functions.has(id)) throw new Invalid(`${at}: id ${entry.id} is not a new positive integer`)
    const firstLine = positive(entry.startLine)
    if (firstLine === undefined) throw new Invalid(`${at}: start_line ${entry.startLine} is not a positive integer`)
    const extra = extras[k]!
    functions.set(id, {
      fn: {
        file: extra.file ?? stringAt(entry.filename, at),
        name: extra.name ?? stringAt(entry.name, at),
        firstLine,
        lastLine: extra.lastLine,
        fileHash: extra.fileHash,
        source: extra.source ?? undefined
      },
      lines: []
    })
  })
  // 4. locations, then one sample per line
  const locations = new Map<number, { readonly functionId: number; readonly lineNo: number }>()
  message.location.forEach((location, k) => {
    const at = `location[${k}]`
    const id = positive(location.id)
    if (id === undefined || locations.has(id)) throw new Invalid(`${at}: id ${location.id} is not a new positive integer`)
    const [line, ...more] = location.line
    if (line === undefined || more.length > 0) throw new Invalid(`${at}: expected one line, got ${location.line.length}`)
    const functionId = positive(line.functionId)
    if (functionId === undefined || !functions.has(functionId)) throw new Invalid(`${at}: unknown function id ${line.functionId}`)
    const lineNo = positive(line.line)
    if (lineNo === undefined) throw new Invalid(`${at}: line ${line.line} is not a positive integer`)
    locations.set(id, { functionId, lineNo })
  })
  message.sample.forEach((sample, k) => {
    const at = `sample[${k}]`
    const [locationId, ...more] = sample.locationId
    const location = locationId === undefined || more.length > 0 ? undefined : locations.get(positive(locationId) ?? 0)
    if (location === undefined) throw new Invalid(`${at}: expected one known location id, got [${sample.locationId.join(", ")}]`)
    if (sample.value.length !== types.length) {
      throw new Invalid(`${at}: ${sample.value.length} values for ${types.length} sample types`)
    }
    const values = sample.value.map((value) => BigInt(value))
    const bad = values.findIndex((value) => value < 0n || value > maxValue)
    if (bad >= 0) throw new Invalid(`${at}: ${types[bad]} must be a non-negative int64, got ${values[bad]}`)
    functions.get(location.functionId)!.lines.push({
      lineNo: location.lineNo,
      hits: values[0]!,
      timeNs: values[1]!,
      waitNs: values[2] ?? 0n
    })
  })
  // 5. the counts the header promised: a message cut short loses functions or lines
  if (functions.size !== header.functions || message.sample.length !== header.lines) {
    throw new Invalid(
      `incomplete: the lineprof header promises ${header.functions} functions and ${header.lines} lines, found ${functions.size} and ${message.sample.length}`
    )
  }
  const made = [...functions.values()].map(({ fn, lines }) => ({ ...fn, lines }))
  return Profile.make(made, header.timing)
}

/**
 * Reads an (uncompressed) pprof message that lineprof wrote. `fileName` is
 * only used in messages: the failure's message is one line `<fileName>: <problem>`;
 * `foreign` is true for a well-formed pprof without lineprof's header (another
 * tool's profile), so that a folder search can pass it over.
 */
export const decodeExplained = (bytes: Uint8Array, fileName: string): Result.Result<Profile.Profile, StatsFile.DecodeFailure> => {
  const fail = (problem: string, foreign = false) => Result.fail({ message: `${fileName}: ${problem}`, foreign })
  const notPprof = (error: unknown) => fail(`not a pprof profile (${error instanceof Error ? error.message : String(error)})`)
  let message: PprofFormat.Profile
  try {
    message = PprofFormat.Profile.decode(bytes)
  } catch (error) {
    return notPprof(error)
  }
  try {
    const profile = fromMessage(message)
    const problems = Profile.check(profile)
    if (problems.length > 0) return fail(`invalid profile: ${problems[0]}`)
    return Result.succeed(profile)
  } catch (error) {
    if (error instanceof Foreign) return fail(foreignProblem, true)
    if (error instanceof Invalid) return fail(error.problem)
    // pprof-format builds odd objects from bytes that are no protobuf; reading them may throw.
    return notPprof(error)
  }
}

/** `decodeExplained`, the message only. */
export const decode = (bytes: Uint8Array, fileName: string): Result.Result<Profile.Profile, string> =>
  Result.mapError(decodeExplained(bytes, fileName), (failure) => failure.message)
