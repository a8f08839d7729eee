/**
 * Python source blocks: which lines of a file make up the function that starts
 * at a given line, the way Python's `inspect.getblock` (which line_profiler's
 * `show_func` uses) decides it. Used to give profiles read from Python's
 * .lprof files, and the golden tests, the source text a report shows.
 *
 * Contract: `blockLines(fileText, firstLine)` returns the lines of the block
 * (without line terminators) from `firstLine` to the end of the block, exactly
 * the lines `inspect.getblock(lines[firstLine - 1:])` of CPython 3.11 returns:
 * decorators and the `def`/`class` header are taken whole, the block ends at
 * the last logical line before the indentation returns to the header's level,
 * trailing blank lines are excluded, trailing comments only when indented at
 * least as deep as the body. Pure: no I/O.
 *
 * 1. split the text into lines as Python's universal newlines do
 * 2. tokenize from `firstLine` (a port of CPython 3.11's `tokenize`, keeping only
 *    what block finding needs: strings, comments, brackets, continuations,
 *    INDENT/DEDENT and NEWLINE)
 * 3. feed the tokens to a port of `inspect.BlockFinder` and cut the lines.
 */
import * as Lines from "../Lines.ts"
import type { FunctionProfile, Profile } from "../Profile.ts"

/** Splits file text into lines as Python's universal-newline reading does (no terminators). */
export const splitLines = (fileText: string): Array<string> => Lines.splitLines(fileText, "python")

type TokenType = "NAME" | "OP" | "OTHER" | "COMMENT" | "NL" | "NEWLINE" | "INDENT" | "DEDENT" | "ENDMARKER"

interface Token {
  readonly type: TokenType
  readonly text: string
  /** 1-based row, relative to the first line tokenized. */
  readonly row: number
  /** 0-based start column (character index, as tokenize reports it). */
  readonly col: number
  /** 0-based end column. */
  readonly endCol: number
}

/** Tokenizing stopped where CPython raises (IndentationError, TokenError). */
class TokenizeStop {
  readonly _tag = "TokenizeStop"
}

const TAB_SIZE = 8
const STRING_PREFIX = String.raw`(?:[rR][bBfF]?|[bBfF][rR]?|[uU])?`
const TRIPLE_START = new RegExp(`${STRING_PREFIX}(?:'''|""")`, "y")
const SINGLE_START = new RegExp(`${STRING_PREFIX}['"]`, "y")
const NUMBER = /(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d[\d_]*)?[jJ]?|\d[\d_]*\.(?:[eE][-+]?\d[\d_]*)?[jJ]?)/y
const OPERATOR = /(?:\*\*=|\.\.\.|\/\/=|>>=|<<=|!=|%=|&=|\*\*|\*=|\+=|-=|->|\/\/|\/=|:=|<<|<=|==|>=|>>|@=|\^=|\|=|[-+*/%&@|^=<>~:;.,()[\]{}])/y
const NAME = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]+/uy
const IDENTIFIER_START = /[\p{L}\p{Nl}_]/u

const matchAt = (pattern: RegExp, line: string, pos: number): string | undefined => {
  pattern.lastIndex = pos
  const found = pattern.exec(line)
  return found === null || found[0] === "" ? undefined : found[0]
}

/** Index just after the closing `quote` searched from `pos` (backslash escapes), or -1. */
const findStringEnd = (line: string, pos: number, quote: string): number => {
  let k = pos
  while (k < line.length) {
    if (line[k] === "\\") k += 2
    else if (line.startsWith(quote, k)) return k + quote.length
    else k++
  }
  return -1
}

/**
 * End of a one-line string whose body starts at `pos`: the index after the
 * closing quote, "continued" when a backslash ends the line inside the string,
 * or -1 when the line ends first (an unterminated string).
 */
const scanSingleQuoted = (line: string, pos: number, quote: string): number | "continued" => {
  let k = pos
  while (k < line.length) {
    const ch = line[k]
    if (ch === "\\") {
      if (k === line.length - 1) return "continued"
      k += 2
    } else if (ch === quote) return k + 1
    else k++
  }
  return -1
}

/**
 * A port of CPython 3.11 `tokenize._tokenize` over lines without terminators
 * (each line is read as if it ended with "\n", as linecache gives it).
 * Calls `emit` per token; throws TokenizeStop where CPython raises.
 */
const tokenize = (lines: ReadonlyArray<string>, start: number, emit: (token: Token) => void, maxRows = Infinity): void => {
  let parenLevel = 0
  let continued = false
  const indents: Array<number> = [0]
  // Open string spanning lines: its closing quote, and whether it is a
  // single-quoted string continued by a backslash (it must keep one each line).
  let openString: { readonly quote: string; readonly needsBackslash: boolean } | undefined

  for (let index = start; index < lines.length; index++) {
    const row = index - start + 1
    if (row > maxRows) throw new OverBudget()
    const line = lines[index]!
    let pos = 0
    const max = line.length

    if (openString !== undefined) {
      const end = findStringEnd(line, 0, openString.quote)
      if (end >= 0) {
        pos = end
        emit({ type: "OTHER", text: line.slice(0, end), row, col: 0, endCol: end })
        openString = undefined
      } else if (openString.needsBackslash && !line.endsWith("\\")) {
        emit({ type: "OTHER", text: line, row, col: 0, endCol: max })
        openString = undefined
        continue
      } else {
        continue
      }
    } else if (parenLevel === 0 && !continued) {
      let column = 0
      while (pos < max) {
        const ch = line[pos]
        if (ch === " ") column += 1
        else if (ch === "\t") column = (Math.floor(column / TAB_SIZE) + 1) * TAB_SIZE
        else if (ch === "\f") column = 0
        else break
        pos++
      }
      if (pos === max || line[pos] === "#") {
        // Blank or comment-only line: no indentation change.
        if (pos < max) emit({ type: "COMMENT", text: line.slice(pos), row, col: pos, endCol: max })
        emit({ type: "NL", text: "\n", row, col: max, endCol: max + 1 })
        continue
      }
      if (column > indents[indents.length - 1]!) {
        indents.push(column)
        emit({ type: "INDENT", text: line.slice(0, pos), row, col: 0, endCol: pos })
      }
      while (column < indents[indents.length - 1]!) {
        if (!indents.includes(column)) throw new TokenizeStop() // IndentationError
        indents.pop()
        emit({ type: "DEDENT", text: "", row, col: pos, endCol: pos })
      }
    } else {
      continued = false
    }

    let lineOpen = false
    while (pos < max) {
      const ch = line[pos]!
      if (ch === " " || ch === "\t" || ch === "\f") {
        pos++
        continue
      }
      const start = pos
      if (ch === "\\" && pos === max - 1) {
        continued = true
        pos = max
        lineOpen = true
        break
      }
      if (ch === "#") {
        emit({ type: "COMMENT", text: line.slice(pos), row, col: pos, endCol: max })
        pos = max
        break
      }
      const triple = matchAt(TRIPLE_START, line, pos)
      if (triple !== undefined) {
        const quote = triple.slice(-3)
        const end = findStringEnd(line, pos + triple.length, quote)
        if (end >= 0) {
          emit({ type: "OTHER", text: line.slice(start, end), row, col: start, endCol: end })
          pos = end
          continue
        }
        openString = { quote, needsBackslash: false }
        lineOpen = true
        break
      }
      const numberText = /[0-9]/.test(ch) || (ch === "." && /[0-9]/.test(line[pos + 1] ?? "")) ? matchAt(NUMBER, line, pos) : undefined
      if (numberText !== undefined) {
        emit({ type: "OTHER", text: numberText, row, col: start, endCol: start + numberText.length })
        pos += numberText.length
        continue
      }
      const operator = matchAt(OPERATOR, line, pos)
      if (operator !== undefined) {
        if ("([{".includes(ch)) parenLevel++
        else if (")]}".includes(ch)) parenLevel--
        emit({ type: "OP", text: operator, row, col: start, endCol: start + operator.length })
        pos += operator.length
        continue
      }
      const single = matchAt(SINGLE_START, line, pos)
      if (single !== undefined) {
        const quote = single.slice(-1)
        const end = scanSingleQuoted(line, pos + single.length, quote)
        if (end === "continued") {
          openString = { quote, needsBackslash: true }
          lineOpen = true
          break
        }
        if (end >= 0) {
          emit({ type: "OTHER", text: line.slice(start, end), row, col: start, endCol: end })
          pos = end
          continue
        }
        // Unterminated: tokenize falls back to a name (the prefix) or an error token.
      }
      const name = matchAt(NAME, line, pos)
      if (name !== undefined) {
        emit({ type: IDENTIFIER_START.test(ch) ? "NAME" : "OTHER", text: name, row, col: start, endCol: start + name.length })
        pos += name.length
        continue
      }
      emit({ type: "OTHER", text: ch, row, col: start, endCol: start + 1 })
      pos++
    }
    if (!lineOpen) {
      emit({ type: parenLevel > 0 ? "NL" : "NEWLINE", text: "\n", row, col: max, endCol: max + 1 })
    }
  }
  // At the end of input CPython raises TokenError inside a string or a statement.
  if (openString !== undefined || parenLevel !== 0 || continued) throw new TokenizeStop()
  const endRow = lines.length - start + 1
  for (let k = 1; k < indents.length; k++) emit({ type: "DEDENT", text: "", row: endRow, col: 0, endCol: 0 })
  emit({ type: "ENDMARKER", text: "", row: endRow, col: 0, endCol: 0 })
}

/** Tokenizing went past the rows the caller allowed. */
class OverBudget {
  readonly _tag = "OverBudget"
}

class EndOfBlock {
  readonly _tag = "EndOfBlock"
}

/** A port of CPython 3.11 `inspect.BlockFinder`: `last` is the block's last row (1-based). */
const makeBlockFinder = () => {
  let indent = 0
  let isLambda = false
  let started = false
  let passLine = false
  let inDecorator = false
  let bodyCol0: number | undefined
  const state = { last: 1 }
  const eat = (token: Token): void => {
    if (!started && !inDecorator) {
      if (token.text === "@" && token.type === "OP") inDecorator = true
      else if (token.type === "NAME" && (token.text === "def" || token.text === "class" || token.text === "lambda")) {
        if (token.text === "lambda") isLambda = true
        started = true
      }
      passLine = true
    } else if (token.type === "NEWLINE") {
      passLine = false
      state.last = token.row
      if (isLambda) throw new EndOfBlock()
      if (inDecorator) inDecorator = false
    } else if (passLine) {
      // skip to the end of the line
    } else if (token.type === "INDENT") {
      if (bodyCol0 === undefined && started) bodyCol0 = token.endCol
      indent++
      passLine = true
    } else if (token.type === "DEDENT") {
      indent--
      if (indent <= 0) throw new EndOfBlock()
    } else if (token.type === "COMMENT") {
      if (bodyCol0 !== undefined && token.col >= bodyCol0) state.last = token.row
    } else if (indent === 0 && token.type !== "NL") {
      throw new EndOfBlock()
    }
  }
  return { state, eat }
}

/**
 * The lines of the Python block (function, class, decorated definition,
 * lambda) that starts at 1-based `firstLine` of `fileText`, without line
 * terminators. Empty when `firstLine` is past the end of the file.
 */
export const blockLines = (fileText: string, firstLine: number): Array<string> =>
  blockOfLines(splitLines(fileText), firstLine)!

/** `blockLines` over a file already split by `splitLines`, so that many functions of one file split it once. */
const blockOfLines = (fileLines: ReadonlyArray<string>, firstLine: number, maxLines = Infinity): Array<string> | undefined => {
  const start = Math.max(0, firstLine - 1)
  const finder = makeBlockFinder()
  try {
    tokenize(fileLines, start, finder.eat, maxLines)
  } catch (stop) {
    if (stop instanceof OverBudget) return undefined
    if (!(stop instanceof EndOfBlock) && !(stop instanceof TokenizeStop)) throw stop
  }
  const block = fileLines.slice(start, start + finder.state.last)
  return block.length > maxLines ? undefined : block
}

/**
 * Fills `source` and `lastLine` of the functions that lack source text, from
 * the text of their files (`fileTexts`: file as recorded in the profile → its
 * text). Functions whose file is not in the map, or whose first line is past
 * the end of the file, are left as they are, and so are those that would take
 * the source lines filled past `maxSourceLines` (default: no limit; the
 * tokenizer stops there too, so time stays within it). Keys do not change, so
 * the profile stays canonical.
 */
export const withSources = (
  profile: Profile,
  fileTexts: ReadonlyMap<string, string>,
  options: { readonly maxSourceLines?: number } = {}
): Profile => {
  let budget = options.maxSourceLines ?? Infinity
  const linesByFile = new Map<string, ReadonlyArray<string>>()
  const linesOf = (file: string): ReadonlyArray<string> | undefined => {
    const text = fileTexts.get(file)
    if (text === undefined) return undefined
    let lines = linesByFile.get(file)
    if (lines === undefined) linesByFile.set(file, (lines = splitLines(text)))
    return lines
  }
  return { functions: profile.functions.map((fn): FunctionProfile => {
    if (fn.source !== undefined) return fn
    const fileLines = linesOf(fn.file)
    if (fileLines === undefined) return fn
    const source = blockOfLines(fileLines, fn.firstLine, budget)
    if (source === undefined || source.length === 0) return fn
    budget -= source.length
    return { ...fn, source, lastLine: fn.firstLine + source.length - 1 }
  }) }
}
