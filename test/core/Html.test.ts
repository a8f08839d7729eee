import { readFileSync } from "node:fs"
import { describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Result from "effect/Result"
import { assert } from "vitest"
import * as Lprof from "../../src/core/python/Lprof.ts"
import * as Profile from "../../src/core/Profile.ts"
import * as PythonSource from "../../src/core/python/PythonSource.ts"
import * as Html from "../../src/core/render/Html.ts"

const goldenText = (name: string): string => readFileSync(new URL(`../golden/${name}`, import.meta.url), "utf8")

const fn = (
  name: string,
  file: string,
  firstLine: number,
  lines: ReadonlyArray<readonly [number, bigint, bigint, bigint?]>,
  source?: ReadonlyArray<string>
): Profile.FunctionProfile => ({
  file,
  name,
  firstLine,
  lastLine: source === undefined ? Math.max(firstLine, ...lines.map(([lineNo]) => lineNo)) : firstLine + source.length - 1,
  fileHash: "",
  source,
  lines: lines.map(([lineNo, hits, timeNs, waitNs]) => Profile.makeLine(lineNo, { hits, timeNs, waitNs: waitNs ?? 0n }))
})

/** The seed workload merged from line_profiler's four real dumps, with its source. */
const seedProfile = (): Profile.Profile => {
  const workers = [0, 1, 2, 3].map((n) =>
    Result.getOrThrow(Lprof.decode(readFileSync(new URL(`../golden/worker-${n}.lprof`, import.meta.url))))
  )
  return PythonSource.withSources(Profile.ProfileReducer.combineAll(workers), new Map([["seed_pool.py", goldenText("seed_pool.py")]]))
}

/** Function names in the order of the list at the top of the page. */
const listedNames = (html: string): Array<string> => {
  const nav = html.slice(html.indexOf('<nav id="functions">'), html.indexOf("</nav>"))
  return [...nav.matchAll(/<a href="#f\d+">([^<]*)<\/a>/g)].map((match) => match[1]!)
}

/** The section of the function with the given anchor id. */
const sectionOf = (html: string, id: string): string => {
  const start = html.indexOf(`<section id="${id}">`)
  assert.isAtLeast(start, 0, `no section ${id}`)
  return html.slice(start, html.indexOf("</section>", start))
}

const allowedTags = new Set([
  "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "nav", "main",
  "section", "table", "thead", "tbody", "tr", "th", "td", "a", "i", "span", "code"
])

describe("Html.render", () => {
  it("sampled timing: says so under the title and greys the times of lines with too few samples; exact pages keep their bytes", () => {
    const lines: ReadonlyArray<readonly [number, bigint, bigint]> = [[2, 10n, 50_000_000n], [3, 10n, 3_000_000n]]
    const functions = [fn("f", "/app/a.js", 1, lines, ["function f() {", "  many()", "  few()", "}"])]
    const exact = Html.render(Profile.make(functions))
    const sampled = Html.render(Profile.make(functions, { mode: "sampled", intervalNs: 1_000_000, samples: 53n }))
    assert.notInclude(exact, "class=few")
    assert.notInclude(exact, "td.few")
    assert.include(sampled, "Timing: sampled, every 1 ms on average, 53 samples")
    const section = sectionOf(sampled, "f1")
    assert.include(section, `<td class=few title="3000000 ns from about 3 samples: too few to trust">`)
    assert.notInclude(section, `50000000 ns from about`)
    assert.strictEqual(sampled.match(/class=few/g)?.length, 1)
  })

  it("lists functions by total time, largest first, ties in canonical order, and links each to its section", () => {
    const profile = Profile.make([
      fn("small", "a.ts", 1, [[2, 1n, 10n]]),
      fn("tieB", "b.ts", 5, [[6, 1n, 30n]]),
      fn("tieA", "a.ts", 9, [[10, 1n, 20n], [11, 1n, 10n]]),
      fn("never", "c.ts", 1, [])
    ])
    const html = Html.render(profile)
    assert.deepStrictEqual(listedNames(html), ["tieA", "tieB", "small", "never"])
    assert.include(sectionOf(html, "f1"), "<h2>1. tieA</h2>")
    assert.include(sectionOf(html, "f4"), "<h2>4. never</h2>")
  })

  it("skipZero leaves out functions with zero hits, from the list and the sections", () => {
    const profile = Profile.make([fn("ran", "a.ts", 1, [[2, 1n, 10n]]), fn("never", "c.ts", 1, [])])
    assert.deepStrictEqual(listedNames(Html.render(profile, { skipZero: true })), ["ran"])
    assert.notInclude(Html.render(profile, { skipZero: true }), "never")
    assert.include(Html.render(profile, { skipZero: true }), "1 function in 1 file")
    assert.deepStrictEqual(listedNames(Html.render(profile)), ["ran", "never"])
  })

  it("shows each line of a real profile with Hits, Time, Per Hit, % Time and a heat bar", () => {
    const html = Html.render(seedProfile())
    assert.deepStrictEqual(listedNames(html), ["child", "power3"])
    const child = sectionOf(html, "f1")
    // The numbers line_profiler printed for line 15 in merged_native.txt: 20000 hits, 9733066 ns, 486.7 per hit, 53.9 %.
    assert.match(goldenText("merged_native.txt"), /\n {4}15 {5}20000 {4}9733066\.0 {4}486\.7 {5}53\.9 /)
    assert.include(child, `<tr id=f1-L15 class=hot><td>15<td>20000<td title="9733066 ns">9.73 ms<td>487 ns<td>53.9<td><i style="--q:0.539"></i><td>    num = power3(num)`)
    // The def line ran no statement: number columns are one empty span.
    assert.include(child, `<tr><td>13<td colspan=5><td>def child(num):`)
    assert.notInclude(child, "<th>Wait</th>")
    assert.notInclude(child, "Could not find file")
  })

  it("adds a Wait column only to functions whose lines waited", () => {
    const html = Html.render(
      Profile.make([
        fn("sync", "a.ts", 1, [[2, 1n, 100n]], ["function sync() {", "  work()", "}"]),
        fn("async", "a.ts", 10, [[11, 2n, 50n, 7_000_000n]], ["async function async() {", "  await sleep()", "}"])
      ])
    )
    const asyncSection = sectionOf(html, "f2")
    assert.include(asyncSection, "<th>Wait</th>")
    assert.include(asyncSection, `<td title="7000000 ns">7.00 ms<td><i style="--q:1.000"></i><td>  await sleep()`)
    assert.include(asyncSection, `<tr><td>10<td colspan=6><td>async function async() {`)
    assert.notInclude(sectionOf(html, "f1"), "Wait")
  })

  it("tints hot (>= 20 %) and warm (>= 5 %) rows and links the heading to the hottest line", () => {
    const html = Html.render(
      Profile.make([
        fn("mixed", "a.ts", 1, [[2, 1n, 10n], [3, 1n, 60n], [4, 1n, 700n], [5, 1n, 230n]], ["function mixed() {", "  a()", "  b()", "  c()", "  d()", "}"])
      ])
    )
    const mixed = sectionOf(html, "f1")
    // 1 %, 6 %, 70 %, 23 % of 1000 ns.
    assert.include(mixed, "<tr><td>2<td>1<td")
    assert.include(mixed, "<tr class=warm><td>3<td>1<td")
    assert.include(mixed, "<tr id=f1-L4 class=hot><td>4<td>1<td")
    assert.include(mixed, "<tr class=hot><td>5<td>1<td")
    assert.include(mixed, `hottest line <a href="#f1-L4">4</a> (70.0 %)`)
    // A function of one line has nothing to point at.
    assert.notInclude(sectionOf(Html.render(Profile.make([fn("one", "a.ts", 1, [[1, 1n, 5n]], ["one()"])])), "f1"), "hottest")
  })

  it("totals Wait per function in its heading and in the list, where async code would otherwise look cheap", () => {
    const html = Html.render(
      Profile.make([
        fn("sync", "a.ts", 1, [[2, 1n, 9_000n]], ["function sync() {", "  work()", "}"]),
        fn("fetch", "a.ts", 10, [[11, 1n, 50n, 30_000_000n], [12, 1n, 50n, 15_000_000n]], ["async function fetch() {", "  await a()", "  await b()", "}"])
      ])
    )
    const nav = html.slice(html.indexOf('<nav id="functions">'), html.indexOf("</nav>"))
    assert.include(nav, `<th title="time suspended at await / yield">Wait</th>`)
    assert.include(nav, `<td class=n title="45000000 ns">45.0 ms</td></tr>`)
    assert.include(nav, `<td class=n title="0 ns">0</td></tr>`)
    assert.include(sectionOf(html, "f2"), `Wait: <span title="45000000 ns">45.0 ms</span>`)
    assert.notInclude(sectionOf(html, "f1"), "Wait")
    // No Wait column in the list when nothing waited.
    assert.notInclude(Html.render(Profile.make([fn("sync", "a.ts", 1, [[2, 1n, 9_000n]], ["function sync() {", "  work()", "}"])])), "Wait")
  })

  it("says the file could not be found when the profile has no source, and still lists the lines that ran", () => {
    const html = Html.render(Profile.make([fn("ghost", "vanished/deleted_module.py", 3, [[4, 2n, 2000n]])]))
    const ghost = sectionOf(html, "f1")
    assert.include(ghost, "Could not find file <code>vanished/deleted_module.py</code>.")
    assert.include(ghost, `<tr class=hot><td>4<td>2<td title="2000 ns">2.00 \u00b5s<td>1.00 \u00b5s<td>100.0<td><i style="--q:1.000"></i><td></tbody>`)
  })

  it("escapes source, names and files: a script-breaking line is text", () => {
    const evil = "</script><img src=x onerror=alert(1)>"
    const html = Html.render(
      Profile.make([fn(`<b>"name"</b>`, `dir/<i>&'file'.ts`, 1, [[2, 1n, 5n]], ["function x() {", `  const s = "${evil}"`, "}"])])
    )
    assert.include(html, `  const s = &quot;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;`)
    assert.include(html, `<a href="#f1">&lt;b&gt;&quot;name&quot;&lt;/b&gt;</a>`)
    assert.include(html, `dir/&lt;i&gt;&amp;&#39;file&#39;.ts`)
    assert.notInclude(html, "<img")
    assert.notInclude(html, "<script")
    assert.notInclude(html, "<b>")
  })

  it("never lets profile text open a tag or an attribute, whatever it holds", () => {
    const text = fc.string({ unit: fc.constantFrom("<", ">", "&", '"', "'", "/", "=", "a", "s", "i", "m", "g", " ", "\n", "\u2603") })
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text, fc.array(text, { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 4 }), (specs) => {
        const profile = Profile.make(specs.map(([name, file, source], k) => fn(name, file, k * 10 + 1, [[k * 10 + 1, 1n, BigInt(k)]], source)))
        const html = Html.render(profile)
        for (const match of html.matchAll(/<\/?([!a-zA-Z][a-zA-Z0-9]*)/g)) assert.isTrue(allowedTags.has(match[1]!), `tag ${match[1]}`)
        for (const [name, file, source] of specs) {
          assert.include(html, Html.escapeHtml(name))
          assert.include(html, Html.escapeHtml(file))
          for (const line of source) assert.include(html, `<td>${Html.escapeHtml(line)}`)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("is self-contained: no scripts, no external references, a policy that forbids fetching", () => {
    const html = Html.render(seedProfile())
    assert.include(html, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'`)
    assert.notMatch(html, /<script|<link|<img|<iframe|@import|url\(|src=|https?:|\/\//i)
    for (const match of html.matchAll(/href="([^"]*)"/g)) assert.match(match[1]!, /^#/)
  })

  it("stays one list row and one section per function at 2000 functions, with unique anchors", () => {
    const source = Array.from({ length: 12 }, (_, k) => `  line ${k} of the body`)
    const profile = Profile.make(
      Array.from({ length: 2000 }, (_, k) =>
        fn(`fn${k}`, `src/file${k % 50}.ts`, 1 + (k % 40) * 20, [[2 + (k % 40) * 20, BigInt(k), BigInt(k * 1000)]], source)
      )
    )
    const html = Html.render(profile)
    const ids = [...html.matchAll(/<section id="(f\d+)">/g)].map((match) => match[1]!)
    assert.strictEqual(ids.length, 2000)
    assert.strictEqual(new Set(ids).size, 2000)
    const names = listedNames(html)
    assert.strictEqual(names.length, 2000)
    assert.deepStrictEqual(names.slice(0, 3), ["fn1999", "fn1998", "fn1997"])
    // Light: about a kilobyte per 12-line function, no per-function JSON or script.
    assert.isBelow(html.length, 2000 * 1500)
  })

  it("shows files under cwd relative to it, like the text report", () => {
    const html = Html.render(Profile.make([fn("main", "/app/src/main.ts", 1, [[2, 1n, 5n]]), fn("dep", "/lib/dep.js", 1, [[2, 1n, 1n]])]), { cwd: "/app" })
    assert.include(html, "<td class=f>src/main.ts:1</td>")
    assert.include(html, "File: <code>src/main.ts</code>")
    assert.include(html, "<td class=f>/lib/dep.js:1</td>")
  })

  it("tells apart two versions of a function whose file changed between runs", () => {
    const v1 = { ...fn("main", "a.ts", 1, [[2, 1n, 5n]]), fileHash: "1111111111aa" }
    const v2 = { ...fn("main", "a.ts", 1, [[2, 1n, 9n]]), fileHash: "2222222222bb" }
    const html = Html.render(Profile.make([v1, v2, fn("other", "a.ts", 9, [[10, 1n, 1n]])]))
    assert.include(html, "<td class=f>a.ts:1 (version 22222222)</td>")
    assert.include(html, "<td class=f>a.ts:1 (version 11111111)</td>")
    assert.include(html, "<td class=f>a.ts:9</td>")
    assert.include(sectionOf(html, "f1"), "file version <code>22222222</code>")
  })

  it("renders an empty profile as a page that says so", () => {
    const html = Html.render(Profile.empty, { title: "empty <run>" })
    assert.include(html, "<title>empty &lt;run&gt;</title>")
    assert.include(html, "No functions were profiled.")
    assert.notInclude(html, "<section")
  })
})

describe("Html.formatDuration", () => {
  it("uses about three significant digits and the largest unit that fits", () => {
    assert.strictEqual(Html.formatDuration(0), "0")
    assert.strictEqual(Html.formatDuration(0.5), "0.50 ns")
    assert.strictEqual(Html.formatDuration(105.4), "105 ns")
    assert.strictEqual(Html.formatDuration(2909311), "2.91 ms")
    assert.strictEqual(Html.formatDuration(18043102), "18.0 ms")
    assert.strictEqual(Html.formatDuration(12_345_678_901_234_567), "12345679 s")
  })
})
