import { assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { createTransformer } from "../../../src/shell/runners/Jest.ts"
import { notRecording, withEnv } from "./env.ts"

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "runners")
const transformer = path.join(fixtures, "fake-transformer.cjs")
const options = { config: { rootDir: fixtures } }
const file = "/project/src/double.ts"
const source = "export function double(x: number): number {\n  const y = 2 * x\n  return y\n}\n"

const recording = { ...notRecording, LINEPROF_INCLUDE: "/project/src/**" }

describe("lineprof/jest", () => {
  it("not recording: the chained transform's output as is", () => {
    withEnv(notRecording, () => {
      const transform = createTransformer({ transformer, transformerConfig: { a: 1 } })
      assert.deepStrictEqual(transform.process!(source, file, options), {
        code: source.replace("const", "let"),
        map: null
      })
    })
  })

  it("recording: the instrumented text goes through the chained transform, and lineprof's map comes back", () => {
    withEnv(recording, () => {
      const transform = createTransformer({ transformer })
      const result = transform.process!(source, file, options) as { code: string; map: { sources: Array<string> } }
      assert.include(result.code, "  let y = 2 * x;__lp$t=__lp$h(__lp$l,__lp$l=__lp$b+1,__lp$t);")
      assert.deepStrictEqual(result.map.sources, [file])
      // A file the selection leaves out goes through unchanged.
      assert.strictEqual((transform.process!(source, "/project/test/a.ts", options) as { code: string }).code, source.replace("const", "let"))
    })
  })

  it("the cache key holds the chained transform's key and lineprof's state", () => {
    const keyWith = (env: Record<string, string | undefined>, transformerConfig: unknown, sourcePath = file) =>
      withEnv(env, () => createTransformer({ transformer, transformerConfig }).getCacheKey!(source, sourcePath, options))
    const plain = keyWith(notRecording, 1)
    assert.strictEqual(keyWith(notRecording, 1), plain)
    assert.notStrictEqual(keyWith(notRecording, 2), plain)
    assert.notStrictEqual(keyWith(recording, 1), plain)
    // Not selected: keyed as without lineprof.
    assert.strictEqual(keyWith(recording, 1, "/project/test/a.ts"), keyWith(notRecording, 1, "/project/test/a.ts"))
  })
})
