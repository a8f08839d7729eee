/**
 * The flags and arguments the commands share: paths kept as typed, the render
 * flags of `show` and `run` (format, unit, skip-zero, sort, summary),
 * `--skip-bad` and the global `--verbose`.
 */
import * as Option from "effect/Option"
import { Argument, Flag, GlobalFlag, Param, Primitive } from "effect/cli"

// -- flags ----------------------------------------------------------------------------

/**
 * A string typed as a path for effect/cli, so that its shell completions offer
 * file names (`lineprof show <TAB>`), but kept exactly as typed: effect/cli's
 * own Path primitive makes it absolute against process.cwd(), and lineprof's
 * messages name files the way the user wrote them (and expand globs itself).
 */
export const pathAsTyped: Primitive.Primitive<string> = Object.assign(
  Object.create(Object.getPrototypeOf(Primitive.String)) as object,
  Primitive.Path("either"),
  { parse: Primitive.String.parse }
)

/** A positional path argument (see `pathAsTyped`). */
export const pathArgument = (name: string): Argument.Argument<string> =>
  Param.makeSingle({ kind: Param.argumentKind, name, primitiveType: pathAsTyped })

/** A path flag taking a value (see `pathAsTyped`). */
export const pathFlag = (name: string): Flag.Flag<string> => Param.makeSingle({ kind: Param.flagKind, name, primitiveType: pathAsTyped })

/** Unit names, and the seconds line_profiler's `-u` takes (`--unit 1e-6` reads as `--unit us`). */
export const units = { s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9, "1": 1, "1e-3": 1e-3, "1e-6": 1e-6, "1e-9": 1e-9 } as const
export type UnitName = keyof typeof units
/** line_profiler's default output unit (`python -m line_profiler -u`). */
export const defaultUnit: UnitName = "us"

export const renderFlags = {
  format: Flag.Literals("format", ["text", "json", "html", "pprof"]).pipe(
    Flag.withDefault("text" as const),
    Flag.withDescription(
      "report format: text (line_profiler layout), json (a stats file), html (a self-contained page) or pprof (gzipped profile.proto for go tool pprof; needs -o)"
    )
  ),
  unit: Flag.Literals("unit", ["s", "ms", "us", "ns", "1", "1e-3", "1e-6", "1e-9"]).pipe(
    Flag.optional,
    Flag.withDescription("time unit of the text report: s, ms, us, ns, or line_profiler's 1, 1e-3, 1e-6, 1e-9 (default: us)")
  ),
  skipZero: Flag.Boolean("skip-zero").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("leave out functions that never ran")
  ),
  sort: Flag.Boolean("sort").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("order functions by total time, ascending as line_profiler does (the slowest last, nearest the prompt)")
  ),
  summary: Flag.Boolean("summary").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("end with one summary line per function")
  )
}

export type RenderFlags = {
  readonly format: "text" | "json" | "html" | "pprof"
  readonly unit: Option.Option<UnitName>
  readonly skipZero: boolean
  readonly sort: boolean
  readonly summary: boolean
}

export const skipBadFlag = Flag.Boolean("skip-bad").pipe(
  Flag.withDefault(false),
  Flag.withoutNegation,
  Flag.withDescription("warn about each bad stats file and merge the others, instead of stopping at the first")
)

/** `--source-root DIR` of show and merge: where a .lprof's Python sources may be read from (default: the current folder). */
export const sourceRootFlag = pathFlag("source-root").pipe(
  Flag.optional,
  Flag.withDescription(
    "read the Python sources a .lprof names from this folder (default: the current one); only regular .py files under it are read"
  )
)

/** `--verbose`: accepted anywhere; `main` reads it from the argument list to decide how much to print on errors. */
export const Verbose = GlobalFlag.Setting("verbose")({
  flag: Flag.Boolean("verbose").pipe(
    Flag.withDefault(false),
    Flag.withoutNegation,
    Flag.withDescription("print stack traces and details on errors")
  )
})
