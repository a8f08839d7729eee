/**
 * What the lineprof command writes to a terminal besides the report itself:
 * whether to use colour, the styles of a coloured text report (hot lines
 * stand out), and a progress bar for long merges. Everything here degrades to
 * plain text: no colour when `NO_COLOR` is set or the stream is not a
 * terminal, and no progress bar unless stderr is a terminal and the work has
 * taken a while.
 *
 * The text report is coloured as it is rendered: `Text.render` takes
 * `reportColour` and says which piece is a heading or a hot or warm row;
 * `util.styleText` adds the escapes. Whether to colour at all is decided
 * here (`shouldColour`), once, so `styleText` is told not to check the stream.
 */
import { styleText } from "node:util"
import type * as Text from "../../core/render/Text.ts"

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

/** The style of each piece of a coloured text report. */
const styles = {
  heading: "bold",
  hot: ["bold", "red"],
  warm: "yellow"
} as const satisfies Record<Text.Role, Parameters<typeof styleText>[0]>

/** Colours a text report for a terminal: pass it as `Text.render`'s `colour` when `shouldColour` says so. */
export const reportColour: Text.Colour = (role, text) => styleText(styles[role], text, { validateStream: false })

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
