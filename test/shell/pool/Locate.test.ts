import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Locate from "../../../src/shell/pool/Locate.ts"
// This copy is loaded by the test runner (vitest evaluates it itself), not by Node.
import * as runnerCopy from "../../fixtures/engine/locate/named.mjs"

const fixture = (name: string): string =>
  pathToFileURL(fileURLToPath(new URL(`../../fixtures/engine/locate/${name}`, import.meta.url))).href

// The fixtures are loaded by Node itself (not by the test runner's transform), as a user's modules would be.
const load = (name: string) => Locate.nativeImport(fixture(name))

const failure = (fn: unknown) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(Locate.locate(fn))
    assert.strictEqual(error._tag, "NotExportedError")
    assert.notInclude(error.message, "\n")
    return error
  })

describe("Locate.locate", () => {
  it.effect("finds a named export of an ES module", () =>
    Effect.gen(function* () {
      const module = yield* Effect.promise(() => load("named.mjs"))
      const found = yield* Locate.locate(module["child"])
      assert.deepStrictEqual(found, { moduleUrl: fixture("named.mjs"), exportName: "child" })
      const reloaded = yield* Effect.promise(() => Locate.nativeImport(found.moduleUrl))
      assert.strictEqual(Locate.resolveExport(reloaded, found.exportName), module["child"])
    }))

  it.effect("finds a default export", () =>
    Effect.gen(function* () {
      const module = yield* Effect.promise(() => load("named.mjs"))
      assert.deepStrictEqual(yield* Locate.locate(module["default"]), { moduleUrl: fixture("named.mjs"), exportName: "default" })
    }))

  it.effect("finds a CommonJS export and a TypeScript export", () =>
    Effect.gen(function* () {
      const common = yield* Effect.promise(() => load("common.cjs"))
      const power3 = (common["default"] as any).power3
      const found = yield* Locate.locate(power3)
      assert.strictEqual(found.moduleUrl, fixture("common.cjs"))
      assert.strictEqual(Locate.resolveExport(common, found.exportName), power3)
      const typed = yield* Effect.promise(() => load("typed.ts"))
      assert.deepStrictEqual(yield* Locate.locate(typed["scale"]), { moduleUrl: fixture("typed.ts"), exportName: "scale" })
    }))

  it.effect("a function from a copy of the module that a test runner loaded is found by its name and arity", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Locate.locate(runnerCopy.child), { moduleUrl: fixture("named.mjs"), exportName: "child" })
      assert.deepStrictEqual(yield* Locate.locate(runnerCopy.default), { moduleUrl: fixture("named.mjs"), exportName: "default" })
      const closure = yield* failure(runnerCopy.makeClosure())
      assert.match(closure.message, /: it is a closure inside another function in /)
      const hidden = yield* failure(runnerCopy.getHidden())
      assert.match(hidden.message, /^cannot locate function hidden: it is not exported by /)
    }))

  it.effect("rejects a closure, naming it", () =>
    Effect.gen(function* () {
      const module = yield* Effect.promise(() => load("named.mjs"))
      const closure = (module["makeClosure"] as () => Function)()
      const error = yield* failure(closure)
      assert.match(error.message, /^cannot locate function <anonymous>: it is a closure inside another function in file:.*named\.mjs/)
    }))

  it.effect("rejects a function the module does not export", () =>
    Effect.gen(function* () {
      const module = yield* Effect.promise(() => load("named.mjs"))
      const hidden = (module["getHidden"] as () => Function)()
      const error = yield* failure(hidden)
      assert.match(error.message, /^cannot locate function hidden: it is not exported by file:.*named\.mjs/)
    }))

  it.effect("rejects a bound function, a built-in, a class and a non-function", () =>
    Effect.gen(function* () {
      const module = yield* Effect.promise(() => load("named.mjs"))
      assert.strictEqual(
        (yield* failure(module["bound"])).message,
        "cannot locate function bound child: it is a bound function; pass the exported function itself"
      )
      assert.strictEqual(
        (yield* failure(Math.max)).message,
        "cannot locate function max: it is a built-in function with no source module"
      )
      assert.strictEqual(
        (yield* failure(class Point {})).message,
        "cannot locate function Point: it is a class, not a function that can be called"
      )
      assert.strictEqual((yield* failure(42)).message, "cannot locate function 42: it is a number, not a function")
    }))

  it.effect("rejects a function made by new Function", () =>
    Effect.gen(function* () {
      const error = yield* failure(new Function("return 1"))
      assert.match(error.message, /^cannot locate function anonymous: it is defined in code with no file/)
    }))
})
