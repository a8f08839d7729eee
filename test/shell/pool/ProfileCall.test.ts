import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Profile from "../../../src/core/Profile.ts"
import * as Locate from "../../../src/shell/pool/Locate.ts"
import * as ProfileCall from "../../../src/shell/pool/ProfileCall.ts"
import { hitsOf } from "../../fixtures/engine/run.ts"
// This copy is loaded by the test runner (vitest evaluates it itself), as in a user's own tests.
import { run as runnerCopyRun } from "../../fixtures/engine/call/seed.mjs"

const fixtureUrl = (name: string): string =>
  pathToFileURL(fileURLToPath(new URL(`../../fixtures/engine/call/${name}`, import.meta.url))).href

// Loaded by Node itself, as a user's module would be (not through the test runner's transform).
const load = (name: string): Promise<Record<string, any>> => Locate.nativeImport(fixtureUrl(name))

const N = 1000

describe("ProfileCall.profileCall", () => {
  it.effect("the seed: every body line of child and power3 is hit exactly N times; the result is the plain one", () =>
    Effect.gen(function* () {
      const seed = yield* Effect.promise(() => load("seed.mjs"))
      const { result, profile } = yield* ProfileCall.profileCall(seed["run"], N)
      assert.strictEqual(result, seed["run"](N))
      assert.deepStrictEqual(Profile.check(profile), [])
      assert.deepStrictEqual(hitsOf(profile, "child"), { 7: N, 8: N, 9: N })
      assert.deepStrictEqual(hitsOf(profile, "power3"), { 3: N })
      assert.deepStrictEqual(hitsOf(profile, "run"), { 13: 1, 14: N + 1, 15: 1 })
      assert.match(profile.functions[0]!.file, /call\/seed\.mjs$/)
    }))

  it.effect("profileCallWith functions: only the functions named are instrumented; the call's result is the plain one", () =>
    Effect.gen(function* () {
      const seed = yield* Effect.promise(() => load("seed.mjs"))
      const { result, profile } = yield* ProfileCall.profileCallWith({ functions: ["child"] }, seed["run"], N)
      assert.strictEqual(result, seed["run"](N))
      assert.deepStrictEqual(profile.functions.map((fn) => fn.name), ["child"])
      assert.deepStrictEqual(hitsOf(profile, "child"), { 7: N, 8: N, 9: N })
      // Another choice for the same module gets its own instance: everything again.
      const all = yield* ProfileCall.profileCall(seed["run"], 10)
      assert.deepStrictEqual(hitsOf(all.profile, "power3"), { 3: 10 })
    }))

  it.effect("profileCallWith({ timing: 'sampled' }, …): the same hits, a sampled profile of the call; back to exact after", () =>
    Effect.gen(function* () {
      const seed = yield* Effect.promise(() => load("seed.mjs"))
      const exact = yield* ProfileCall.profileCall(seed["run"], N)
      const sampled = yield* ProfileCall.profileCallWith({ timing: "sampled" }, seed["run"], N)
      assert.strictEqual(sampled.result, exact.result)
      for (const name of ["child", "power3", "run"]) assert.deepStrictEqual(hitsOf(sampled.profile, name), hitsOf(exact.profile, name))
      assert.strictEqual(Profile.timingOf(sampled.profile)?.mode, "sampled")
      assert.deepStrictEqual(Profile.check(sampled.profile), [])
      const again = yield* ProfileCall.profileCallWith({ timing: "exact" }, seed["run"], N)
      assert.strictEqual(Profile.timingOf(again.profile)?.mode, "exact")
      assert.deepStrictEqual(hitsOf(again.profile, "child"), hitsOf(exact.profile, "child"))
    }))

  it.effect("each call gets the profile of that call only", () =>
    Effect.gen(function* () {
      const seed = yield* Effect.promise(() => load("seed.mjs"))
      const first = yield* ProfileCall.profileCall(seed["child"], 4)
      const second = yield* ProfileCall.profileCall(seed["child"], 9)
      assert.strictEqual(first.result, 8)
      assert.strictEqual(second.result, 27)
      assert.deepStrictEqual(hitsOf(second.profile, "child"), { 7: 1, 8: 1, 9: 1 })
      assert.deepStrictEqual(hitsOf(second.profile, "power3"), { 3: 1 })
      assert.deepStrictEqual(second.profile.functions.map((fn) => fn.name), ["power3", "child"])
    }))

  it.effect("a function the test runner imported: its module is found and loaded through the hooks", () =>
    Effect.gen(function* () {
      const { result, profile } = yield* ProfileCall.profileCall(runnerCopyRun, N)
      assert.strictEqual(result, runnerCopyRun(N))
      assert.deepStrictEqual(hitsOf(profile, "child"), { 7: N, 8: N, 9: N })
    }))

  it.effect("a CommonJS module", () =>
    Effect.gen(function* () {
      const seed = yield* Effect.promise(() => load("seed.cjs"))
      const run = seed["default"].run
      const { result, profile } = yield* ProfileCall.profileCall(run, N)
      assert.strictEqual(result, run(N))
      assert.deepStrictEqual(hitsOf(profile, "child"), { 7: N, 8: N, 9: N })
      assert.deepStrictEqual(hitsOf(profile, "power3"), { 3: N })
    }))

  it.effect("a TypeScript module: lines are the .ts lines", () =>
    Effect.gen(function* () {
      const typed = yield* Effect.promise(() =>
        Locate.nativeImport(pathToFileURL(fileURLToPath(new URL("../../fixtures/engine/locate/typed.ts", import.meta.url))).href)
      )
      const { result, profile } = yield* ProfileCall.profileCall(typed["scale"] as (n: number) => number, 21)
      assert.strictEqual(result, 42)
      assert.deepStrictEqual(hitsOf(profile, "scale"), { 7: 1 })
    }))

  it.effect("an async function: the result is awaited, and its await line waited", () =>
    Effect.gen(function* () {
      const seed = yield* Effect.promise(() => load("seed.mjs"))
      const { result, profile } = yield* ProfileCall.profileCall(seed["runLater"], 10)
      assert.strictEqual(result, seed["run"](10))
      assert.deepStrictEqual(hitsOf(profile, "child"), { 7: 10, 8: 10, 9: 10 })
      const runLater = profile.functions.find((fn) => fn.name === "runLater")!
      assert.isTrue(runLater.lines[0]!.waitNs > 0n)
    }))

  it.effect("a call that throws fails with CallFailedError, carrying what ran", () =>
    Effect.gen(function* () {
      const seed = yield* Effect.promise(() => load("seed.mjs"))
      const error = yield* Effect.flip(ProfileCall.profileCall(seed["fail"], "no luck"))
      assert.strictEqual(error._tag, "CallFailedError")
      assert.strictEqual(error.message, "fail failed: Error: no luck")
      if (error._tag === "CallFailedError") {
        assert.deepStrictEqual(hitsOf(error.profile, "fail"), { 24: 1 })
        // The thrown value is kept as it was, as `error` and as the standard `cause`.
        assert.instanceOf(error.error, Error)
        assert.strictEqual((error.error as Error).message, "no luck")
        assert.strictEqual(error.cause, error.error)
      }
    }))

  it.effect("a closure is rejected before anything runs", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(ProfileCall.profileCall((n: number) => n + 1, 1))
      assert.strictEqual(error._tag, "NotExportedError")
      assert.match(error.message, /^cannot locate function <anonymous>: /)
    }))

  it("profileCallPromise resolves with the result and the profile", async () => {
    const seed = await load("seed.mjs")
    const { result, profile } = await ProfileCall.profileCallPromise(seed["power3"], 3)
    assert.strictEqual(result, 27)
    assert.deepStrictEqual(hitsOf(profile, "power3"), { 3: 1 })
  })
})
