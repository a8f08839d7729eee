/**
 * Finds where a plain function reference comes from: the URL of the module that
 * defines it and the name under which that module exports it, so that another
 * thread or process (the pool, `profileCall`) can load the same function again
 * by name. A function that cannot be loaded again by name (a closure, a
 * module-private function, a bound function, a class, a built-in) is a typed
 * `NotExportedError` whose one-line message names the function and says why.
 *
 * How: V8 knows each function's `[[FunctionLocation]]` (a script id), which the
 * in-thread inspector exposes through `Runtime.getProperties`; `Debugger.enable`
 * replays `Debugger.scriptParsed` for every loaded script, mapping that id to a
 * URL. The module at that URL is then imported (it is already in the module
 * cache, so nothing runs again) and its exports are searched for `fn` itself.
 * All inspector calls of an in-thread session complete synchronously.
 *
 * `resolveExport(namespace, exportName)` is the inverse, for the loading side.
 */
import * as Schema from "effect/Schema"
import * as Effect from "effect/Effect"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"

/** Where a function can be loaded from: `resolveExport(await import(moduleUrl), exportName) === fn`. */
export interface FunctionLocation {
  /** `file:` URL of the defining module (an ES module, a CommonJS module or a TypeScript file). */
  readonly moduleUrl: string
  /**
   * A key of the module namespace (`"child"`, `"default"`), or `"default.<key>"`
   * for a property of a CommonJS module's `module.exports` that Node's export
   * lexer did not surface as a named export.
   */
  readonly exportName: string
}

/** The function cannot be loaded again by module URL and export name. */
export class NotExportedError extends Schema.TaggedError<NotExportedError>()("NotExportedError", {
  /** The function's name as written (`fn.name`), or `<anonymous>`. */
  functionName: Schema.String,
  /** Why, in a few words, with the module URL where it is known. */
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot locate function ${this.functionName}: ${this.reason}`
  }
}

/** Imports through Node's own loader (and its hooks), also when this module was itself transformed by a bundler or test runner. */
export const nativeImport: (url: string) => Promise<Record<string, unknown>> = createRequire(import.meta.url)(
  "./NativeImport.cjs"
)

/** The value of `exportName` (see `FunctionLocation`) in a module namespace, or undefined. */
export const resolveExport = (namespace: Record<string, unknown>, exportName: string): unknown => {
  if (Object.prototype.hasOwnProperty.call(namespace, exportName) || exportName in namespace) {
    return namespace[exportName]
  }
  if (exportName.startsWith("default.")) {
    const exports = namespace["default"]
    if (exports !== null && (typeof exports === "object" || typeof exports === "function")) {
      return (exports as Record<string, unknown>)[exportName.slice("default.".length)]
    }
  }
  return undefined
}

/** The name under which `namespace` exports `fn`: a named export first, then `default`, then a property of `default`. */
export const findExportName = (namespace: Record<string, unknown>, fn: Function): string | undefined => {
  const named = Object.keys(namespace).filter((key) => key !== "default" && namespace[key] === fn)
  if (named.length > 0) return named.includes(fn.name) ? fn.name : named[0]
  const exports = namespace["default"]
  if (exports === fn) return "default"
  if (exports !== null && (typeof exports === "object" || typeof exports === "function")) {
    const record = exports as Record<string, unknown>
    const keys = Object.keys(record).filter((key) => record[key] === fn)
    if (keys.length > 0) return `default.${keys.includes(fn.name) ? fn.name : keys[0]}`
  }
  return undefined
}

/** The export that has `fn`'s name and arity (see `locate`), or undefined. */
export const findExportByName = (namespace: Record<string, unknown>, fn: Function): string | undefined => {
  if (fn.name === "") return undefined
  const same = (candidate: unknown): boolean =>
    typeof candidate === "function" && candidate.name === fn.name && candidate.length === fn.length
  if (fn.name !== "default" && same(namespace[fn.name])) return fn.name
  const exports = namespace["default"]
  if (same(exports)) return "default"
  if (exports !== null && typeof exports === "object" && same((exports as Record<string, unknown>)[fn.name])) {
    return `default.${fn.name}`
  }
  return undefined
}

/** What the inspector says about a function: its defining script's URL and whether it closes over a function scope. */
interface Inspection {
  readonly kind: "located" | "builtin" | "bound"
  readonly url: string
  readonly closure: boolean
}

type Post = (method: string, params?: object) => any

const inspect = (fn: Function): Inspection => {
  // Loaded lazily: node:inspector throws on a Node built without it, and only Locate needs it.
  const inspector = createRequire(import.meta.url)("node:inspector") as typeof import("node:inspector")
  const session = new inspector.Session()
  session.connect()
  const post: Post = (method, params) => {
    let failure: Error | null = null
    let answer: unknown
    session.post(method, params ?? {}, (error, result) => {
      failure = error
      answer = result
    })
    if (failure !== null) throw failure
    return answer
  }
  const slot = `__lp$locate${Math.random().toString(36).slice(2)}`
  try {
    ;(globalThis as any)[slot] = fn
    const target = post("Runtime.evaluate", { expression: `globalThis.${slot}` }).result
    const own = post("Runtime.getProperties", { objectId: target.objectId, ownProperties: true })
    const internal: Array<any> = own.internalProperties ?? []
    if (internal.some((p) => p.name === "[[TargetFunction]]")) return { kind: "bound", url: "", closure: false }
    const location = internal.find((p) => p.name === "[[FunctionLocation]]")
    if (location === undefined) return { kind: "builtin", url: "", closure: false }
    const scriptId: string = location.value.value.scriptId
    const scopes = internal.find((p) => p.name === "[[Scopes]]")
    let closure = false
    if (scopes?.value?.objectId !== undefined) {
      const list = post("Runtime.getProperties", { objectId: scopes.value.objectId, ownProperties: true })
      const chain = (list.result as Array<any>)
        .filter((p) => /^\d+$/.test(p.name))
        .map((p) => String(p.value?.description))
        .filter((description) => description !== "Global" && description !== "Script")
      // At a module's top level the chain (Global aside) is [Module] for an ES
      // module, [Closure] (the anonymous wrapper) or nothing for CommonJS, and
      // [Block] for a module a test runner (vitest) evaluated itself. Block
      // scopes say nothing either way. A named closure scope (the enclosing
      // function's), a Local, Catch or With scope, or an anonymous closure that
      // is not the CommonJS wrapper means the function was made inside another.
      const anonymous = chain.filter((description) => description === "Closure").length
      closure =
        chain.some((description) => /^(Closure \(|Local|Catch|With)/.test(description)) ||
        (chain.includes("Module") ? anonymous > 0 : anonymous > 1)
    }
    let url = ""
    session.on("Debugger.scriptParsed", (message: any) => {
      if (message.params.scriptId === scriptId) url = message.params.url
    })
    post("Debugger.enable")
    post("Debugger.disable")
    return { kind: "located", url, closure }
  } finally {
    delete (globalThis as any)[slot]
    session.disconnect()
  }
}

const toModuleUrl = (scriptUrl: string): string | undefined => {
  if (scriptUrl.startsWith("file:")) return scriptUrl
  // CommonJS scripts are named by their absolute path.
  if (scriptUrl.startsWith("/") || /^[A-Za-z]:[\\/]/.test(scriptUrl)) return pathToFileURL(scriptUrl).href
  return undefined
}

/** Finds the module and export name of `fn`; fails with `NotExportedError` when it cannot be loaded again by name. */
export const locate: (fn: unknown) => Effect.Effect<FunctionLocation, NotExportedError> = Effect.fn("lineprof.locate")(
  function* (fn: unknown) {
    if (typeof fn !== "function") {
      return yield* new NotExportedError({ functionName: String(fn), reason: `it is a ${typeof fn}, not a function` })
    }
    const functionName = fn.name === "" ? "<anonymous>" : fn.name
    const fail = (reason: string) => new NotExportedError({ functionName, reason })
    if (/^class\b/.test(Function.prototype.toString.call(fn))) {
      return yield* fail("it is a class, not a function that can be called")
    }
    const inspection = yield* Effect.try({
      try: () => inspect(fn),
      catch: (error) => fail(`the inspector is not available (${String((error as Error)?.message ?? error)})`)
    })
    if (inspection.kind === "bound") return yield* fail("it is a bound function; pass the exported function itself")
    if (inspection.kind === "builtin") return yield* fail("it is a built-in function with no source module")
    const moduleUrl = toModuleUrl(inspection.url)
    if (moduleUrl === undefined) {
      const where = inspection.url === "" ? "code with no file (eval, new Function or a REPL)" : inspection.url
      return yield* fail(`it is defined in ${where}, not in a module file`)
    }
    const namespace = yield* Effect.tryPromise({
      try: () => nativeImport(moduleUrl),
      catch: (error) => fail(`its module ${moduleUrl} cannot be imported (${String((error as Error)?.message ?? error)})`)
    })
    // When the module in the cache is not the instance `fn` came from (a test
    // runner or bundler loaded its own copy), the same top-level function is
    // recognised by its name and arity.
    const exportName = findExportName(namespace, fn) ?? (inspection.closure ? undefined : findExportByName(namespace, fn))
    if (exportName === undefined) {
      return yield* fail(
        inspection.closure
          ? `it is a closure inside another function in ${moduleUrl}; only a module's exports can be loaded again`
          : `it is not exported by ${moduleUrl}; export it (named or default) so it can be loaded again`
      )
    }
    return { moduleUrl, exportName }
  }
)
