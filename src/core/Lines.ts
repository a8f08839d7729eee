/**
 * Splitting text into lines, the one place that knows what ends a line. Two
 * dialects: Node's, whose line numbers (stack traces, the instrumenter's
 * positions) count `\n`, `\r`, `\r\n`, U+2028 and U+2029; and Python's
 * universal newlines (`\n`, `\r`, `\r\n` only), which line_profiler's
 * `linecache` uses. Pure: no I/O.
 *
 * `splitLines(text, dialect)` returns the lines without their terminators; a
 * final terminator does not open another (empty) line, so `"a\nb\n"` and
 * `"a\nb"` both give `["a", "b"]`, and `""` gives `[]`.
 */

/** Line terminators as Node counts them for positions. */
export const nodeLineBreak = /\r\n|[\n\r\u2028\u2029]/

/** Line terminators of Python's universal newlines. */
export const pythonLineBreak = /\r\n|[\n\r]/

export type Dialect = "node" | "python"

/** The lines of `text` without terminators (see the module comment). */
export const splitLines = (text: string, dialect: Dialect): Array<string> => {
  const lines = text.split(dialect === "node" ? nodeLineBreak : pythonLineBreak)
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}

/**
 * The offset where each line of `text` starts, in Node's dialect: `[0, …]`,
 * one entry per line terminator more. For mapping positions to line numbers.
 */
export const lineStarts = (text: string): Array<number> => {
  const starts = [0]
  for (const match of text.matchAll(/\r\n|[\n\r\u2028\u2029]/g)) starts.push(match.index + match[0].length)
  return starts
}
