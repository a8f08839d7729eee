/**
 * A safe reader of Python pickles (protocols 0 to 5) that builds plain values
 * and never executes anything, unlike Python's `pickle.load`.
 *
 * Contract: `load(bytes, { allowedGlobals })` returns the pickled value as a
 * `PickleValue`, or a `PickleError` with a one-line reason and the byte offset.
 * A pickle may only name the classes and functions listed in `allowedGlobals`
 * ("module.name"); any other name (`os.system`, `builtins.eval` ...) is refused
 * as soon as it is read, before anything could use it. Calls (REDUCE, NEWOBJ,
 * INST, OBJ) of allowed names are not performed either: they become
 * `PickleObject` values that record the class and its arguments, and BUILD
 * records the state. `copyreg._reconstructor(cls, object, None)`, which
 * protocols 0 and 1 use for plain objects, becomes an object of `cls`.
 * Persistent ids, the extension registry and out-of-band buffers are refused.
 *
 * Python values map to: None -> null, bool -> boolean, int -> bigint (always,
 * exact at any size), float -> number, str -> string, bytes/bytearray ->
 * Uint8Array, tuple/list/dict/set -> tagged records (dict keys may be tuples,
 * so a dict is a list of entries, in pickle order).
 */
import * as Schema from "effect/Schema"
import * as Result from "effect/Result"

/** Any value a pickle can hold once its calls are recorded instead of run. */
export type PickleValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | PickleTuple
  | PickleList
  | PickleDict
  | PickleSet
  | PickleGlobal
  | PickleObject

export interface PickleTuple {
  readonly _tag: "Tuple"
  readonly items: ReadonlyArray<PickleValue>
}

export interface PickleList {
  readonly _tag: "List"
  readonly items: ReadonlyArray<PickleValue>
}

export interface PickleDict {
  readonly _tag: "Dict"
  /** Entries in pickle order; a later entry of an equal key is kept too. */
  readonly entries: ReadonlyArray<readonly [PickleValue, PickleValue]>
}

export interface PickleSet {
  readonly _tag: "Set"
  readonly frozen: boolean
  readonly items: ReadonlyArray<PickleValue>
}

/** A reference to an allowed class or function, by name. */
export interface PickleGlobal {
  readonly _tag: "Global"
  readonly module: string
  readonly name: string
}

/** An instance of an allowed class (or the recorded call of an allowed function). */
export interface PickleObject {
  readonly _tag: "Object"
  readonly cls: PickleGlobal
  /** Positional arguments the pickle passed to the class. */
  readonly args: ReadonlyArray<PickleValue>
  /** State given by BUILD (usually the instance's `__dict__`), or undefined. */
  readonly state: PickleValue | undefined
}

/** Why a pickle could not be read; `message` is one line. */
export class PickleError extends Schema.TaggedError<PickleError>()("PickleError", {
  reason: Schema.String,
  /** Byte offset of the opcode that failed. */
  offset: Schema.Number
}) {
  override get message(): string {
    return `${this.reason} (at byte ${this.offset})`
  }
}

export interface LoadOptions {
  /** Qualified names ("module.name") the pickle may refer to; nothing else is allowed. */
  readonly allowedGlobals: ReadonlyArray<string>
}

/**
 * True when the bytes start like a binary pickle of protocol 2 to 5 (PROTO:
 * 0x80 and the version). Protocols 0 and 1 have no such header; readers tell
 * them by the `.lprof` extension instead. The one magic check of lineprof.
 */
export const hasMagic = (bytes: Uint8Array): boolean =>
  bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5

/** Parses a pickle into plain values; see the module comment for what is refused. */
export const load = (bytes: Uint8Array, options: LoadOptions): Result.Result<PickleValue, PickleError> => {
  try {
    return Result.succeed(new Reader(bytes, new Set(options.allowedGlobals)).run())
  } catch (error) {
    if (error instanceof PickleError) return Result.fail(error)
    throw error
  }
}

// Mutable twins of the public records, used while the pickle is read: APPEND,
// SETITEM and BUILD change values that may already sit in the memo.
interface MutableList {
  readonly _tag: "List"
  items: Array<PickleValue>
}
interface MutableDict {
  readonly _tag: "Dict"
  entries: Array<readonly [PickleValue, PickleValue]>
}
interface MutableSet {
  readonly _tag: "Set"
  readonly frozen: boolean
  items: Array<PickleValue>
}
interface MutableObject {
  readonly _tag: "Object"
  readonly cls: PickleGlobal
  readonly args: ReadonlyArray<PickleValue>
  state: PickleValue | undefined
}

/** Python 2 names that protocol 0-2 pickles written by Python 3 use (`fix_imports`). */
const python2Modules: ReadonlyMap<string, string> = new Map([["copy_reg", "copyreg"], ["__builtin__", "builtins"]])

/** Text from a pickle made safe for a one-line message: control characters escaped. */
export const showText = (text: string): string => JSON.stringify(text).slice(1, -1)

const MARK = Symbol("mark")
type StackItem = PickleValue | typeof MARK

const latin1 = (bytes: Uint8Array): string => {
  let text = ""
  for (let k = 0; k < bytes.length; k += 8192) text += String.fromCharCode(...bytes.subarray(k, k + 8192))
  return text
}

const utf8 = new TextDecoder("utf-8")

const hexByte: ReadonlyArray<string> = Array.from({ length: 256 }, (_, k) => k.toString(16).padStart(2, "0"))

const describe = (value: StackItem): string => {
  if (value === MARK) return "a mark"
  if (value === null) return "None"
  switch (typeof value) {
    case "boolean":
      return "a bool"
    case "bigint":
      return "an int"
    case "number":
      return "a float"
    case "string":
      return "a str"
  }
  if (value instanceof Uint8Array) return "bytes"
  if (value._tag === "Global") return showText(`${value.module}.${value.name}`)
  if (value._tag === "Object") return `an instance of ${showText(`${value.cls.module}.${value.cls.name}`)}`
  return `a ${value._tag.toLowerCase()}`
}

class Reader {
  private pos = 0
  private opStart = 0
  private readonly stack: Array<StackItem> = []
  private readonly memo = new Map<number, PickleValue>()
  private readonly bytes: Uint8Array
  private readonly allowed: ReadonlySet<string>

  constructor(bytes: Uint8Array, allowed: ReadonlySet<string>) {
    this.bytes = bytes
    this.allowed = allowed
  }

  private fail(reason: string): never {
    throw new PickleError({ reason, offset: this.opStart })
  }

  private take(count: number): Uint8Array {
    if (count < 0 || this.pos + count > this.bytes.length) {
      this.fail(`truncated pickle: needs ${count} more bytes, ${this.bytes.length - this.pos} left`)
    }
    const out = this.bytes.subarray(this.pos, this.pos + count)
    this.pos += count
    return out
  }

  private u8(): number {
    return this.take(1)[0]!
  }

  private uint(size: 2 | 4 | 8): number {
    const raw = this.take(size)
    let value = 0
    for (let k = size - 1; k >= 0; k--) value = value * 256 + raw[k]!
    if (!Number.isSafeInteger(value)) this.fail("length too large")
    return value
  }

  private int32(): bigint {
    const raw = this.take(4)
    return BigInt(raw[0]! | (raw[1]! << 8) | (raw[2]! << 16) | (raw[3]! << 24))
  }

  /** A text argument of protocol 0 opcodes: up to the next newline. */
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos)
    if (end < 0) this.fail("truncated pickle: missing end of line")
    const text = latin1(this.bytes.subarray(this.pos, end))
    this.pos = end + 1
    return text
  }

  private push(value: StackItem): void {
    this.stack.push(value)
  }

  private pop(): PickleValue {
    if (this.stack.length === 0) this.fail("malformed pickle: stack underflow")
    const value = this.stack.pop()!
    if (value === MARK) this.fail("malformed pickle: unexpected mark")
    return value
  }

  private top(): PickleValue {
    const value = this.stack[this.stack.length - 1]
    if (value === undefined) this.fail("malformed pickle: stack underflow")
    if (value === MARK) this.fail("malformed pickle: unexpected mark")
    return value
  }

  /** Pops everything down to the last mark, and the mark. */
  private popMark(): Array<PickleValue> {
    let k = this.stack.length - 1
    while (k >= 0 && this.stack[k] !== MARK) k--
    if (k < 0) this.fail("malformed pickle: no mark on the stack")
    const items = this.stack.slice(k + 1) as Array<PickleValue>
    this.stack.length = k
    return items
  }

  private global(module: string, name: string): PickleGlobal {
    const fixedModule = python2Modules.get(module) ?? module
    const qualified = `${fixedModule}.${name}`
    if (!this.allowed.has(qualified)) this.fail(`pickle refers to ${showText(qualified)}, which is not allowed here`)
    return { _tag: "Global", module: fixedModule, name }
  }

  private asGlobal(value: PickleValue, what: string): PickleGlobal {
    if (value === null || typeof value !== "object" || value instanceof Uint8Array || value._tag !== "Global") {
      this.fail(`${what} expects a class, got ${describe(value)}`)
    }
    return value
  }

  private asTuple(value: PickleValue, what: string): ReadonlyArray<PickleValue> {
    if (value === null || typeof value !== "object" || value instanceof Uint8Array || value._tag !== "Tuple") {
      this.fail(`${what} expects a tuple of arguments, got ${describe(value)}`)
    }
    return value.items
  }

  private instance(cls: PickleGlobal, args: ReadonlyArray<PickleValue>): MutableObject {
    return { _tag: "Object", cls, args, state: undefined }
  }

  /** REDUCE: records `callable(*args)`; `copyreg._reconstructor(cls, object, None)` is an object of `cls`. */
  private reduce(callable: PickleGlobal, args: ReadonlyArray<PickleValue>): MutableObject {
    if (callable.module === "copyreg" && callable.name === "_reconstructor") {
      const [cls, base, state] = args
      if (args.length !== 3 || cls === undefined || base === undefined) this.fail("copyreg._reconstructor expects 3 arguments")
      const baseGlobal = this.asGlobal(base, "copyreg._reconstructor")
      if (baseGlobal.module !== "builtins" || baseGlobal.name !== "object" || state !== null) {
        this.fail("copyreg._reconstructor is only supported for plain objects")
      }
      return this.instance(this.asGlobal(cls, "copyreg._reconstructor"), [])
    }
    return this.instance(callable, args)
  }

  private memoGet(index: number): PickleValue {
    const value = this.memo.get(index)
    if (value === undefined) this.fail(`malformed pickle: memo entry ${index} is missing`)
    return value
  }

  private memoPut(index: number): void {
    this.memo.set(index, this.top())
  }

  private appendTo(target: PickleValue, items: ReadonlyArray<PickleValue>): void {
    if (target !== null && typeof target === "object" && !(target instanceof Uint8Array) && target._tag === "List") {
      const list = (target as MutableList).items
      // One push at a time: spreading a huge APPENDS batch would overflow the call stack.
      for (const item of items) list.push(item)
      return
    }
    this.fail(`APPEND expects a list, got ${describe(target)}`)
  }

  private setItems(target: PickleValue, items: ReadonlyArray<PickleValue>): void {
    if (target === null || typeof target !== "object" || target instanceof Uint8Array || target._tag !== "Dict") {
      this.fail(`SETITEM expects a dict, got ${describe(target)}`)
    }
    if (items.length % 2 !== 0) this.fail("malformed pickle: odd number of items for SETITEMS")
    const dict = target as MutableDict
    for (let k = 0; k < items.length; k += 2) dict.entries.push([items[k]!, items[k + 1]!])
  }

  private addItems(target: PickleValue, items: ReadonlyArray<PickleValue>): void {
    if (target === null || typeof target !== "object" || target instanceof Uint8Array || target._tag !== "Set" || target.frozen) {
      this.fail(`ADDITEMS expects a set, got ${describe(target)}`)
    }
    const set = (target as MutableSet).items
    for (const item of items) set.push(item)
  }

  private float(text: string): number {
    const trimmed = text.trim()
    const special = new Map([["inf", Infinity], ["-inf", -Infinity], ["nan", NaN]])
    const value = special.get(trimmed) ?? Number(trimmed)
    if (Number.isNaN(value) && trimmed !== "nan") this.fail(`bad float literal ${JSON.stringify(trimmed)}`)
    return value
  }

  private int(text: string): bigint {
    const trimmed = text.trim().replace(/L$/, "")
    if (!/^[+-]?\d+$/.test(trimmed)) this.fail(`bad int literal ${JSON.stringify(trimmed)}`)
    return BigInt(trimmed)
  }

  /**
   * LONG1 / LONG4: little-endian two's complement. Read through one hex
   * string, in time linear in the length (shifting a bigint byte by byte is
   * quadratic: 256 KB took 35 s).
   */
  private long(size: number): bigint {
    const raw = this.take(size)
    if (raw.length === 0) return 0n
    const hex = new Array<string>(raw.length)
    for (let k = 0; k < raw.length; k++) hex[raw.length - 1 - k] = hexByte[raw[k]!]!
    let value = BigInt(`0x${hex.join("")}`)
    if (raw[raw.length - 1]! >= 0x80) value -= 1n << BigInt(8 * raw.length)
    return value
  }

  /** STRING: a Python 2 `repr` of a byte string, decoded as Latin-1 text. */
  private quoted(text: string): string {
    const body = text.trim()
    const quote = body[0]
    if (body.length < 2 || (quote !== "'" && quote !== '"') || body[body.length - 1] !== quote) {
      this.fail("STRING expects a quoted literal")
    }
    const escapes: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\n": "" }
    return body.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|[\s\S])/g, (whole, escape: string) => {
      if (escape[0] === "x" && escape.length === 3) return String.fromCharCode(parseInt(escape.slice(1), 16))
      if (/^[0-7]+$/.test(escape)) return String.fromCharCode(parseInt(escape, 8) & 0xff)
      return escapes[escape] ?? whole
    })
  }

  /** UNICODE: raw-unicode-escape text (only \uXXXX and \UXXXXXXXX are escapes). */
  private rawUnicode(text: string): string {
    return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_whole, short?: string, long?: string) =>
      String.fromCodePoint(parseInt(short ?? long!, 16))
    )
  }

  run(): PickleValue {
    for (;;) {
      this.opStart = this.pos
      if (this.pos >= this.bytes.length) this.fail("truncated pickle: no STOP opcode")
      const op = this.u8()
      switch (op) {
        // Framing and protocol.
        case 0x80: {
          const version = this.u8()
          if (version > 5) this.fail(`unsupported pickle protocol ${version}`)
          break
        }
        case 0x95:
          this.uint(8)
          break
        case 0x2e /* . STOP */:
          return this.pop()

        // Stack manipulation.
        case 0x28 /* ( MARK */:
          this.push(MARK)
          break
        case 0x30 /* 0 POP */:
          if (this.stack.length === 0) this.fail("malformed pickle: stack underflow")
          this.stack.pop()
          break
        case 0x31 /* 1 POP_MARK */:
          this.popMark()
          break
        case 0x32 /* 2 DUP */:
          this.push(this.top())
          break

        // Memo.
        case 0x70 /* p PUT */:
          this.memoPut(Number(this.int(this.line())))
          break
        case 0x71 /* q BINPUT */:
          this.memoPut(this.u8())
          break
        case 0x72 /* r LONG_BINPUT */:
          this.memoPut(this.uint(4))
          break
        case 0x94 /* MEMOIZE */:
          this.memoPut(this.memo.size)
          break
        case 0x67 /* g GET */:
          this.push(this.memoGet(Number(this.int(this.line()))))
          break
        case 0x68 /* h BINGET */:
          this.push(this.memoGet(this.u8()))
          break
        case 0x6a /* j LONG_BINGET */:
          this.push(this.memoGet(this.uint(4)))
          break

        // Scalars.
        case 0x4e /* N NONE */:
          this.push(null)
          break
        case 0x88 /* NEWTRUE */:
          this.push(true)
          break
        case 0x89 /* NEWFALSE */:
          this.push(false)
          break
        case 0x49 /* I INT */: {
          const text = this.line()
          this.push(text === "01" ? true : text === "00" ? false : this.int(text))
          break
        }
        case 0x4a /* J BININT */:
          this.push(this.int32())
          break
        case 0x4b /* K BININT1 */:
          this.push(BigInt(this.u8()))
          break
        case 0x4d /* M BININT2 */:
          this.push(BigInt(this.uint(2)))
          break
        case 0x4c /* L LONG */:
          this.push(this.int(this.line()))
          break
        case 0x8a /* LONG1 */:
          this.push(this.long(this.u8()))
          break
        case 0x8b /* LONG4 */:
          this.push(this.long(this.uint(4)))
          break
        case 0x46 /* F FLOAT */:
          this.push(this.float(this.line()))
          break
        case 0x47 /* G BINFLOAT */: {
          const raw = this.take(8)
          this.push(new DataView(raw.buffer, raw.byteOffset, 8).getFloat64(0, false))
          break
        }

        // Text and bytes.
        case 0x53 /* S STRING */:
          this.push(this.quoted(this.line()))
          break
        case 0x54 /* T BINSTRING */:
          this.push(latin1(this.take(this.uint(4))))
          break
        case 0x55 /* U SHORT_BINSTRING */:
          this.push(latin1(this.take(this.u8())))
          break
        case 0x56 /* V UNICODE */:
          this.push(this.rawUnicode(this.line()))
          break
        case 0x58 /* X BINUNICODE */:
          this.push(utf8.decode(this.take(this.uint(4))))
          break
        case 0x8c /* SHORT_BINUNICODE */:
          this.push(utf8.decode(this.take(this.u8())))
          break
        case 0x8d /* BINUNICODE8 */:
          this.push(utf8.decode(this.take(this.uint(8))))
          break
        case 0x42 /* B BINBYTES */:
          this.push(this.take(this.uint(4)).slice())
          break
        case 0x43 /* C SHORT_BINBYTES */:
          this.push(this.take(this.u8()).slice())
          break
        case 0x8e /* BINBYTES8 */:
        case 0x96 /* BYTEARRAY8 */:
          this.push(this.take(this.uint(8)).slice())
          break

        // Containers.
        case 0x29 /* ) EMPTY_TUPLE */:
          this.push({ _tag: "Tuple", items: [] })
          break
        case 0x74 /* t TUPLE */:
          this.push({ _tag: "Tuple", items: this.popMark() })
          break
        case 0x85 /* TUPLE1 */: {
          const a = this.pop()
          this.push({ _tag: "Tuple", items: [a] })
          break
        }
        case 0x86 /* TUPLE2 */: {
          const b = this.pop()
          const a = this.pop()
          this.push({ _tag: "Tuple", items: [a, b] })
          break
        }
        case 0x87 /* TUPLE3 */: {
          const c = this.pop()
          const b = this.pop()
          const a = this.pop()
          this.push({ _tag: "Tuple", items: [a, b, c] })
          break
        }
        case 0x5d /* ] EMPTY_LIST */:
          this.push({ _tag: "List", items: [] } satisfies MutableList)
          break
        case 0x6c /* l LIST */:
          this.push({ _tag: "List", items: this.popMark() } satisfies MutableList)
          break
        case 0x61 /* a APPEND */: {
          const item = this.pop()
          this.appendTo(this.top(), [item])
          break
        }
        case 0x65 /* e APPENDS */: {
          const items = this.popMark()
          this.appendTo(this.top(), items)
          break
        }
        case 0x7d /* } EMPTY_DICT */:
          this.push({ _tag: "Dict", entries: [] } satisfies MutableDict)
          break
        case 0x64 /* d DICT */: {
          const dict: MutableDict = { _tag: "Dict", entries: [] }
          const items = this.popMark()
          this.push(dict)
          this.setItems(dict, items)
          break
        }
        case 0x73 /* s SETITEM */: {
          const value = this.pop()
          const key = this.pop()
          this.setItems(this.top(), [key, value])
          break
        }
        case 0x75 /* u SETITEMS */: {
          const items = this.popMark()
          this.setItems(this.top(), items)
          break
        }
        case 0x8f /* EMPTY_SET */:
          this.push({ _tag: "Set", frozen: false, items: [] } satisfies MutableSet)
          break
        case 0x90 /* ADDITEMS */: {
          const items = this.popMark()
          this.addItems(this.top(), items)
          break
        }
        case 0x91 /* FROZENSET */:
          this.push({ _tag: "Set", frozen: true, items: this.popMark() })
          break

        // Names and (recorded, never performed) calls.
        case 0x63 /* c GLOBAL */: {
          const module = this.line()
          const name = this.line()
          this.push(this.global(module, name))
          break
        }
        case 0x93 /* STACK_GLOBAL */: {
          const name = this.pop()
          const module = this.pop()
          if (typeof module !== "string" || typeof name !== "string") this.fail("STACK_GLOBAL expects two strings")
          this.push(this.global(module, name))
          break
        }
        case 0x52 /* R REDUCE */: {
          const args = this.asTuple(this.pop(), "REDUCE")
          const callable = this.asGlobal(this.pop(), "REDUCE")
          this.push(this.reduce(callable, args))
          break
        }
        case 0x81 /* NEWOBJ */: {
          const args = this.asTuple(this.pop(), "NEWOBJ")
          this.push(this.instance(this.asGlobal(this.pop(), "NEWOBJ"), args))
          break
        }
        case 0x92 /* NEWOBJ_EX */: {
          this.pop() // keyword arguments: recorded classes take none that matter
          const args = this.asTuple(this.pop(), "NEWOBJ_EX")
          this.push(this.instance(this.asGlobal(this.pop(), "NEWOBJ_EX"), args))
          break
        }
        case 0x69 /* i INST */: {
          const module = this.line()
          const name = this.line()
          const cls = this.global(module, name)
          this.push(this.instance(cls, this.popMark()))
          break
        }
        case 0x6f /* o OBJ */: {
          const items = this.popMark()
          const [cls, ...args] = items
          if (cls === undefined) this.fail("OBJ expects a class")
          this.push(this.instance(this.asGlobal(cls, "OBJ"), args))
          break
        }
        case 0x62 /* b BUILD */: {
          const state = this.pop()
          const target = this.top()
          if (target === null || typeof target !== "object" || target instanceof Uint8Array || target._tag !== "Object") {
            this.fail(`BUILD expects an object, got ${describe(target)}`)
          }
          ;(target as MutableObject).state = state
          break
        }

        // Deliberately refused: they hand control to the loader's environment.
        case 0x50 /* P PERSID */:
        case 0x51 /* Q BINPERSID */:
          this.fail("persistent ids are not supported")
        case 0x82 /* EXT1 */:
        case 0x83 /* EXT2 */:
        case 0x84 /* EXT4 */:
          this.fail("the copyreg extension registry is not supported")
        case 0x97 /* NEXT_BUFFER */:
        case 0x98 /* READONLY_BUFFER */:
          this.fail("out-of-band buffers are not supported")
        default:
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, "0")}`)
      }
    }
  }
}
