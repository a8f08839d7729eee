/**
 * The source instrumenter: a pure function from source text to source text
 * that writes the probe calls of core/Probe into every function, so that the
 * recorder sees line_profiler's line events. It only *inserts* text and never
 * a line break, so every original line keeps its number and its text: stack
 * traces keep their line numbers without a source map (columns move only
 * where a probe goes before a token on the same line; `shiftMappings` shifts
 * a file's own map by them).
 *
 * 1. parse with oxc-parser (TypeScript when the format or the file says so)
 * 2. walk the tree once; for each function with a body, give each line that
 *    starts a statement a slot (`slotBase + k`) and record insertions:
 *    the function prologue and `try { … } finally { exit }`, one probe before
 *    each statement (once per line per pass), probes in loop tests and at the
 *    start of each for-in/for-of iteration, `{ }` around a brace-less body
 *    when a probe must go before it, and `resume(frame, await suspend(frame, x))`
 *    around await and yield
 *    (and `return suspend(frame, x)` in async generators, whose return awaits;
 *    `using` disposers around `await using`, whose disposal awaits)
 * 3. sort the insertions (by position; at one position closers before
 *    openers, outer openers first) and splice them into the source.
 *
 * A sorted insertion list is used rather than magic-string: the edit is
 * insert-only and needs no source map of its own (lines never move), so
 * building the string directly is simpler and faster.
 *
 * Probes go where they keep the columns of the user's tokens when that is
 * safe: at the end of the previous statement (before any comment) or right
 * after the `{` that opens a block, so a statement alone on its line keeps its
 * columns. V8's text of an instrumented function shows the probes; the
 * `insertions` of the result and `withoutInsertions` give back the original
 * text (shell/Hooks gives it to `Function.prototype.toString`).
 */
import { parseSync, rawTransferSupported, visitorKeys, type ParserOptions } from "oxc-parser"
import { decode, encode } from "@jridgewell/sourcemap-codec"
import * as Data from "effect/Data"
import { Globals, InlineGlobals, Locals, type InstrumentedFunction, type ProbeStyle } from "./Probe.ts"

/** Node's load format of a file (what `module.registerHooks` reports). */
export type LoadFormat = "module" | "commonjs" | "module-typescript" | "commonjs-typescript"

export interface InstrumentOptions {
  /** The file's path or URL: named in errors; a `.ts`/`.mts`/`.cts` name selects TypeScript. */
  readonly file: string
  readonly format: LoadFormat
  /** The first slot this file may use (from the recorder's `allocateSlots`/`nextSlot`); must be >= 1. */
  readonly slotBase: number
  /**
   * The line *key* of a source offset, when lines are not the source's own (a
   * source map's original line, as a number unique per original file and
   * line): a probe goes wherever the key changes between consecutive
   * statements, and the result's `lines` are keys. Default: the 1-based line.
   */
  readonly lineKeyOf?: ((offset: number) => number) | undefined
  /**
   * Which functions get probes, given the qualified name and the offset where
   * the function's head starts; the others run as they are (their nested
   * functions are asked on their own). Default: every function.
   */
  readonly selectFunction?: ((name: string, start: number) => boolean) | undefined
  /**
   * "calls" (default): every probe calls a probe global, which serves both
   * timing modes. "inline": sync functions count hits and keep the shadow
   * line stack with plain stores, for sampled timing only (see core/Probe).
   */
  readonly probes?: ProbeStyle | undefined
}

export interface InstrumentResult {
  /** The instrumented source: same lines as the input, probes inserted. */
  readonly code: string
  /** The functions that carry probes, outer before inner (source order of their heads). */
  readonly functions: ReadonlyArray<InstrumentedFunction>
  /** The offset of each function's head in the source (same order as `functions`). */
  readonly functionStarts: ReadonlyArray<number>
  /** Slots used: `slotBase .. slotBase + slotCount - 1`. */
  readonly slotCount: number
  /**
   * Where text was inserted, for `withoutInsertions`: one triple a run of
   * insertions at one original position, in order: [start in code, end in
   * code, characters inserted up to the end of the run].
   */
  readonly insertions: Uint32Array
}

/** The source could not be parsed (or the options are wrong); the message is one line naming the file. */
export class InstrumentError extends Data.TaggedError("InstrumentError")<{
  readonly file: string
  readonly message: string
}> {}

// ESTree nodes from oxc, typed loosely on purpose: the walker dispatches on
// `type` and reads the few fields each kind has.
type AstNode = { readonly type: string; readonly start: number; readonly end: number } & Record<string, any>

const G = Globals
const L = Locals
const I = InlineGlobals
const SYNC_INIT = `let ${L.line}=0,${L.startNs}=0;try{`
const SYNC_CLOSE = `}finally{${G.exit}(${L.line},${L.startNs})}`
const INLINE_INIT = `const ${L.depth}=++${I.stack}[0];try{`
const INLINE_CLOSE = `}finally{${I.stack}[0]=${L.depth}-1}`
const FRAME_INIT = `const ${L.frame}=${G.frame}();try{`
const FRAME_CLOSE = `}finally{${G.frameExit}(${L.frame})}`

/** Statements that run nothing where they stand: no probe before them. */
const inert = (node: AstNode): boolean => {
  switch (node.type) {
    case "FunctionDeclaration":
    case "EmptyStatement":
    case "TSDeclareFunction":
    case "TSTypeAliasDeclaration":
    case "TSInterfaceDeclaration":
    case "TSModuleDeclaration":
    case "TSEnumDeclaration":
    case "TSImportEqualsDeclaration":
    case "TSExportAssignment":
    case "TSNamespaceExportDeclaration":
      return true
    case "VariableDeclaration":
    case "ClassDeclaration":
      return node.declare === true
    default:
      return false
  }
}

/** A function being instrumented (or only named, when it has no body lines). */
interface FnCtx {
  readonly name: string
  readonly frame: boolean
  /** `return x` awaits x: it is wrapped in `suspend`, so that wait is the return line's Wait. */
  readonly asyncGenerator: boolean
  readonly firstLine: number
  readonly lastLine: number
  readonly slotByLine: Map<number, number>
  /** An await/yield wrapper refers to the frame. */
  usesFrame: boolean
  /** Source offsets of the head (name or keyword) and of the end of the function. */
  readonly start: number
  readonly end: number
}

/** Adds the names bound by a binding pattern. */
const collectBindingNames = (pattern: AstNode | null | undefined, names: Set<string>): void => {
  if (pattern === null || pattern === undefined) return
  switch (pattern.type) {
    case "Identifier":
      names.add(pattern.name)
      return
    case "ObjectPattern":
      for (const property of pattern.properties) collectBindingNames(property.type === "RestElement" ? property.argument : property.value, names)
      return
    case "ArrayPattern":
      for (const element of pattern.elements) collectBindingNames(element, names)
      return
    case "RestElement":
      collectBindingNames(pattern.argument, names)
      return
    case "AssignmentPattern":
      collectBindingNames(pattern.left, names)
      return
  }
}

/** Adds the `var` names declared by statements (not inside nested functions). */
const collectVarNames = (node: AstNode | null | undefined, names: Set<string>): void => {
  if (node === null || node === undefined) return
  switch (node.type) {
    case "VariableDeclaration":
      if (node.kind === "var") for (const declarator of node.declarations) collectBindingNames(declarator.id, names)
      return
    case "BlockStatement":
    case "StaticBlock":
      for (const statement of node.body) collectVarNames(statement, names)
      return
    case "IfStatement":
      collectVarNames(node.consequent, names)
      collectVarNames(node.alternate, names)
      return
    case "ForStatement":
      collectVarNames(node.init, names)
      collectVarNames(node.body, names)
      return
    case "ForInStatement":
    case "ForOfStatement":
      collectVarNames(node.left, names)
      collectVarNames(node.body, names)
      return
    case "WhileStatement":
    case "DoWhileStatement":
    case "LabeledStatement":
    case "WithStatement":
      collectVarNames(node.body, names)
      return
    case "TryStatement":
      collectVarNames(node.block, names)
      collectVarNames(node.handler?.body, names)
      collectVarNames(node.finalizer, names)
      return
    case "SwitchStatement":
      for (const switchCase of node.cases) for (const statement of switchCase.consequent) collectVarNames(statement, names)
      return
  }
}

/**
 * Whether moving a function body's statements into a block (`try { … }`)
 * would change them: at a function's top level a function declaration may
 * share its name with a `var` or another function declaration, in a block it
 * is an early error; and one named like a parameter assigns that parameter
 * (in sloppy mode `arguments[k]` too), in a block it is a new binding.
 */
const blockWouldConflict = (statements: ReadonlyArray<AstNode>, params: ReadonlyArray<AstNode>): boolean => {
  const functionNames = new Set<string>()
  let duplicate = false
  for (const statement of statements) {
    if (statement.type === "FunctionDeclaration" && statement.id) {
      if (functionNames.has(statement.id.name)) duplicate = true
      functionNames.add(statement.id.name)
    }
  }
  if (functionNames.size === 0) return false
  if (duplicate) return true
  const varNames = new Set<string>()
  for (const param of params) collectBindingNames(param, varNames)
  for (const statement of statements) collectVarNames(statement, varNames)
  for (const name of functionNames) if (varNames.has(name)) return true
  return false
}

const isWhitespace = (code: number): boolean =>
  code === 32 ||
  (code >= 9 && code <= 13) ||
  code === 0xa0 ||
  code === 0xfeff ||
  code === 0x2028 ||
  code === 0x2029 ||
  code === 0x1680 ||
  (code >= 0x2000 && code <= 0x200a) ||
  code === 0x202f ||
  code === 0x205f ||
  code === 0x3000

const CLOSE = 0
const OPEN = 1

/** Where each line of `text` starts, by Node's line terminators (`\n`, `\r\n`, `\r`, U+2028, U+2029). */
export const lineStartsOf = (text: string): Array<number> => {
  const starts = [0]
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 10 || code === 0x2028 || code === 0x2029) starts.push(i + 1)
    else if (code === 13) {
      if (text.charCodeAt(i + 1) === 10) i++
      starts.push(i + 1)
    }
  }
  return starts
}

/** The 0-based line of `offset`, given the `lineStartsOf` its text. */
export const lineIndexAt = (starts: ReadonlyArray<number>, offset: number): number => {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= offset) lo = mid
    else hi = mid - 1
  }
  return lo
}

class Instrumenter {
  readonly source: string
  readonly slotBase: number
  readonly lineStarts: ReadonlyArray<number>
  readonly commentStartByEnd = new Map<number, number>()
  readonly commentEndByStart = new Map<number, number>()
  // Insertions, as parallel arrays (position, CLOSE/OPEN, nesting depth, text).
  readonly insPos: Array<number> = []
  readonly insKind: Array<number> = []
  readonly insDepth: Array<number> = []
  readonly insText: Array<string> = []
  /** Every function met, in source order of their heads (instrumented or not). */
  readonly functions: Array<FnCtx> = []
  slotCount = 0
  depth = 0

  readonly lineKeyOf: ((offset: number) => number) | undefined
  readonly selectFunction: ((name: string, start: number) => boolean) | undefined
  /** Sync functions get inline probes (see core/Probe). */
  readonly inline: boolean

  constructor(
    source: string,
    slotBase: number,
    comments: ReadonlyArray<{ start: number; end: number }>,
    options: Pick<InstrumentOptions, "lineKeyOf" | "selectFunction" | "probes"> = {}
  ) {
    this.source = source
    this.slotBase = slotBase
    this.lineKeyOf = options.lineKeyOf
    this.selectFunction = options.selectFunction
    this.inline = options.probes === "inline"
    this.lineStarts = lineStartsOf(source)
    for (const comment of comments) {
      this.commentStartByEnd.set(comment.end, comment.start)
      this.commentEndByStart.set(comment.start, comment.end)
    }
  }

  /** 1-based line of a source offset. */
  lineOf(pos: number): number {
    return lineIndexAt(this.lineStarts, pos) + 1
  }

  /** The line key of a source offset (see `InstrumentOptions.lineKeyOf`): what decides where probes go. */
  keyOf(pos: number): number {
    return this.lineKeyOf === undefined ? this.lineOf(pos) : this.lineKeyOf(pos)
  }

  /** The end of the token before `pos`: walks back over whitespace and comments. */
  gapStart(pos: number): number {
    let p = pos
    for (;;) {
      while (p > 0 && isWhitespace(this.source.charCodeAt(p - 1))) p--
      const start = this.commentStartByEnd.get(p)
      if (start === undefined) return p
      p = start
    }
  }

  /** The first token at or after `pos`: skips whitespace and comments. */
  skipTrivia(pos: number): number {
    let p = pos
    for (;;) {
      while (p < this.source.length && isWhitespace(this.source.charCodeAt(p))) p++
      const end = this.commentEndByStart.get(p)
      if (end === undefined) return p
      p = end
    }
  }

  insert(pos: number, kind: number, text: string): void {
    this.insPos.push(pos)
    this.insKind.push(kind)
    this.insDepth.push(this.depth)
    this.insText.push(text)
  }

  slotOf(fn: FnCtx, line: number): number {
    let slot = fn.slotByLine.get(line)
    if (slot === undefined) {
      slot = this.slotBase + this.slotCount++
      fn.slotByLine.set(line, slot)
    }
    return slot
  }

  probeExpr(fn: FnCtx, line: number): string {
    const slot = this.slotOf(fn, line)
    if (fn.frame) return `${G.frameHit}(${L.frame},${slot})`
    return this.inline
      ? `(${I.counts}[${slot}]++,${I.stack}[${L.depth}]=${slot})`
      : `${L.startNs}=${G.hit}(${L.line},${L.line}=${slot},${L.startNs})`
  }

  /** Makes `line` the current line without a hit (before a `for` init). */
  moveExpr(fn: FnCtx, line: number): string {
    const slot = this.slotOf(fn, line)
    if (fn.frame) return `${G.frameMove}(${L.frame},${slot})`
    return this.inline ? `${I.stack}[${L.depth}]=${slot}` : `${L.startNs}=${G.move}(${L.line},${L.line}=${slot},${L.startNs})`
  }

  /** A `;` keeps an inserted statement from joining the previous one (ASI, `x = {}` …). */
  separatorAt(pos: number): string {
    const code = this.source.charCodeAt(pos - 1)
    return code === 123 /* { */ || code === 59 /* ; */ || code === 58 /* : */ ? "" : ";"
  }

  /** A probe statement before `node`, at the end of the previous token. */
  probeBefore(fn: FnCtx, node: AstNode, line: number): void {
    const pos = this.gapStart(node.start)
    this.insert(pos, OPEN, `${this.separatorAt(pos)}${this.probeExpr(fn, line)};`)
  }

  build(): string {
    const n = this.insPos.length
    const order = Array.from({ length: n }, (_, i) => i)
    const { insPos, insKind, insDepth } = this
    order.sort(
      (a, b) =>
        insPos[a]! - insPos[b]! ||
        insKind[a]! - insKind[b]! ||
        (insKind[a] === OPEN ? insDepth[a]! - insDepth[b]! : insDepth[b]! - insDepth[a]!) ||
        a - b
    )
    const parts: Array<string> = []
    const runs: Array<number> = []
    let at = 0
    let inserted = 0 // characters inserted so far
    for (const i of order) {
      const pos = insPos[i]!
      const text = this.insText[i]!
      if (pos > at || runs.length === 0) {
        if (pos > at) parts.push(this.source.slice(at, pos))
        at = pos
        runs.push(pos + inserted, pos + inserted, inserted)
      }
      parts.push(text)
      inserted += text.length
      runs[runs.length - 2] = pos + inserted
      runs[runs.length - 1] = inserted
    }
    parts.push(this.source.slice(at))
    this.runs = Uint32Array.from(runs)
    return parts.join("")
  }

  runs: Uint32Array = new Uint32Array(0)

  // -- names ---------------------------------------------------------------

  keyName(key: AstNode, computed: boolean): string {
    if (computed) return "<computed>"
    switch (key.type) {
      case "Identifier":
        return key.name
      case "PrivateIdentifier":
        return `#${key.name}`
      case "Literal":
        return String(key.value)
      default:
        return "<computed>"
    }
  }

  /** A dotted name for an assignment target (`exports.run`, `Foo.prototype.bar`), else undefined. */
  targetName(node: AstNode): string | undefined {
    if (node.type === "Identifier") return node.name
    if (node.type === "MemberExpression" && !node.computed) {
      const object = node.object.type === "ThisExpression" ? "this" : this.targetName(node.object)
      const property = this.keyName(node.property, false)
      return object === undefined ? property : `${object}.${property}`
    }
    return undefined
  }

  // -- functions -----------------------------------------------------------

  /** Instruments one function-like node (function, arrow, static block). */
  visitFunction(node: AstNode, parent: FnCtx | undefined, localName: string, headStart: number): void {
    const isStaticBlock = node.type === "StaticBlock"
    const fn: FnCtx = {
      name: parent === undefined ? localName : `${parent.name}.${localName}`,
      frame: !isStaticBlock && (node.async === true || node.generator === true),
      asyncGenerator: !isStaticBlock && node.async === true && node.generator === true,
      firstLine: this.lineOf(headStart),
      lastLine: this.lineOf(node.end - 1),
      slotByLine: new Map(),
      usesFrame: false,
      start: headStart,
      end: node.end
    }
    this.functions.push(fn)
    if (this.selectFunction !== undefined && !this.selectFunction(fn.name, headStart)) {
      // Not selected: it runs as written; its nested functions are asked on their own.
      const bare: FnCtx = { ...fn, frame: false, asyncGenerator: false, slotByLine: new Map() }
      this.depth++
      if (isStaticBlock) for (const statement of node.body) this.walk(statement, bare, undefined)
      else {
        for (const param of node.params ?? []) this.walk(param, bare, undefined)
        this.walk(node.body, bare, undefined)
      }
      this.depth--
      return
    }
    this.depth++
    if (!isStaticBlock) for (const param of node.params ?? []) this.walk(param, fn, undefined)
    const body: AstNode | null = isStaticBlock ? node : node.body
    if (body === null || body === undefined) {
      this.depth--
      return
    }
    const init = fn.frame ? FRAME_INIT : this.inline ? INLINE_INIT : SYNC_INIT
    const close = fn.frame ? FRAME_CLOSE : this.inline ? INLINE_CLOSE : SYNC_CLOSE
    if (body.type !== "BlockStatement" && !isStaticBlock) {
      // Expression body: `=> x` becomes `=> {init; probe; return (x)} finally {…}}` on the same lines.
      const pos = this.gapStart(body.start)
      const line = this.keyOf(body.start)
      const probe = this.probeExpr(fn, line)
      this.insert(pos, OPEN, `{${init}${probe};return (`)
      this.insert(body.end, CLOSE, `)${close}}`)
      this.depth++
      this.walk(body, fn, undefined)
      this.depth -= 2
      return
    }
    const statements: ReadonlyArray<AstNode> = body.body
    let first = 0
    while (first < statements.length && typeof statements[first]!.directive === "string") first++
    if (first === statements.length) {
      this.depth--
      return
    }
    if (blockWouldConflict(statements, isStaticBlock ? [] : (node.params ?? []))) {
      // Inside `try { }` these declarations would be a SyntaxError or a new binding: leave this
      // function as it is (its nested functions are still instrumented).
      const bare: FnCtx = { ...fn, frame: false, asyncGenerator: false, slotByLine: new Map() }
      for (const statement of statements) this.walk(statement, bare, undefined)
      this.depth--
      return
    }
    const bodyStart = this.gapStart(statements[first]!.start)
    const bodyEnd = this.gapStart(body.end - 1)
    this.depth++
    this.visitList(statements, first, fn, -1)
    this.depth--
    if (fn.slotByLine.size > 0 || fn.usesFrame) {
      this.insert(bodyStart, OPEN, `${this.separatorAt(bodyStart)}${init}`)
      this.insert(bodyEnd, CLOSE, close)
    }
    this.depth--
  }

  visitClass(node: AstNode, fn: FnCtx | undefined, hint: string | undefined): void {
    const className: string = node.id?.name ?? hint ?? "<anonymous>"
    this.depth++
    if (node.superClass) this.walk(node.superClass, fn, undefined)
    for (const member of node.body.body as ReadonlyArray<AstNode>) {
      switch (member.type) {
        case "MethodDefinition":
        case "TSAbstractMethodDefinition": {
          if (member.computed) this.walk(member.key, fn, undefined)
          for (const decorator of member.decorators ?? []) this.walk(decorator, fn, undefined)
          const key = this.keyName(member.key, member.computed)
          const prefix = member.kind === "get" ? "get " : member.kind === "set" ? "set " : ""
          const name = member.kind === "constructor" ? "constructor" : `${prefix}${key}`
          if (member.value?.body) this.visitFunction(member.value, fn, `${className}.${name}`, member.key.start)
          break
        }
        case "PropertyDefinition":
        case "AccessorProperty":
        case "TSAbstractPropertyDefinition":
        case "TSAbstractAccessorProperty": {
          if (member.computed) this.walk(member.key, fn, undefined)
          for (const decorator of member.decorators ?? []) this.walk(decorator, fn, undefined)
          const key = this.keyName(member.key, member.computed)
          // The initializer runs in its own hidden function; functions in it are named after the field.
          if (member.value) this.walk(member.value, fn, `${className}.${key}`)
          break
        }
        case "StaticBlock":
          this.visitFunction(member, fn, `${className}.<static>`, member.start)
          break
        default:
          this.walk(member, fn, undefined)
      }
    }
    this.depth--
  }

  visitObject(node: AstNode, fn: FnCtx | undefined, hint: string | undefined): void {
    this.depth++
    for (const prop of node.properties as ReadonlyArray<AstNode>) {
      if (prop.type !== "Property") {
        this.walk(prop, fn, undefined)
        continue
      }
      if (prop.computed) this.walk(prop.key, fn, undefined)
      const key = this.keyName(prop.key, prop.computed)
      const prefix = prop.kind === "get" ? "get " : prop.kind === "set" ? "set " : ""
      const name = hint === undefined ? `${prefix}${key}` : `${hint}.${prefix}${key}`
      const value: AstNode = prop.value
      if ((prop.method || prop.kind !== "init") && value.type === "FunctionExpression") {
        this.visitFunction(value, fn, name, prop.key.start)
      } else {
        this.walk(value, fn, name)
      }
    }
    this.depth--
  }

  /**
   * Walks any node outside statement position. `hint` names an anonymous
   * function, class or object literal that is this very node (the variable,
   * property or assignment target holding it).
   */
  walk(node: AstNode | null | undefined, fn: FnCtx | undefined, hint: string | undefined): void {
    if (node === null || node === undefined || typeof node.type !== "string") return
    const localHint = hint
    switch (node.type) {
      case "FunctionDeclaration":
      case "FunctionExpression":
        if (node.body) this.visitFunction(node, fn, node.id?.name ?? localHint ?? "<anonymous>", node.start)
        return
      case "ArrowFunctionExpression":
        this.visitFunction(node, fn, localHint ?? "<anonymous>", node.start)
        return
      case "ClassDeclaration":
      case "ClassExpression":
        this.visitClass(node, fn, localHint)
        return
      case "ObjectExpression":
        this.visitObject(node, fn, localHint)
        return
      case "ParenthesizedExpression":
      case "TSAsExpression":
      case "TSSatisfiesExpression":
      case "TSNonNullExpression":
      case "TSTypeAssertion":
        this.walk(node.expression, fn, localHint)
        return
      case "VariableDeclarator":
        this.walk(node.id, fn, undefined)
        this.walk(node.init, fn, node.id.type === "Identifier" ? node.id.name : undefined)
        return
      case "AssignmentExpression":
        this.walk(node.left, fn, undefined)
        this.walk(node.right, fn, this.targetName(node.left))
        return
      case "AssignmentPattern":
        this.walk(node.left, fn, undefined)
        this.walk(node.right, fn, node.left.type === "Identifier" ? node.left.name : undefined)
        return
      case "ExportDefaultDeclaration":
        this.walk(node.declaration, fn, "default")
        return
      case "AwaitExpression":
      case "YieldExpression":
        this.wrapSuspension(node, fn)
        return
      case "TSTypeAnnotation":
      case "TSTypeParameterDeclaration":
      case "TSTypeParameterInstantiation":
      case "TSInterfaceDeclaration":
      case "TSTypeAliasDeclaration":
      case "TSDeclareFunction":
        return
    }
    const keys = visitorKeys[node.type]
    if (keys === undefined) return
    this.depth++
    for (const key of keys) {
      const child = node[key]
      if (Array.isArray(child)) for (const item of child) this.walk(item, fn, undefined)
      else if (child !== null && typeof child === "object") this.walk(child, fn, undefined)
    }
    this.depth--
  }

  /** `await x` → `resume(f, await suspend(f, x))`; `yield x` likewise. */
  wrapSuspension(node: AstNode, fn: FnCtx | undefined): void {
    const argument: AstNode | null = node.argument
    if (fn === undefined || !fn.frame) {
      // Top-level await: module code is not profiled.
      this.walk(argument, fn, undefined)
      return
    }
    fn.usesFrame = true
    this.insert(node.start, OPEN, `${G.resume}(${L.frame},`)
    this.depth++
    if (argument === null || argument === undefined) {
      this.insert(node.end, CLOSE, ` ${G.suspend}(${L.frame},void 0)`)
    } else {
      this.insert(argument.start, OPEN, `${G.suspend}(${L.frame},`)
      this.walk(argument, fn, undefined)
      this.insert(argument.end, CLOSE, `)`)
    }
    this.depth--
    this.insert(node.end, CLOSE, `)`)
  }

  // -- statements ----------------------------------------------------------

  /**
   * Visits a statement list. `known` is the line already current on entry
   * (-1 when unknown): a statement starting on it gets no probe, so that
   * consecutive statements on one line count once per pass.
   */
  visitList(statements: ReadonlyArray<AstNode>, from: number, fn: FnCtx, known: number): number {
    let current = known
    let firstAwaitUsing: AstNode | undefined
    let lastAwaitUsing: AstNode | undefined
    for (let i = from; i < statements.length; i++) {
      const statement = statements[i]!
      if (fn.frame && statement.type === "VariableDeclaration" && statement.kind === "await using") {
        firstAwaitUsing ??= statement
        lastAwaitUsing = statement
      }
      current = this.visitStatement(statement, fn, current, false)
    }
    if (firstAwaitUsing !== undefined && lastAwaitUsing !== undefined) {
      // Their disposal awaits at the end of the block: see `Globals.disposer`.
      fn.usesFrame = true
      const pos = this.gapStart(firstAwaitUsing.start)
      this.insert(pos, OPEN, `${this.separatorAt(pos)}${this.disposerDeclaration(1)}`)
      this.insert(lastAwaitUsing.end, OPEN, `;${this.disposerDeclaration(0)}`)
    }
    return current
  }

  disposerCount = 0
  /** `using __lp$uN=__lp$D(__lp$f,resumes);` with a name unique in the file. */
  disposerDeclaration(resumes: number): string {
    return `using ${L.disposer}${this.disposerCount++}=${G.disposer}(${L.frame},${resumes});`
  }

  /** A loop or `if` body: brace-less bodies get a block when a probe must go before them. */
  visitBody(body: AstNode, fn: FnCtx, entryLine: number, iterationProbe: string | undefined): void {
    if (body.type === "BlockStatement") {
      if (iterationProbe !== undefined) this.insert(body.start + 1, OPEN, `${iterationProbe};`)
      this.visitList(body.body, 0, fn, entryLine)
      return
    }
    if (inert(body) && iterationProbe === undefined) {
      this.visitStatement(body, fn, entryLine, false)
      return
    }
    // A block only when something goes before the body statement (its probe,
    // a loop's move probe, the iteration probe): `if (x) throw e` on one line
    // needs no probe, and without braces its columns stay as they were.
    const pos = this.gapStart(body.start)
    const mark = this.insPos.length
    this.depth++
    this.visitStatement(body, fn, entryLine, false)
    this.depth--
    let needsBlock = iterationProbe !== undefined
    for (let i = mark; !needsBlock && i < this.insPos.length; i++) needsBlock = this.insPos[i] === pos && this.insKind[i] === OPEN
    if (!needsBlock) return
    this.insert(pos, OPEN, iterationProbe === undefined ? "{" : `{${iterationProbe};`)
    this.insert(body.end, CLOSE, "}")
  }

  /** Puts a probe into a loop test: `while (probe, test)`. */
  probeTest(test: AstNode, fn: FnCtx, line: number): void {
    this.insert(this.gapStart(test.start), OPEN, `${this.probeExpr(fn, line)},`)
  }

  visitStatement(node: AstNode, fn: FnCtx, known: number, labeled: boolean): number {
    if (inert(node)) {
      if (node.type === "FunctionDeclaration" || node.type === "ClassDeclaration") this.walk(node, fn, undefined)
      return known
    }
    const line = this.keyOf(node.start)
    const singleLine = line === this.keyOf(node.end - 1)
    let after = singleLine ? line : -1
    const probeUnlessCurrent = (): void => {
      if (!labeled && line !== known) this.probeBefore(fn, node, line)
    }
    this.depth++
    switch (node.type) {
      case "BlockStatement": {
        this.visitList(node.body, 0, fn, known)
        this.depth--
        return singleLine && line === known ? known : -1
      }
      case "WhileStatement":
        this.probeTest(node.test, fn, line)
        this.walk(node.test, fn, undefined)
        this.visitBody(node.body, fn, line, undefined)
        break
      case "DoWhileStatement":
        // The header is the `do` line: hit once on entry, then once per test.
        if (!labeled) this.probeBefore(fn, node, line)
        this.visitBody(node.body, fn, line, undefined)
        this.probeTest(node.test, fn, line)
        this.walk(node.test, fn, undefined)
        break
      case "ForStatement": {
        if (node.init && !labeled) {
          const move = this.moveExpr(fn, line)
          const pos = this.gapStart(node.start)
          this.insert(pos, OPEN, `${this.separatorAt(pos)}${move};`)
        }
        this.walk(node.init, fn, undefined)
        if (node.test) {
          this.probeTest(node.test, fn, line)
          this.walk(node.test, fn, undefined)
        } else {
          // `for (init;;update)`: the probe becomes the test.
          let pos = node.init ? node.init.end : this.skipTrivia(node.start + 3) + 1
          pos = this.skipTrivia(pos)
          this.insert(pos + 1, OPEN, `(${this.probeExpr(fn, line)},true)`)
        }
        this.walk(node.update, fn, undefined)
        this.visitBody(node.body, fn, line, undefined)
        break
      }
      case "ForInStatement":
      case "ForOfStatement": {
        // Under a label the label's probe stands for this one: nothing may come between a label and its loop.
        if (!labeled) this.probeBefore(fn, node, line)
        this.walk(node.left, fn, undefined)
        this.walk(node.right, fn, undefined)
        if (node.await === true && fn.frame) this.visitForAwait(node, fn, line)
        else if (fn.frame && node.left.type === "VariableDeclaration" && node.left.kind === "await using") {
          // Each iteration disposes the head's resource with an await: suspend when the body's block ends.
          fn.usesFrame = true
          this.visitBody(node.body, fn, line, `${this.probeExpr(fn, line)};${this.disposerDeclaration(0).slice(0, -1)}`)
        } else this.visitBody(node.body, fn, line, this.probeExpr(fn, line))
        break
      }
      case "IfStatement":
        probeUnlessCurrent()
        this.walk(node.test, fn, undefined)
        this.visitBody(node.consequent, fn, line, undefined)
        if (node.alternate) this.visitBody(node.alternate, fn, line, undefined)
        break
      case "LabeledStatement":
        probeUnlessCurrent()
        this.visitStatement(node.body, fn, line, true)
        break
      case "TryStatement":
        probeUnlessCurrent()
        this.visitList(node.block.body, 0, fn, line)
        if (node.handler) {
          this.walk(node.handler.param, fn, undefined)
          this.visitList(node.handler.body.body, 0, fn, after)
        }
        if (node.finalizer) this.visitList(node.finalizer.body, 0, fn, after)
        break
      case "SwitchStatement":
        probeUnlessCurrent()
        this.walk(node.discriminant, fn, undefined)
        for (const switchCase of node.cases as ReadonlyArray<AstNode>) {
          this.walk(switchCase.test, fn, undefined)
          this.visitList(switchCase.consequent, 0, fn, after)
        }
        break
      case "ReturnStatement":
        probeUnlessCurrent()
        if (fn.asyncGenerator && node.argument) {
          // An async generator's `return x` awaits x: `return suspend(f, x)`; the exit probe credits the wait.
          fn.usesFrame = true
          const argument: AstNode = node.argument
          this.insert(argument.start, OPEN, `${G.suspend}(${L.frame},`)
          this.walk(argument, fn, undefined)
          this.insert(argument.end, CLOSE, ")")
        } else {
          after = this.probeParts(node, fn, line) ?? after
        }
        break
      case "WithStatement":
        probeUnlessCurrent()
        this.walk(node.object, fn, undefined)
        this.visitBody(node.body, fn, line, undefined)
        break
      default:
        probeUnlessCurrent()
        after = this.probeParts(node, fn, line) ?? after
    }
    this.depth--
    return after
  }

  /**
   * With line keys (a source map), one statement may hold several original
   * lines: a minifier joins statements into `a(), b()` and declarations into
   * `let a = 1, b = 2`. A probe goes before each part whose key differs from
   * the part before: `a(), probe, b()`, `let a = 1, b = (probe, 2)` (not
   * before an anonymous function or class, which would lose the name it takes
   * from its binding). Walks the node; returns the key current after it
   * when a probe went in, else undefined.
   */
  probeParts(node: AstNode, fn: FnCtx, line: number): number | undefined {
    if (this.lineKeyOf !== undefined) {
      const current = this.probePartsOf(node, fn, line)
      if (current !== undefined) return current ?? undefined
    }
    this.walk(node, fn, undefined)
    return undefined
  }

  /** `probeParts` for a node that has parts (null: walked, no probe went in); undefined (nothing walked) for another. */
  probePartsOf(node: AstNode, fn: FnCtx, line: number): number | null | undefined {
    let parts: ReadonlyArray<AstNode> | undefined
    let declarators = false
    if (node.type === "ExpressionStatement" && node.expression.type === "SequenceExpression") parts = node.expression.expressions
    else if (node.type === "ReturnStatement" && node.argument?.type === "SequenceExpression") parts = node.argument.expressions
    else if (node.type === "VariableDeclaration" && node.declarations.length > 1 && node.kind !== "using" && node.kind !== "await using") {
      parts = node.declarations
      declarators = true
    }
    if (parts === undefined) return undefined
    let current = line
    let probed = false
    for (const part of parts) {
      const key = this.keyOf(part.start)
      if (key !== current) {
        if (!declarators) {
          this.insert(part.start, OPEN, `${this.probeExpr(fn, key)},`)
          current = key
          probed = true
        } else if (part.init && !/^(?:Arrow)?Function|^Class/.test(part.init.type)) {
          this.insert(part.init.start, OPEN, `(${this.probeExpr(fn, key)},`)
          this.insert(part.init.end, CLOSE, ")")
          current = key
          probed = true
        }
      }
      this.walk(part, fn, undefined)
    }
    return probed ? current : null
  }

  /**
   * `for await`: the implicit awaits of the iteration are Wait of the header.
   * `for await (x of suspendAt(f, hdr, it)) { hit(f, hdr); try { … } finally { suspendAt(f, hdr) } }`
   */
  visitForAwait(node: AstNode, fn: FnCtx, line: number): void {
    fn.usesFrame = true
    const slot = this.slotOf(fn, line)
    const right: AstNode = node.right
    this.insert(this.gapStart(right.start), OPEN, ` ${G.suspendAt}(${L.frame},${slot},`)
    this.insert(right.end, CLOSE, ")")
    const hit = `${G.frameHit}(${L.frame},${slot});try{`
    const close = `}finally{${G.suspendAt}(${L.frame},${slot})}`
    const body: AstNode = node.body
    if (body.type === "BlockStatement") {
      if (body.body.length === 0) {
        this.insert(body.start + 1, OPEN, `${hit}${close}`)
        return
      }
      this.insert(body.start + 1, OPEN, hit)
      this.visitList(body.body, 0, fn, line)
      this.insert(this.gapStart(body.end - 1), CLOSE, close)
      return
    }
    this.insert(this.gapStart(body.start), OPEN, `{${hit}`)
    this.depth++
    this.visitStatement(body, fn, line, false)
    this.depth--
    this.insert(body.end, CLOSE, `${close}}`)
  }
}

const rawTransfer = rawTransferSupported()

const isTypeScript = (options: Pick<InstrumentOptions, "file" | "format">): boolean =>
  options.format === "module-typescript" || options.format === "commonjs-typescript" || /\.[cm]?tsx?$/.test(options.file)

/** Parses `source` for the instrumenter; throws an `InstrumentError` when it does not parse. */
const parse = (
  source: string,
  options: Pick<InstrumentOptions, "file" | "format">
): { readonly program: AstNode; readonly comments: ReadonlyArray<{ start: number; end: number }> } => {
  const typeScript = isTypeScript(options)
  const parsed = parseSync(typeScript ? "input.ts" : "input.js", source, {
    lang: typeScript ? "ts" : "js",
    sourceType: options.format.startsWith("module") ? "module" : "commonjs",
    preserveParens: true,
    // Same AST, read straight from the parser's buffer instead of through JSON: about 3x faster.
    experimentalRawTransfer: rawTransfer
  } as ParserOptions)
  const fatal = parsed.errors.find((error) => error.severity === "Error")
  if (fatal !== undefined) {
    const label = fatal.labels[0]
    const where = label === undefined ? "" : `:${positionAt(source, label.start)}`
    throw new InstrumentError({ file: options.file, message: `${options.file}${where}: cannot parse: ${fatal.message.split("\n")[0]}` })
  }
  return { program: parsed.program as unknown as AstNode, comments: parsed.comments }
}

/**
 * Instruments every function of `source` (see the module comment), or those
 * that `selectFunction` selects. Throws an `InstrumentError` when the source
 * does not parse.
 */
export const instrumentSource = (source: string, options: InstrumentOptions): InstrumentResult => {
  if (!Number.isSafeInteger(options.slotBase) || options.slotBase < 1) {
    throw new InstrumentError({ file: options.file, message: `${options.file}: slotBase must be an integer >= 1, got ${options.slotBase}` })
  }
  const parsed = parse(source, options)
  const instrumenter = new Instrumenter(source, options.slotBase, parsed.comments, options)
  instrumenter.walk(parsed.program, undefined, undefined)
  const functions: Array<InstrumentedFunction> = []
  const functionStarts: Array<number> = []
  for (const fn of instrumenter.functions) {
    if (fn.slotByLine.size === 0) continue
    functionStarts.push(fn.start)
    const lines = [...fn.slotByLine.keys()].sort((a, b) => a - b)
    functions.push({
      name: fn.name,
      firstLine: fn.firstLine,
      lastLine: fn.lastLine,
      lines,
      slots: lines.map((line) => fn.slotByLine.get(line)!)
    })
  }
  const code = instrumenter.build()
  return { code, functions, functionStarts, slotCount: instrumenter.slotCount, insertions: instrumenter.runs }
}

/** A function of a source text, as the instrumenter names it. */
export interface SourceFunction {
  /** Qualified name, as in `InstrumentedFunction.name`. */
  readonly name: string
  /** 1-based lines of its head and of its end. */
  readonly firstLine: number
  readonly lastLine: number
  /** Offsets of its head and of its end (exclusive). */
  readonly start: number
  readonly end: number
}

/**
 * Every function of `source` that has a body, outer before inner, named as
 * `instrumentSource` names them: what a source map's original file holds.
 * Throws an `InstrumentError` when the source does not parse.
 */
export const listFunctions = (source: string, options: Pick<InstrumentOptions, "file" | "format">): ReadonlyArray<SourceFunction> => {
  const parsed = parse(source, options)
  const instrumenter = new Instrumenter(source, 1, parsed.comments)
  instrumenter.walk(parsed.program, undefined, undefined)
  return instrumenter.functions.map((fn) => ({ name: fn.name, firstLine: fn.firstLine, lastLine: fn.lastLine, start: fn.start, end: fn.end }))
}

/** Node's line terminators for positions (\r\n counts once). */
const lineBreaks = /\r\n|[\n\r\u2028\u2029]/g

/**
 * `line:column` of a source offset as V8 reports a SyntaxError's (1-based; the
 * column in UTF-16 units), so that a file with \r or U+2028 line ends is
 * reported where Node would report it.
 */
const positionAt = (source: string, pos: number): string => {
  let line = 1
  let lineStart = 0
  for (const lineBreak of source.slice(0, pos).matchAll(lineBreaks)) {
    line++
    lineStart = lineBreak.index + lineBreak[0].length
  }
  return `${line}:${pos - lineStart + 1}`
}

/**
 * `text`, a piece of the instrumented code that starts at `start` (say, a
 * function's text as V8 gives it), without what the instrumenter inserted:
 * the original text of that piece. Works on V8's text rather than on the
 * source, so a TypeScript function keeps the blanks Node's type stripping
 * left where its types were, as it would without lineprof.
 */
export const withoutInsertions = (insertions: Uint32Array, text: string, start: number): string => {
  const end = start + text.length
  // The first run that ends after start (runs are sorted, their ends too).
  let lo = 0
  let hi = insertions.length / 3
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (insertions[mid * 3 + 1]! <= start) lo = mid + 1
    else hi = mid
  }
  let out = ""
  let at = start
  for (let k = lo; k * 3 < insertions.length && insertions[k * 3]! < end; k++) {
    const runStart = Math.max(insertions[k * 3]!, start)
    const runEnd = Math.min(insertions[k * 3 + 1]!, end)
    out += text.slice(at - start, runStart - start)
    at = runEnd
  }
  // Text that ends in inserted text (an arrow's expression body, closed by the
  // instrumenter): V8's own end is the body's last token, before any blanks
  // that type stripping left (`x satisfies T` is `x` and blanks).
  return at === end ? out.trimEnd() : out + text.slice(at - start)
}

// -- source maps of instrumented files ----------------------------------------

/**
 * A source map's `mappings` for the instrumented code, given the map of the
 * original file (whose generated positions are the original file's): each
 * segment's generated column moves right by the text inserted before it on
 * its line. Lines never move, so nothing else changes. Stack traces under
 * `--enable-source-maps` then point where they pointed without lineprof.
 */
export const shiftMappings = (mappings: string, source: string, insertions: Uint32Array): string => {
  // Inserted characters by original line: [column, characters inserted at or before it] pairs.
  const lineStarts = lineStartsOf(source)
  const shiftsByLine = new Map<number, Array<number>>()
  let line = 0
  for (let k = 0; k < insertions.length; k += 3) {
    const length = insertions[k + 1]! - insertions[k]!
    const pos = insertions[k]! - (insertions[k + 2]! - length)
    while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= pos) line++
    let shifts = shiftsByLine.get(line)
    if (shifts === undefined) shiftsByLine.set(line, (shifts = []))
    const before = shifts.length === 0 ? 0 : shifts[shifts.length - 1]!
    shifts.push(pos - lineStarts[line]!, before + length)
  }
  const decoded = decode(mappings)
  for (let lineNo = 0; lineNo < decoded.length; lineNo++) {
    const shifts = shiftsByLine.get(lineNo)
    if (shifts === undefined) continue
    for (const segment of decoded[lineNo]!) {
      const column = segment[0]
      let inserted = 0
      for (let s = 0; s < shifts.length && shifts[s]! <= column; s += 2) inserted = shifts[s + 1]!
      segment[0] = column + inserted
    }
  }
  return encode(decoded)
}
