/**
 * The HTML report in a real headless Chromium (Debian's /usr/bin/chromium
 * driven by playwright-core; no browser download, no network).
 *
 * The report is made from real profiles: the seed workload as Python's
 * line_profiler recorded it in four workers (test/golden/worker-*.lprof, read
 * with our .lprof reader and merged), line_profiler 5's synthetic corner cases
 * (test/golden/synthetic_input.json, one of them with a missing source file),
 * and a module whose source line would break an unescaped page
 * (test/fixtures/html/evil.js). Every request the page makes is recorded and
 * aborted, except the report file itself.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { inflateSync } from "node:zlib"
import * as Result from "effect/Result"
import { chromium, type BrowserContext, type Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as Lprof from "../../src/core/python/Lprof.ts"
import * as Profile from "../../src/core/Profile.ts"
import * as PythonSource from "../../src/core/python/PythonSource.ts"
import * as Html from "../../src/core/render/Html.ts"

const chromiumPath = "/usr/bin/chromium"
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]
const evilLine = "</script><img src=x onerror=alert(1)>"
const evilName = "<b onmouseover=alert(2)>render</b>"

const repoFile = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")

/** The profile the report shows: real Python profiles plus the escaping case. */
const reportProfile = (): Profile.Profile => {
  const workers = [0, 1, 2, 3].map((n) =>
    Result.getOrThrow(Lprof.decode(readFileSync(new URL(`../golden/worker-${n}.lprof`, import.meta.url))))
  )
  const synthetic = JSON.parse(repoFile("test/golden/synthetic_input.json")) as {
    functions: Array<[string, number, string, Array<[number, number | string, number | string]>]>
  }
  const syntheticProfile = Profile.make(
    synthetic.functions.map(([file, firstLine, name, lines]) => ({
      file,
      name,
      firstLine,
      lastLine: Math.max(firstLine, ...lines.map(([lineNo]) => lineNo)),
      fileHash: "",
      source: undefined,
      lines: lines.map(([lineNo, hits, timeNs]) => Profile.makeLine(lineNo, { hits: BigInt(hits), timeNs: BigInt(timeNs) }))
    }))
  )
  const evilSource = repoFile("test/fixtures/html/evil.js").split("\n").slice(1, 5)
  const evil = Profile.make([
    {
      file: "test/fixtures/html/evil.js",
      name: evilName,
      firstLine: 2,
      lastLine: 5,
      fileHash: "",
      source: evilSource,
      lines: [Profile.makeLine(3, { hits: 4n, timeNs: 1_500_000n }), Profile.makeLine(4, { hits: 4n, timeNs: 2_500_000n })]
    }
  ])
  const python = PythonSource.withSources(
    Profile.ProfileReducer.combineAll([...workers, syntheticProfile]),
    new Map([
      ["seed_pool.py", repoFile("test/golden/seed_pool.py")],
      ["synthetic_src.py", repoFile("test/golden/synthetic_src.py")]
    ])
  )
  return Profile.ProfileReducer.combineAll([python, evil])
}

// A minimal PNG decoder (8-bit RGB/RGBA, non-interlaced, as Chromium writes
// screenshots), so the test can look at the pixels without a dependency.
const decodePng = (png: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } => {
  let offset = 8
  let width = 0
  let height = 0
  let channels = 0
  const idat: Array<Buffer> = []
  while (offset < png.length) {
    const length = png.readUInt32BE(offset)
    const type = png.toString("latin1", offset + 4, offset + 8)
    const body = png.subarray(offset + 8, offset + 8 + length)
    if (type === "IHDR") {
      width = body.readUInt32BE(0)
      height = body.readUInt32BE(4)
      assert.strictEqual(body[8], 8, "bit depth")
      assert.strictEqual(body[12], 0, "interlace")
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : assert.fail(`colour type ${body[9]}`)
    } else if (type === "IDAT") idat.push(body)
    offset += 12 + length
  }
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * channels
  const pixels = new Uint8Array(height * stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? pixels[y * stride + x - channels]! : 0
      const up = y > 0 ? pixels[(y - 1) * stride + x]! : 0
      const upLeft = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0
      const predictor =
        filter === 0 ? 0
        : filter === 1 ? left
        : filter === 2 ? up
        : filter === 3 ? (left + up) >> 1
        : (() => {
            const p = left + up - upLeft
            const pa = Math.abs(p - left)
            const pb = Math.abs(p - up)
            const pc = Math.abs(p - upLeft)
            return pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft
          })()
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff
    }
  }
  return { width, height, channels, pixels }
}

describe("the HTML report in headless Chromium", () => {
  let workDir: string
  let context: BrowserContext
  let page: Page
  let reportUrl: string
  const requests: Array<string> = []
  const dialogs: Array<string> = []

  const open = async (html: string, name: string): Promise<void> => {
    const path = join(workDir, name)
    writeFileSync(path, html)
    reportUrl = pathToFileURL(path).href
    await page.goto(reportUrl)
  }

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "lineprof-html-"))
    context = await chromium.launchPersistentContext(join(workDir, "profile"), {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
      viewport: { width: 1200, height: 700 },
      offline: true
    })
    // Every request is recorded; only the report document itself may load.
    await context.route("**/*", (route) => {
      const url = route.request().url()
      if (url === reportUrl) return route.continue()
      requests.push(url)
      return route.abort()
    })
    context.on("request", (request) => {
      if (request.url() !== reportUrl) requests.push(request.url())
    })
    page = context.pages()[0] ?? (await context.newPage())
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
  }, 60_000)

  afterAll(async () => {
    await context?.close()
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
  })

  it("opens on the functions sorted by total time, makes no request and runs nothing", { timeout: 60_000 }, async () => {
    await open(Html.render(reportProfile(), { title: "seed workload" }), "report.html")
    assert.strictEqual(await page.title(), "seed workload")
    const rows = await page.locator("#functions tbody tr").evaluateAll((trs) =>
      trs.map((tr) => `${tr.children[1]!.textContent} @ ${tr.children[2]!.textContent}`)
    )
    // By hand from the golden numbers: synthetic child ~12.4e6 s, Grid.walk 0.80 s, the seed's child 18.0 ms,
    // evil 4.0 ms, the seed's power3 2.11 ms, ghost 2 us, then the zero-time functions in canonical order.
    assert.deepStrictEqual(rows, [
      "child @ synthetic_src.py:8",
      "Grid.walk @ synthetic_src.py:15",
      "child @ seed_pool.py:13",
      `${evilName} @ test/fixtures/html/evil.js:2`,
      "power3 @ seed_pool.py:9",
      "ghost @ vanished/deleted_module.py:3",
      "power3 @ synthetic_src.py:4",
      "never_called @ synthetic_src.py:23"
    ])
    assert.deepStrictEqual(requests, [])
    assert.deepStrictEqual(dialogs, [])
  })

  it("shows the numbers line_profiler printed for a line of the merged seed profile", { timeout: 60_000 }, async () => {
    const golden = repoFile("test/golden/merged_native.txt")
    const goldenRow = /\n {4}15 +(\d+) +(\d+)\.0 +[\d.]+ +([\d.]+) {2}(.*)\n/.exec(golden)
    assert.isNotNull(goldenRow)
    const [, hits, timeNs, percent, contents] = goldenRow!
    const row = page.locator("#f3 tbody tr").filter({ has: page.locator("td:first-child", { hasText: /^15$/ }) })
    const cells = await row.locator("td").allTextContents()
    assert.deepStrictEqual(cells, ["15", hits!, "9.73 ms", "487 ns", percent!, "", contents!])
    assert.strictEqual(await row.locator("td").nth(2).getAttribute("title"), `${timeNs} ns`)
    assert.strictEqual(await page.locator("#f3 h2").textContent(), "3. child")
  })

  it("shows a script-breaking source line and an HTML name as text", { timeout: 60_000 }, async () => {
    assert.strictEqual(await page.locator("img, script, b").count(), 0)
    const evilRow = page.locator("#f4 tbody td:last-child", { hasText: evilLine })
    assert.strictEqual(await evilRow.count(), 1)
    assert.strictEqual(await evilRow.textContent(), `  const closing = "${evilLine}"`)
    assert.isTrue(await evilRow.isVisible())
    assert.strictEqual(await page.locator("#f4 h2").textContent(), `4. ${evilName}`)
    assert.deepStrictEqual(requests, [])
    assert.deepStrictEqual(dialogs, [])
  })

  it("says when a source file could not be found", { timeout: 60_000 }, async () => {
    const missing = page.locator("#f6 .missing")
    assert.isTrue(await missing.isVisible())
    assert.include(await missing.textContent(), "Could not find file vanished/deleted_module.py.")
  })

  it("jumps to a function when its entry in the list is clicked", { timeout: 60_000 }, async () => {
    assert.strictEqual(await page.evaluate<number>("window.scrollY"), 0)
    await page.locator("#functions a", { hasText: evilName }).click()
    await page.waitForFunction(`location.hash === "#f4"`)
    // Page-side code as text: the test is compiled without the DOM library.
    const position = await page.evaluate<{ scrollY: number; top: number; height: number; highlight: string }>(`({
      scrollY: window.scrollY,
      top: document.getElementById("f4").getBoundingClientRect().top,
      height: window.innerHeight,
      highlight: getComputedStyle(document.querySelector("#f4 h2")).backgroundColor
    })`)
    assert.isAbove(position.scrollY, 0)
    assert.isAtLeast(position.top, -1)
    assert.isBelow(position.top, position.height / 2)
    assert.strictEqual(position.highlight, "rgb(255, 243, 191)")
  })

  it("renders a screenshot that is not blank", { timeout: 60_000 }, async () => {
    await page.evaluate("window.scrollTo(0, 0)")
    const { width, height, channels, pixels } = decodePng(await page.screenshot())
    assert.strictEqual(width, 1200)
    assert.strictEqual(height, 700)
    const colours = new Set<number>()
    let inked = 0
    for (let k = 0; k < pixels.length; k += channels) {
      const [r, g, b] = [pixels[k]!, pixels[k + 1]!, pixels[k + 2]!]
      colours.add((r << 16) | (g << 8) | b)
      if (r + g + b < 600) inked++
    }
    // Text, heat bars and table rules give hundreds of colours; a blank or
    // unstyled page gives a handful.
    assert.isAbove(colours.size, 100)
    assert.isAbove(inked / (width * height), 0.01)
    // The heat bar of the hottest function is drawn in its red-orange.
    let reddish = 0
    for (let k = 0; k < pixels.length; k += channels) if (pixels[k]! > 200 && pixels[k + 1]! < 120 && pixels[k + 2]! < 90) reddish++
    assert.isAbove(reddish, 200)
  })

  it("tints hot lines and jumps to a function's hottest line from its heading", { timeout: 60_000 }, async () => {
    await page.evaluate("window.scrollTo(0, 0)")
    // The seed's child (f3): line 15 has 53.9 % of its time, line 13 ran nothing.
    const backgroundOf = (lineNo: number) =>
      page.evaluate<string>(
        `getComputedStyle([...document.querySelectorAll("#f3 tbody tr")].find((tr) => tr.firstChild.textContent === "${lineNo}").lastChild).backgroundColor`
      )
    assert.strictEqual(await backgroundOf(15), "rgb(255, 226, 220)")
    assert.strictEqual(await backgroundOf(13), "rgba(0, 0, 0, 0)")
    await page.locator("#f3 .meta a", { hasText: /^15$/ }).click()
    await page.waitForFunction(`location.hash === "#f3-L15"`)
    const position = await page.evaluate<{ top: number; headerBottom: number; height: number; background: string }>(`({
      top: document.getElementById("f3-L15").getBoundingClientRect().top,
      headerBottom: document.querySelector("#f3 thead th").getBoundingClientRect().bottom,
      height: window.innerHeight,
      background: getComputedStyle(document.querySelector("#f3-L15 td")).backgroundColor
    })`)
    // In view, and not under the table's sticky header.
    assert.isAtLeast(position.top, position.headerBottom - 1)
    assert.isBelow(position.top, position.height)
    assert.strictEqual(position.background, "rgb(255, 243, 191)")
  })

  it("wraps a source line too long for the window instead of cutting it off", { timeout: 60_000 }, async () => {
    const longLine = `  const message = "${"lorem ipsum dolor sit amet ".repeat(20)}"`
    await open(
      Html.render(
        Profile.make([
          {
            file: "src/long.ts",
            name: "long",
            firstLine: 1,
            lastLine: 3,
            fileHash: "",
            source: ["function long() {", longLine, "}"],
            lines: [Profile.makeLine(2, { hits: 1n, timeNs: 1000n })]
          }
        ])
      ),
      "long.html"
    )
    const cell = page.locator("#f1 tbody td:last-child", { hasText: "lorem" })
    assert.strictEqual(await cell.textContent(), longLine)
    const box = await page.evaluate<{ right: number; width: number; pageWidth: number }>(`(() => {
      const cell = [...document.querySelectorAll("#f1 tbody td:last-child")].find((td) => td.textContent.includes("lorem"))
      return { right: cell.getBoundingClientRect().right, width: window.innerWidth, pageWidth: document.documentElement.scrollWidth }
    })()`)
    assert.isAtMost(box.right, box.width)
    assert.isAtMost(box.pageWidth, box.width)
  })

  it("stays usable with one function and with 2000", { timeout: 60_000 }, async () => {
    await open(Html.render(Profile.make([{ ...reportProfile().functions.find((fn) => fn.name === "power3")! }])), "one.html")
    assert.strictEqual(await page.locator("#functions tbody tr").count(), 1)
    assert.strictEqual(await page.locator("section").count(), 1)

    const body = Array.from({ length: 10 }, (_, k) => `  step(${k})`)
    const many = Profile.make(
      Array.from({ length: 2000 }, (_, k) => ({
        file: `src/module${k % 40}.ts`,
        name: `task${k}`,
        firstLine: 1 + (k % 50) * 12,
        lastLine: 10 + (k % 50) * 12,
        fileHash: "",
        source: body,
        lines: [Profile.makeLine(2 + (k % 50) * 12, { hits: BigInt(k + 1), timeNs: BigInt((k + 1) * 1000) })]
      }))
    )
    await open(Html.render(many), "many.html")
    assert.strictEqual(await page.locator("#functions tbody tr").count(), 2000)
    assert.strictEqual(await page.locator("section").count(), 2000)
    await page.locator("#functions a", { hasText: /^task0$/ }).click()
    await page.waitForFunction(`location.hash === "#f2000"`)
    const top = await page.evaluate<number>(`document.getElementById("f2000").getBoundingClientRect().top`)
    assert.isAtLeast(top, -1)
    assert.isBelow(top, 700)
    assert.include(await page.locator("#f2000 h2").textContent(), "task0")
    assert.deepStrictEqual(requests, [])
    assert.deepStrictEqual(dialogs, [])
  })
})
