import { assert, describe, it } from "@effect/vitest"
import * as Recorder from "../../../src/shell/record/Recorder.ts"
import * as Portable from "../../../src/shell/runners/Portable.ts"
import { lineprof } from "../../../src/shell/runners/Vite.ts"
import { notRecording, withEnv } from "./env.ts"


const server = { environment: { config: { consumer: "server" } } }
const client = { environment: { config: { consumer: "client" } } }

/**
 * A plugin as Vite starts it (configResolved), under vitest (configureVitest) unless `vitest` is false, and its
 * transform (in Vite's server environment unless told) and cache-key functions.
 */
const startPlugin = (options: { readonly vitest?: boolean; readonly browser?: boolean } = {}) => {
  const plugin = lineprof()
  ;(plugin.configResolved as () => void)()
  const transform = (code: string, id: string, context: object = server) =>
    (plugin.transform as { handler: Function }).handler.call(context, code, id, {})
  let generate: ((context: { id: string }) => unknown) | undefined
  if (options.vitest !== false) {
    plugin.configureVitest({
      defineCacheKeyGenerator: (callback) => (generate = callback),
      project: { config: { browser: { enabled: options.browser === true } } }
    })
  }
  return { plugin, transform, cacheKey: (id: string) => generate!({ id }) }
}

const source = "export function double(x: number): number {\n  return 2 * x\n}\n"

/**
 * LINEPROF_INCLUDE set, and this thread's recorder installed first: the plugin then finds lineprof recording and
 * leaves the recorder as it is (it would otherwise start one, with delivery, as without the preload).
 */
const recording = <A>(body: () => A): A => {
  Recorder.install({ compensate: false })
  return withEnv({ ...notRecording, LINEPROF_INCLUDE: "/project/src/**" }, body)
}

describe("lineprof/vite", () => {
  it("a pre plugin, for serve mode only", () => {
    const plugin = lineprof()
    assert.strictEqual(plugin.name, "lineprof")
    assert.strictEqual(plugin.enforce, "pre")
    assert.strictEqual(plugin.apply, "serve")
  })

  it("does nothing when lineprof is not recording (no LINEPROF_* set, no recorder)", () => {
    // The first test of the file, before any installs the recorder.
    assert.isFalse(Recorder.isInstalled())
    withEnv(notRecording, () => {
      const { transform, cacheKey } = startPlugin()
      assert.strictEqual(transform(source, "/project/src/double.ts"), null)
      assert.strictEqual(cacheKey("/project/src/double.ts"), undefined)
    })
  })

  it("when recording: instruments the selected JS/TS files, with a map, and keys vitest's module cache by lineprof's state", () => {
    recording(() => {
      const { transform, cacheKey } = startPlugin()
      const result = transform(source, "/project/src/double.ts")
      assert.include(result.code, "__lp$h(__lp$l,__lp$l=__lp$b+0,__lp$t)")
      assert.deepStrictEqual(result.map.sources, ["/project/src/double.ts"])
      assert.strictEqual(cacheKey("/project/src/double.ts"), Portable.cacheKey)
      // Not selected, not a file as written, not JS/TS: unchanged and keyed as without lineprof.
      for (const id of ["/project/test/double.ts", "/project/src/double.ts?raw", "\0virtual:double.ts", "/project/src/view.tsx", "/project/node_modules/x/index.js"]) {
        assert.strictEqual(transform(source, id), null, id)
      }
      assert.strictEqual(cacheKey("/project/test/double.ts"), undefined)
    })
  })

  it("only code that runs in Node: server environments; client ones only under vitest outside browser mode (jsdom)", () => {
    recording(() => {
      const id = "/project/src/double.ts"
      const devServer = startPlugin({ vitest: false })
      assert.isNotNull(devServer.transform(source, id, server))
      assert.strictEqual(devServer.transform(source, id, client), null)
      // Vite before the environment API says `ssr` in the options.
      assert.strictEqual((devServer.plugin.transform as { handler: Function }).handler.call({}, source, id, { ssr: false }), null)
      assert.isNotNull((devServer.plugin.transform as { handler: Function }).handler.call({}, source, id, { ssr: true }))
      assert.isNotNull(startPlugin().transform(source, id, client))
      assert.strictEqual(startPlugin({ browser: true }).transform(source, id, client), null)
    })
  })

  it("a file that does not parse runs unprofiled, with one line on stderr naming it", () => {
    recording(() => {
      const { transform } = startPlugin()
      const written: Array<string> = []
      const write = process.stderr.write
      process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write
      try {
        assert.strictEqual(transform("export function (\n", "/project/src/broken.ts"), null)
      } finally {
        process.stderr.write = write
      }
      assert.strictEqual(written.length, 1)
      assert.match(written[0]!, /^lineprof: \/project\/src\/broken\.ts:1:\d+: cannot parse: .* \(loaded without profiling\)\n$/)
    })
  })
})
