import { assert, describe, it } from "@effect/vitest"
import * as Counters from "../../src/core/Counters.ts"
import * as Profile from "../../src/core/Profile.ts"

const registration: Counters.FileRegistration = {
  file: "/app/a.js",
  fileHash: "x",
  sourceText: "function f() {\r\n  a()\u2028  b()\n}\n",
  functions: [{ name: "f", firstLine: 1, lastLine: 4, lines: [2, 3], slots: [1, 2] }]
}

describe("Counters.profileFrom", () => {
  it("rounds to integer ns, clamps negative compensated values to 0, and takes the source lines as Node counts them", () => {
    const profile = Counters.profileFrom([registration], [0, 2, 1], [0, 10.6, -3.2], [0, 0.4, 7])
    assert.deepStrictEqual(profile, Profile.make([{
      file: "/app/a.js",
      name: "f",
      firstLine: 1,
      lastLine: 4,
      fileHash: "x",
      source: ["function f() {", "  a()", "  b()", "}"],
      lines: [Profile.makeLine(2, { hits: 2n, timeNs: 11n, waitNs: 0n }), Profile.makeLine(3, { hits: 1n, timeNs: 0n, waitNs: 7n })]
    }]))
    assert.deepStrictEqual(Profile.check(profile), [])
  })

  it("lists a function that never ran only with includeUncalled", () => {
    assert.deepStrictEqual(Counters.profileFrom([registration], [0, 0, 0], [0, 0, 0], [0, 0, 0]), Profile.empty)
    const all = Counters.profileFrom([registration], [0, 0, 0], [0, 0, 0], [0, 0, 0], { includeUncalled: true })
    assert.deepStrictEqual(all.functions.map((fn) => [fn.name, fn.lines.length]), [["f", 0]])
  })

  it("reads the sampled-timing header in slot 0; exact otherwise", () => {
    assert.deepStrictEqual(Counters.timingFrom([0, 5], [0, 1]), Profile.exactTiming)
    assert.deepStrictEqual(Counters.timingFrom([41, 5], [250_000, 1]), { mode: "sampled", intervalNs: 250_000, samples: 40n })
    const sampled = Counters.profileFrom([registration], [3, 2, 1], [1_000_000, 10, 0], [0, 0, 0])
    assert.deepStrictEqual(Profile.timingOf(sampled), { mode: "sampled", intervalNs: 1_000_000, samples: 2n })
  })

  it("uses the caller's linesOf when given", () => {
    const seen: Array<string> = []
    Counters.profileFrom([registration], [0, 1, 0], [0, 0, 0], [0, 0, 0], {
      linesOf: (entry) => {
        seen.push(entry.file)
        return Counters.sourceLines(entry)
      }
    })
    assert.deepStrictEqual(seen, ["/app/a.js"])
  })
})
