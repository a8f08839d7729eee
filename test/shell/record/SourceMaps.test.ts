import { assert, describe, it } from "@effect/vitest"
import { transformSync } from "esbuild"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import * as Instrument from "../../../src/core/Instrument.ts"
import * as SourceMaps from "../../../src/shell/record/SourceMaps.ts"

const original = [
  "export function square(value: number): number {",
  "  const product = value * value",
  "  return product",
  "}",
  "export function twice(value: number): number {",
  "  return 2 * square(value)",
  "}",
  ""
].join("\n")

/** esbuild's minified build of `original` as `orig.ts`: one line of code and its map. */
const build = () => {
  const built = transformSync(original, { loader: "ts", minify: true, sourcemap: "external", sourcefile: "orig.ts", format: "esm" })
  return { code: built.code, map: JSON.parse(built.map) as Record<string, any> }
}

const withFolder = <A>(body: (dir: string) => A): A => {
  const dir = mkdtempSync(join(tmpdir(), "lineprof-maps-"))
  try {
    return body(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("SourceMaps.readSourceMap", () => {
  it("from a comment naming a file, an inline data: URL (base64 or not), or <file>.map beside it; nothing else", () =>
    withFolder((dir) => {
      const { code, map } = build()
      const url = pathToFileURL(join(dir, "out.js")).href
      writeFileSync(join(dir, "named.map"), JSON.stringify(map))
      const named = SourceMaps.readSourceMap(`${code}//# sourceMappingURL=named.map\n`, url)
      assert.deepStrictEqual([named?.json["sources"], named?.mapUrl, named?.fromComment], [["orig.ts"], `${pathToFileURL(join(dir, "named.map")).href}`, true])
      const base64 = SourceMaps.readSourceMap(`${code}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}`, url)
      assert.deepStrictEqual([base64?.json["names"], base64?.mapUrl], [map["names"], url])
      const escaped = SourceMaps.readSourceMap(`${code}//# sourceMappingURL=data:application/json,${encodeURIComponent(JSON.stringify(map))}`, url)
      assert.deepStrictEqual(escaped?.json["mappings"], map["mappings"])
      assert.isUndefined(SourceMaps.readSourceMap(code, url))
      writeFileSync(join(dir, "out.js.map"), JSON.stringify({ ...map, file: "out.js" }))
      assert.deepStrictEqual(SourceMaps.readSourceMap(code, url)?.fromComment, false)
      writeFileSync(join(dir, "out.js.map"), JSON.stringify({ ...map, file: "other.js" }))
      assert.isUndefined(SourceMaps.readSourceMap(code, url))
      writeFileSync(join(dir, "broken.map"), "{ not json")
      assert.isUndefined(SourceMaps.readSourceMap(`${code}//# sourceMappingURL=broken.map`, url))
      assert.isUndefined(SourceMaps.readSourceMap(`${code}//# sourceMappingURL=missing.map`, url))
      assert.isUndefined(SourceMaps.readSourceMap(`${code}//# sourceMappingURL=https://example.com/x.map`, url))
    }))
})

describe("SourceMaps.instrumentMapped", () => {
  const mapped = (dir: string, map: Record<string, any>) => {
    const { code } = build()
    const url = pathToFileURL(join(dir, "out.js")).href
    return SourceMaps.instrumentMapped(Instrument, code, { url, format: "module", slotBase: 1 }, { json: map, mapUrl: url, fromComment: true })!
  }

  it("one generated line, reported by the original file's lines, names and text", () =>
    withFolder((dir) => {
      const result = mapped(dir, build().map)
      assert.deepStrictEqual(result.files.map((file) => [file.file, file.sourceText === original]), [[join(dir, "orig.ts"), true]])
      // esbuild folded `const product = …; return product` into `return r*r`, mapped to line 3.
      assert.deepStrictEqual(
        result.files[0]!.functions.map((fn) => [fn.name, fn.firstLine, fn.lastLine, fn.lines]),
        [["square", 1, 4, [3]], ["twice", 5, 7, [6]]]
      )
    }))

  it("without text (no sourcesContent, no file on disk): one function per generated function, named by the map", () =>
    withFolder((dir) => {
      const { sourcesContent: _, ...map } = build().map
      const result = mapped(dir, map)
      assert.deepStrictEqual(
        result.files.map((file) => [file.sourceText, file.functions.map((fn) => [fn.name, fn.firstLine, fn.lastLine, fn.lines])]),
        [["", [["square", 3, 3, [3]], ["twice", 6, 6, [6]]]]]
      )
    }))

  it("functions: only those whose original name is selected get probes", () =>
    withFolder((dir) => {
      const { code, map } = build()
      const url = pathToFileURL(join(dir, "out.js")).href
      const raw = { json: map, mapUrl: url, fromComment: true }
      const result = SourceMaps.instrumentMapped(Instrument, code, { url, format: "module", slotBase: 1, selectFunction: (name) => name === "twice" }, raw)!
      assert.deepStrictEqual(result.files[0]!.functions.map((fn) => fn.name), ["twice"])
      assert.isTrue(result.code.startsWith("function n(r){return r*r}"))
    }))
})
