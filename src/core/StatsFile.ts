/**
 * The on-disk stats format: a versioned JSON document, its effect/Schema, and
 * the pure `encode` / `decode` between it and a `Profile`.
 *
 * ```json
 * {
 *   "format": "lineprof",
 *   "version": 2,
 *   "timing": {"mode":"sampled","intervalNs":1000000,"samples":"5120"},
 *   "functions": [
 *     {"file":"/app/src/pow.ts","name":"power3","firstLine":9,"lastLine":10,"fileHash":"9f2c…",
 *      "source":["function power3(x) {","  return x * x * x"],"lines":[[10,5000,513427,0]]}
 *   ]
 * }
 * ```
 *
 * `timing` is the profile's `Profile.timingOf`: `{"mode":"exact"}`,
 * `{"mode":"sampled","intervalNs":…,"samples":…}`, `{"mode":"mixed"}` (a merge
 * of both, which merge and the reports refuse), or null for a profile that
 * measured nothing. Version 1 files (no `timing`: exact) still read.
 *
 * A line is `[lineNo, hits, timeNs, waitNs]`. Counters are bigint in memory;
 * they are written as JSON numbers while they are safe integers and as digit
 * strings above 2^53 - 1, and both spellings are read back. `source` is null
 * when the profile does not carry the function's text.
 *
 * Contract:
 * - `decode(encode(p), name)` succeeds with `p` for every `p` whose
 *   `Profile.check` is empty (round trip, property-tested).
 * - `decode` never throws: bad input gives `Result.fail` with ONE line naming
 *   the file and the first problem, e.g.
 *   `a.json: functions[0].lines[2][1] (hits): expected a non-negative integer, got -1`.
 * - What `decode` returns is canonical: it goes through `Profile.make` and
 *   passes `Profile.check`.
 *
 * Decoding runs in three steps:
 * 1. parse the JSON text (empty, truncated and malformed text each get their message)
 * 2. check the header by hand, so that a foreign file or another version is
 *    named as such instead of failing on its first unknown field
 * 3. decode the body with `StatsFileV2` (or `StatsFileV1`) and report the first issue with its path.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Effect from "effect/Effect"
import * as Profile from "./Profile.ts"
import * as StatsEncode from "./StatsEncode.ts"

/** The value of the `format` header field. */
export const formatName = StatsEncode.formatName

/** The version this module writes. */
export const currentVersion = StatsEncode.currentVersion

/** The versions it reads: version 1 has no `timing` (exact). */
export const readableVersions: ReadonlyArray<number> = [1, 2]
const readsWhat = "this lineprof reads versions 1 and 2"

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER)

/** A short, single-line rendering of a rejected JSON value for messages. */
export const showValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify would show as null.
  if (typeof value === "number" && !Number.isFinite(value)) return "a number too large to represent (not finite)"
  let text: string
  try {
    text = JSON.stringify(value, (_key, inner: unknown) =>
      typeof inner === "number" && !Number.isFinite(inner) ? "(a number too large)" : inner) ?? String(value)
  } catch {
    text = Array.isArray(value) ? "an array" : typeof value === "object" && value !== null ? "an object" : String(value)
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const invalid = (message: string): SchemaIssue.Issue => new SchemaIssue.InvalidValue({ message })

/**
 * A counter (hits, nanoseconds): a non-negative integer, written as a JSON
 * number when it is a safe integer and as a digit string otherwise. Anything
 * else, negative and fractional values included, is rejected.
 */
export const Counter = Schema.Unknown.pipe(
  Schema.decodeTo(Schema.BigInt, {
    decode: SchemaGetter.transformEffect((input: unknown) => {
      if (typeof input === "number") {
        if (Number.isSafeInteger(input) && input >= 0) return Effect.succeed(BigInt(input))
        if (Number.isInteger(input) && input > 0) {
          return Effect.fail(
            invalid(`expected a non-negative integer, got ${showValue(input)} (write integers above 2^53 - 1 as digit strings)`)
          )
        }
      } else if (typeof input === "string" && /^[0-9]+$/.test(input)) {
        return Effect.succeed(BigInt(input))
      }
      return Effect.fail(invalid(`expected a non-negative integer, got ${showValue(input)}`))
    }),
    encode: SchemaGetter.transform((count: bigint): unknown => (count <= maxSafe && count >= -maxSafe ? Number(count) : String(count)))
  })
).annotate({ expected: "a non-negative integer" })

/** A 1-based line number: a positive integer JSON number, at most `Profile.maxLineNo`. */
export const LineNumber = Schema.Number.check(
  Schema.makeFilter((n: number) =>
    Number.isInteger(n) && n > Profile.maxLineNo
      ? `expected a line number from 1 to ${Profile.maxLineNo}, got ${showValue(n)}`
      : Number.isSafeInteger(n) && n >= 1
      ? undefined
      : `expected a positive integer, got ${showValue(n)}`
  )
).annotate({ expected: "a positive integer" })

const Text = Schema.String.annotate({ expected: "a string" })

/** One line: `[lineNo, hits, timeNs, waitNs]`. */
export const LineEntry = Schema.Tuple([
  LineNumber.annotate({ title: "lineNo" }),
  Counter.annotate({ title: "hits" }),
  Counter.annotate({ title: "timeNs" }),
  Counter.annotate({ title: "waitNs" })
]).annotate({ expected: "[lineNo, hits, timeNs, waitNs]" })

/** One function record, fields in the order they are written. */
export const FunctionEntry = Schema.Struct({
  file: Text,
  name: Text,
  firstLine: LineNumber,
  lastLine: LineNumber,
  fileHash: Text,
  source: Schema.NullOr(Schema.Array(Text).annotate({ expected: "an array of strings" })).annotate({
    expected: "an array of strings or null"
  }),
  lines: Schema.Array(LineEntry).annotate({ expected: "an array of [lineNo, hits, timeNs, waitNs]" })
}).check(
    Schema.makeFilter((fn) => {
      if (fn.lastLine < fn.firstLine) {
        return { path: ["lastLine"], issue: `expected >= firstLine (${fn.firstLine}), got ${fn.lastLine}` }
      }
      const span = fn.lastLine - fn.firstLine + 1
      if (fn.source !== null && fn.source.length !== span) {
        return {
          path: ["source"],
          issue: `expected ${span} lines (firstLine ${fn.firstLine} to lastLine ${fn.lastLine}), got ${fn.source.length}`
        }
      }
      return undefined
    })
  ).annotate({ expected: "a function object" })

/** The whole version-1 document. */
export const StatsFileV1 = Schema.Struct({
  format: Schema.Literal(formatName),
  version: Schema.Literal(1),
  functions: Schema.Array(FunctionEntry).annotate({ expected: "an array of function objects" })
}).annotate({ expected: "a JSON object" })

/** The decoded (in-memory) shape of a version-1 document. */
export type StatsFileV1 = typeof StatsFileV1.Type

/** How Time was measured (see `Profile.Timing`). */
export const TimingEntry = Schema.Union([
  Schema.Struct({
    mode: Schema.Literal("exact"),
    probeNs: Schema.optionalKey(Counter.annotate({ title: "probeNs" })),
    wallNs: Schema.optionalKey(Counter.annotate({ title: "wallNs" }))
  }),
  Schema.Struct({
    mode: Schema.Literal("sampled"),
    intervalNs: Schema.Number.check(
      Schema.makeFilter((n: number) => (Number.isFinite(n) && n > 0 ? undefined : `expected a positive number of ns, got ${showValue(n)}`))
    ).annotate({ expected: "a positive number of ns" }),
    samples: Counter.annotate({ title: "samples" })
  }),
  Schema.Struct({ mode: Schema.Literal("mixed") })
]).annotate({ expected: `{"mode":"exact"}, {"mode":"sampled","intervalNs":…,"samples":…} or {"mode":"mixed"}` })

/** The whole version-2 document: version 1 plus `timing`. */
export const StatsFileV2 = Schema.Struct({
  format: Schema.Literal(formatName),
  version: Schema.Literal(2),
  timing: Schema.NullOr(TimingEntry).annotate({ expected: "a timing object or null" }),
  functions: Schema.Array(FunctionEntry).annotate({ expected: "an array of function objects" })
}).annotate({ expected: "a JSON object" })

/** The decoded (in-memory) shape of a version-2 document. */
export type StatsFileV2 = typeof StatsFileV2.Type

const toDocument = (profile: Profile.Profile): StatsFileV2 => ({
  format: formatName,
  version: 2,
  timing: Profile.timingOf(profile) ?? null,
  functions: profile.functions.map((fn) => ({
    file: fn.file,
    name: fn.name,
    firstLine: fn.firstLine,
    lastLine: fn.lastLine,
    fileHash: fn.fileHash,
    source: fn.source ?? null,
    lines: fn.lines.map((line) => [line.lineNo, line.hits, line.timeNs, line.waitNs] as const)
  }))
})

const fromDocument = (document: StatsFileV1 | StatsFileV2): Profile.Profile =>
  Profile.make(
    document.functions.map((fn) => ({
      file: fn.file,
      name: fn.name,
      firstLine: fn.firstLine,
      lastLine: fn.lastLine,
      fileHash: fn.fileHash,
      source: fn.source ?? undefined,
      lines: fn.lines.map(([lineNo, hits, timeNs, waitNs]) => ({ lineNo, hits, timeNs, waitNs }))
    })),
    "timing" in document ? (document.timing ?? undefined) : undefined
  )

const encodeDocument = Schema.encodeSync(StatsFileV2)

/**
 * The stats file of `profile`, by Schema: the format's own encoder, which
 * the tests hold the fast one (core/StatsEncode, what `encode` is) against.
 */
export const encodeBySchema = (profile: Profile.Profile): string => {
  const problems = Profile.check(profile)
  if (problems.length > 0) throw new Error(`cannot encode an invalid profile: ${problems[0]}`)
  const document = encodeDocument(toDocument(profile))
  const functions = document.functions.map((fn) => `    ${JSON.stringify(fn)}`)
  const body = functions.length === 0 ? "[]" : `[\n${functions.join(",\n")}\n  ]`
  return `{\n  "format": ${JSON.stringify(document.format)},\n  "version": ${document.version},\n  "timing": ${JSON.stringify(document.timing)},\n  "functions": ${body}\n}\n`
}

/** The stats file of `profile` (see core/StatsEncode); throws on a profile that fails `Profile.check`. */
export const encode = StatsEncode.encode

// -- decoding -----------------------------------------------------------------

const describeJson = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `${typeof value} ${showValue(value)}`

/** Makes a JSON.parse message safe for one line: control characters escaped, length capped. */
const oneLine = (text: string): string => {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === "\n" ? "\\n" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`))
  return escaped.length > 120 ? `${escaped.slice(0, 117)}...` : escaped
}

const parseJson = (text: string): Result.Result<unknown, string> => {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (body.trim() === "") return Result.fail("empty file, expected lineprof stats (JSON)")
  try {
    return Result.succeed(JSON.parse(body))
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const at = /at position (\d+)/.exec(message)
    const truncated = message.includes("Unexpected end of JSON input") || (at !== null && Number(at[1]) >= body.trimEnd().length)
    if (truncated) return Result.fail("truncated JSON: the text ends in the middle of a value")
    return Result.fail(`not JSON: ${oneLine(message)}`)
  }
}

/** A header problem; `foreign` when the JSON is no lineprof document at all (not an object, or another `format`). */
interface HeaderProblem {
  readonly problem: string
  readonly foreign: boolean
}

const checkHeader = (json: unknown): HeaderProblem | undefined => {
  const foreign = (problem: string): HeaderProblem => ({ problem: `not a lineprof stats file: ${problem}`, foreign: true })
  const bad = (problem: string): HeaderProblem => ({ problem, foreign: false })
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return foreign(`expected a JSON object, got ${describeJson(json)}`)
  }
  const header = json as { readonly format?: unknown; readonly version?: unknown }
  if (!("format" in header)) return foreign(`no "format" field (expected "format": "${formatName}")`)
  if (header.format !== formatName) {
    return foreign(`"format" is ${showValue(header.format)}, expected "${formatName}"`)
  }
  if (!("version" in header)) return bad(`no "version" field in the lineprof header (${readsWhat})`)
  if (typeof header.version === "number" && Number.isInteger(header.version) && header.version > currentVersion) {
    return bad(
      `lineprof stats version ${header.version} was written by a newer lineprof; ${readsWhat.replace("this lineprof", "this one")} (upgrade lineprof)`
    )
  }
  if (!readableVersions.includes(header.version as number)) {
    return bad(`unsupported lineprof stats version ${showValue(header.version)} (${readsWhat})`)
  }
  return undefined
}

const renderPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

const expectedOf = (ast: SchemaAST.AST): string => {
  const expected = SchemaAST.resolve(ast)?.expected
  return typeof expected === "string" ? expected : "a valid value"
}

const inputOf = (issue: SchemaIssue.Issue): unknown => (SchemaIssue.hasInput(issue) ? issue.input : undefined)

interface Located {
  readonly path: ReadonlyArray<PropertyKey>
  /** Field name of a tuple element (`hits`), shown after the path. */
  readonly label: string | undefined
  readonly message: string
}

/**
 * Walks the issue tree to its first leaf, collecting the path on the way. A
 * missing or extra tuple element is reported at the tuple, with its expected
 * shape, because "[1,2,3]: expected [lineNo, hits, timeNs, waitNs]" says more
 * than "[1,2,3][3]: missing".
 */
const locate = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey>,
  label: string | undefined,
  parent: SchemaIssue.Composite | undefined
): Located => {
  switch (issue._tag) {
    case "Pointer": {
      let elementLabel: string | undefined
      const key = issue.path[issue.path.length - 1]
      if (parent !== undefined && parent.ast._tag === "Arrays" && typeof key === "number") {
        const element = parent.ast.elements[key]
        elementLabel = element === undefined ? undefined : SchemaAST.resolveTitle(element)
      }
      return locate(issue.issue, [...path, ...issue.path], elementLabel, parent)
    }
    case "Composite":
      return locate(issue.issues[0], path, label, issue)
    case "Encoding":
      return locate(issue.issue, path, label, parent)
    case "Filter": {
      const message = issue.filter.annotations?.message
      return typeof message === "string" ? { path, label, message } : locate(issue.issue, path, label, parent)
    }
    case "AnyOf":
      if (issue.issues.length === 1) return locate(issue.issues[0]!, path, label, parent)
      return { path, label, message: `expected ${expectedOf(issue.ast)}, got ${showValue(inputOf(issue))}` }
    case "InvalidType":
      return { path, label, message: `expected ${expectedOf(issue.ast)}, got ${showValue(inputOf(issue))}` }
    case "InvalidValue": {
      const message = issue.annotations?.message
      return { path, label, message: typeof message === "string" ? message : `invalid value ${showValue(inputOf(issue))}` }
    }
    case "MissingKey":
    case "UnexpectedKey": {
      const inTuple = parent !== undefined && parent.ast._tag === "Arrays" && typeof path[path.length - 1] === "number"
      if (inTuple) {
        return {
          path: path.slice(0, -1),
          label: undefined,
          message: `expected ${expectedOf(parent.ast)}, got ${showValue(inputOf(parent))}`
        }
      }
      return { path, label, message: issue._tag === "MissingKey" ? "missing" : "unexpected field" }
    }
    case "Forbidden":
    case "OneOf":
      return { path, label, message: SchemaIssue.defaultLeafHook(issue) }
  }
}

/** The first problem of a failed schema decode as `path (label): message`. */
export const formatIssue = (issue: SchemaIssue.Issue): string => {
  const found = locate(issue, [], undefined, undefined)
  const where = renderPath(found.path)
  const labelled = found.label === undefined ? where : `${where} (${found.label})`
  return labelled === "" ? found.message : `${labelled}: ${found.message}`
}

const decodeV1 = Schema.decodeUnknownResult(StatsFileV1)
const decodeV2 = Schema.decodeUnknownResult(StatsFileV2)

/**
 * Arrays and objects a stats file may nest: the document needs 5 (document,
 * functions, function, lines, line); the rest is room for fields a later
 * version adds. Checked before the schema runs, whose recursive walk (and
 * `showValue`) would overflow the call stack on JSON nested 100,000 deep.
 */
export const maxNesting = 16

/** The path of the first array or object nested deeper than `maxNesting`, found without recursion. */
const tooDeep = (json: unknown): ReadonlyArray<PropertyKey> | undefined => {
  interface Node {
    readonly value: unknown
    readonly depth: number
    readonly parent: Node | undefined
    readonly key: PropertyKey | undefined
  }
  const pending: Array<Node> = [{ value: json, depth: 1, parent: undefined, key: undefined }]
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const { value, depth } = node
    if (value === null || typeof value !== "object") continue
    if (depth > maxNesting) {
      const path: Array<PropertyKey> = []
      for (let at: Node | undefined = node; at?.key !== undefined; at = at.parent) path.push(at.key)
      return path.reverse()
    }
    // Pushed in reverse, so that the first problem in document order is found first.
    const children: Array<Node> = []
    if (Array.isArray(value)) value.forEach((child, k) => children.push({ value: child, depth: depth + 1, parent: node, key: k }))
    else for (const [key, child] of Object.entries(value)) children.push({ value: child, depth: depth + 1, parent: node, key })
    for (let k = children.length - 1; k >= 0; k--) pending.push(children[k]!)
  }
  return undefined
}

/**
 * Why `decodeExplained` failed: `message` is the one line `decode` gives;
 * `foreign` is true when the text is JSON but no lineprof document at all
 * (not an object, or no `"format": "lineprof"` header), so a folder search
 * can pass the file over. A lineprof header with a bad field or another
 * version, and text that is not JSON, are not foreign.
 */
export interface DecodeFailure {
  readonly message: string
  readonly foreign: boolean
}

/** `decode`, telling a foreign JSON document from a bad stats file. */
export const decodeExplained = (text: string, fileName: string): Result.Result<Profile.Profile, DecodeFailure> => {
  const fail = (problem: string, foreign = false) => Result.fail({ message: `${fileName}: ${problem}`, foreign })
  const json = parseJson(text)
  if (Result.isFailure(json)) return fail(json.failure)
  const headerProblem = checkHeader(json.success)
  if (headerProblem !== undefined) return fail(headerProblem.problem, headerProblem.foreign)
  const deep = tooDeep(json.success)
  if (deep !== undefined) {
    // Four keys name the field (`functions[0].lines[2][1]`); the rest would be a screenful of `[0]`.
    return fail(`${renderPath(deep.slice(0, 4))}: nested too deeply (more than ${maxNesting} levels of arrays and objects)`)
  }
  const parseOptions = { errors: "first", reportInput: true, onExcessProperty: "ignore" } as const
  const body: Result.Result<StatsFileV1 | StatsFileV2, Schema.SchemaError> =
    (json.success as { readonly version: number }).version === 1 ? decodeV1(json.success, parseOptions) : decodeV2(json.success, parseOptions)
  if (Result.isFailure(body)) return fail(formatIssue(body.failure.issue))
  const profile = fromDocument(body.success)
  // Every field was checked above, so this is a safety net for invariants
  // that only the whole profile can show.
  const problems = Profile.check(profile)
  if (problems.length > 0) return fail(`invalid profile: ${problems[0]}`)
  return Result.succeed(profile)
}

/**
 * Reads stats-file text. `fileName` is only used in messages. The error is a
 * single line: `<fileName>: <problem>`.
 */
export const decode = (text: string, fileName: string): Result.Result<Profile.Profile, string> =>
  Result.mapError(decodeExplained(text, fileName), (failure) => failure.message)
