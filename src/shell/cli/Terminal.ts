/**
 * What the lineprof command writes to a terminal besides the report itself:
 * whether to use colour, the colouring of a text report (hot lines stand out),
 * and a progress bar for long merges. Everything here degrades to plain text:
 * no colour when `NO_COLOR` is set or the stream is not a terminal, and no
 * progress bar unless stderr is a terminal and the work has taken a while.
 *
 * `highlightReport` only adds ANSI escapes around whole lines of a
 * line_profiler-style text report; stripping the escapes gives the input back.
 */

/** A writable stream as far as this module cares: Node's process.stdout / process.stderr fit. */
export interface Stream {
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
  write(text: string): unknown
}

/**
 * Colour or not, by the no-color.org convention: `NO_COLOR` (non-empty) turns
 * it off; then `FORCE_COLOR` decides when set to something: "0" or "false"
 * turns it off even on a terminal (as Node and chalk read it), any other
 * non-empty value on; else the stream decides by being a terminal.
 */
export const shouldColour = (stream: Pick<Stream, "isTTY">, env: Readonly<Record<string, string | undefined>>): boolean => {
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return false
  const force = env["FORCE_COLOR"]
  if (force === "0" || force === "false") return false
  if (force !== undefined && force !== "") return true
  return stream.isTTY === true
}

const ESC = "\u001b["
const paint = (code: string, text: string): string => `${ESC}${code}m${text}${ESC}0m`

export const bold = (text: string): string => paint("1", text)
export const red = (text: string): string => paint("31", text)
export const yellow = (text: string): string => paint("33", text)
export const boldRed = (text: string): string => paint("1;31", text)

/** Removes the ANSI escapes this module writes. */
export const stripAnsi = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, "")

/** Lines whose share of their function's time is at least this many percent are painted hot (bold red). */
export const HOT_PERCENT = 20
/** Lines at or above this share (and below HOT_PERCENT) are painted warm (yellow). */
export const WARM_PERCENT = 5

/**
 * Colours a line_profiler-style text report: `Function:` and `Total time:`
 * headers bold, rows whose `% Time` is at least HOT_PERCENT bold red, at least
 * WARM_PERCENT yellow. The `% Time` column is found from each table's header,
 * so extra columns (Wait) and wider columns are handled. Anything that is not
 * recognised passes through unchanged.
 */
export const highlightReport = (report: string): string => {
  const lines = report.split("\n")
  // End column (exclusive) of "% Time" in the current table's header, or -1 outside a table.
  let percentEnd = -1
  let inRows = false
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!
    if (line.startsWith("Function: ") || line.startsWith("Total time: ")) {
      lines[index] = bold(line)
      percentEnd = -1
      inRows = false
    } else if (line.startsWith("Line #")) {
      const at = line.indexOf("% Time")
      percentEnd = at < 0 ? -1 : at + "% Time".length
      lines[index] = bold(line)
      inRows = false
    } else if (percentEnd > 0 && /^=+$/.test(line)) {
      inRows = true
    } else if (line === "") {
      inRows = false
      percentEnd = -1
    } else if (inRows) {
      // The column is right-aligned and ends where its header ends; it is
      // blank on rows with no hits.
      const start = line.lastIndexOf(" ", percentEnd - 1)
      const cell = line.slice(start < 0 ? 0 : start, percentEnd).trim()
      const percent = cell === "" ? Number.NaN : Number(cell)
      if (percent >= HOT_PERCENT) lines[index] = boldRed(line)
      else if (percent >= WARM_PERCENT) lines[index] = yellow(line)
    }
  }
  return lines.join("\n")
}

/**
 * A progress bar: `tick(done)` as work advances, `finish()` once at the end.
 * `clear()` erases the bar before other text goes to its stream (a warning),
 * which would otherwise be written over the bar's line; the next tick redraws it.
 */
export interface Progress {
  readonly tick: (done: number) => void
  readonly clear?: () => void
  readonly finish: () => void
}

/** A progress bar that draws nothing. */
export const silentProgress: Progress = { tick: () => {}, clear: () => {}, finish: () => {} }

/**
 * A progress bar on `stream` for `total` units of `label`, drawn only when the
 * stream is a terminal and only once the work has run for `delayMs` (short work
 * shows nothing), redrawn at most every `everyMs`, erased by `finish`.
 * `nowMs` is the clock, injectable for tests.
 */
export const makeProgress = (options: {
  readonly stream: Stream
  readonly total: number
  readonly label: string
  readonly delayMs?: number
  readonly everyMs?: number
  readonly nowMs?: () => number
}): Progress => {
  const { stream, total, label } = options
  if (stream.isTTY !== true || total <= 0) return silentProgress
  const nowMs = options.nowMs ?? (() => performance.now())
  const delayMs = options.delayMs ?? 400
  const everyMs = options.everyMs ?? 100
  const startedAtMs = nowMs()
  let drawnAtMs = Number.NEGATIVE_INFINITY
  // The bar is on screen now (not erased since it was last drawn).
  let drawn = false
  const erase = (): void => {
    if (drawn) stream.write("\r\u001b[2K")
    drawn = false
  }
  const draw = (done: number): void => {
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 30 - label.length))
    const filled = Math.round((width * Math.min(done, total)) / total)
    const percent = Math.floor((100 * Math.min(done, total)) / total)
    stream.write(`\r${"█".repeat(filled)}${"░".repeat(width - filled)} ${percent}% ${done}/${total} ${label}`)
    drawn = true
  }
  return {
    tick: (done) => {
      const atMs = nowMs()
      if (atMs - startedAtMs < delayMs || atMs - drawnAtMs < everyMs) return
      drawnAtMs = atMs
      draw(done)
    },
    clear: () => {
      erase()
      // Redraw on the next tick, however soon it comes.
      drawnAtMs = Number.NEGATIVE_INFINITY
    },
    finish: erase
  }
}
