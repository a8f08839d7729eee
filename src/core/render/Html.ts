/**
 * The HTML report: one self-contained page, a pure function of the profile.
 *
 * Contract: `render(profile, options)` returns a complete HTML document that
 * needs nothing else: no scripts at all, no external assets, and a Content
 * Security Policy that forbids every fetch, so opening it never touches the
 * network. It opens on the list of functions sorted by total time (largest
 * first; ties keep the profile's canonical order); each entry links to the
 * function's section, where every line of its source shows Hits, Time, Per
 * Hit, % Time (the line's share of the function's time, also drawn as a heat
 * bar), and Wait when any line of the function waited. Hot lines stand out:
 * a row whose share is at least 20 % is tinted red, at least 5 % amber (the
 * thresholds of core/render/Heat, which the text report colours by), and each function's heading links to its
 * hottest line, which matters in a function of thousands of lines. Wait (time
 * suspended at await / yield) is also totalled per function, in the heading
 * and in the list, where async code that mostly waits would otherwise look
 * cheap. Functions without source text list the lines that have stats and say
 * the file could not be found, as line_profiler does.
 *
 * Every piece of text from the profile (source, names, files) is escaped, so a
 * source line `</script><img src=x onerror=alert(1)>` is shown, never parsed.
 * Plain HTML keeps it light at 2000 functions: the browser lays out sections
 * lazily (`content-visibility`), and closing tags that HTML makes optional are
 * left out of the line tables. `content-visibility` also clips what overflows
 * a section, so long source lines wrap instead of
 * running off the page, where nobody could scroll to them.
 *
 * Times are shown in a readable unit per cell (`2.91 ms`); the exact integer
 * nanoseconds are in the cell's tooltip (`title`). Files under `options.cwd`
 * show relative to it; a function recorded from two versions of its file
 * (different `fileHash`) shows each version's hash.
 */
import * as Profile from "../Profile.ts"
import * as Heat from "./Heat.ts"
import { displayPath, probeHint, timingNote } from "./Text.ts"

/** A sampled line with fewer samples than this (its Time over the interval) is marked as too few to trust. */
export const minTrustedSamples = 10

export interface RenderOptions {
  /** Heading and page title; default "lineprof report". */
  readonly title?: string | undefined
  /** The current directory: files under it are shown relative to it, as in the text report. */
  readonly cwd?: string | undefined
  /** Leave out functions with zero hits, as the text report's `skipZero` (line_profiler's stripzeros). */
  readonly skipZero?: boolean | undefined
}

const escapes: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;"
}

/** Escapes text for HTML content and for quoted attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => escapes[ch]!)

const units: ReadonlyArray<readonly [number, string]> = [
  [1e9, "s"],
  [1e6, "ms"],
  [1e3, "\u00b5s"],
  [1, "ns"]
]

/** A duration in nanoseconds as about three significant digits and a unit: `2.91 ms`, `105 ns`. */
export const formatDuration = (ns: number): string => {
  if (ns === 0) return "0"
  const [scale, unit] = units.find(([unitNs]) => ns >= unitNs) ?? [1, "ns"]
  const value = ns / scale
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
  return `${value.toFixed(digits)} ${unit}`
}

/** `part / whole` as a percentage with one decimal; "" when the whole is 0. */
const percent = (part: bigint, whole: bigint): string =>
  whole === 0n ? "" : ((Number(part) / Number(whole)) * 100).toFixed(1)

/** A row is tinted by its heat, with the thresholds the text report colours by. */
const rowClass = (part: bigint, whole: bigint): string => {
  const level = Heat.levelOf(part, whole)
  return level === undefined ? "" : ` class=${level}`
}

/** The style of a time from too few samples (sampled timing only, so exact reports keep their bytes). */
const fewStyle = ".L td.few{color:#8a8a8a;font-style:italic}"

/** Width and strength of a heat bar for a share of `part / whole`. */
const heat = (part: bigint, whole: bigint): string => {
  const share = whole === 0n ? 0 : Number(part) / Number(whole)
  return `<i style="--q:${share.toFixed(3)}"></i>`
}

const styles = `
:root{color-scheme:light;--fg:#1b1f24;--muted:#59636e;--line:#d1d9e0;--bg2:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
header,nav,main{padding:0 24px}
h1{font-size:22px;margin:18px 0 4px}
h2{font-size:17px;margin:0 0 4px}
.meta{color:var(--muted);margin:0 0 12px}
code,.L td,.fl td.n{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
table{border-collapse:collapse}
th{font-weight:600;text-align:right;white-space:nowrap;padding:3px 8px;border-bottom:1px solid var(--line);background:var(--bg2);position:sticky;top:0}
th.t{text-align:left}
.fl{width:100%;margin-bottom:24px}
.fl td{padding:2px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
.fl td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.fl a{color:#0b5cad;text-decoration:none;font-weight:600;word-break:break-word}
.fl a:hover{text-decoration:underline}
.fl .f{color:var(--muted);word-break:break-all}
section{border-top:2px solid var(--line);padding:14px 0 18px;content-visibility:auto;contain-intrinsic-size:auto 320px}
section:target h2{background:#fff3bf}
.L{min-width:60%}
.L td{padding:0 8px;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;vertical-align:top}
.L td:first-child{color:var(--muted)}
.L td:last-child{text-align:left;white-space:pre-wrap;overflow-wrap:anywhere;tab-size:4;width:100%}
.L tr.warm td{background:#fff6dc}
.L tr.hot td{background:#ffe2dc}
.L tr:hover td{background:#eef3f9}
.L tr:target td{background:#fff3bf}
.L tr{scroll-margin-top:32px}
.L td:has(>i){vertical-align:middle}
th.h,td.h{width:96px;min-width:96px}
td.h{padding:3px 8px;vertical-align:middle}
td>i{display:block;height:10px;width:calc(var(--q)*80px);min-width:1px;background:hsl(calc(48 - var(--q)*48) 95% 52%);border-radius:2px}
.missing{color:#9a3412;background:#fff7ed;border:1px solid #fed7aa;padding:6px 10px;border-radius:4px;margin:6px 0}
.top{font-size:12px;margin-left:8px}
`

interface Ranked {
  readonly fn: Profile.FunctionProfile
  /** The file as shown (relative to `cwd` when under it). */
  readonly file: string
  /** Set when another function has the same file, line and name but another file hash (the file changed between runs). */
  readonly version: string | undefined
  readonly id: string
  readonly totalNs: bigint
  /** Time the function spent suspended at await / yield, all lines. */
  readonly waitNs: bigint
}

const waitOf = (fn: Profile.FunctionProfile): bigint => fn.lines.reduce((sum, line) => sum + line.waitNs, 0n)

/** The line with the most time (the first of equals), when the function has more than one line with stats and some time. */
const hottestLine = (fn: Profile.FunctionProfile): Profile.LineStats | undefined => {
  if (fn.lines.length < 2) return undefined
  let hottest = fn.lines[0]!
  for (const line of fn.lines) if (line.timeNs > hottest.timeNs) hottest = line
  return hottest.timeNs > 0n ? hottest : undefined
}

const lineId = (id: string, lineNo: number): string => `${id}-L${lineNo}`

const renderListRow = (entry: Ranked, rank: number, allNs: bigint, withWait: boolean): string => {
  const { fn, file, id, totalNs, waitNs } = entry
  return (
    `<tr><td class=n>${rank}</td><td><a href="#${id}">${escapeHtml(fn.name)}</a></td>` +
    `<td class=f>${escapeHtml(file)}:${fn.firstLine}${entry.version === undefined ? "" : ` (version ${escapeHtml(entry.version)})`}</td>` +
    `<td class=n title="${totalNs} ns">${formatDuration(Number(totalNs))}</td>` +
    `<td class=n>${percent(totalNs, allNs)}</td><td class=h>${heat(totalNs, allNs)}</td>` +
    `<td class=n>${Profile.totalHits(fn)}</td>` +
    (withWait ? `<td class=n title="${waitNs} ns">${formatDuration(Number(waitNs))}</td>` : "") +
    `</tr>`
  )
}

const renderFunction = (entry: Ranked, rank: number, sampledIntervalNs: number | undefined): string => {
  const { fn, file, id, totalNs, waitNs } = entry
  const hasWait = waitNs > 0n
  const hottest = hottestLine(fn)
  const statsByLine = new Map(fn.lines.map((line) => [line.lineNo, line]))
  // Hits, Time, Per Hit, % Time, (Wait,) heat: one empty span for a line that never ran.
  const columns = hasWait ? 6 : 5
  const out: Array<string> = []
  out.push(
    `<section id="${id}"><h2>${rank}. ${escapeHtml(fn.name)}</h2>` +
      `<p class=meta>File: <code>${escapeHtml(file)}</code> \u00b7 line ${fn.firstLine} \u00b7 ` +
      `Total time: <span title="${totalNs} ns">${formatDuration(Number(totalNs))}</span>` +
      (hasWait ? ` \u00b7 Wait: <span title="${waitNs} ns">${formatDuration(Number(waitNs))}</span>` : "") +
      (hottest === undefined
        ? ""
        : ` \u00b7 hottest line <a href="#${lineId(id, hottest.lineNo)}">${hottest.lineNo}</a> (${percent(hottest.timeNs, totalNs)} %)`) +
      (entry.version === undefined ? "" : ` \u00b7 file version <code>${escapeHtml(entry.version)}</code> (the file changed between runs)`) +
      `<a class=top href="#functions">\u2191 list</a></p>`
  )
  if (fn.source === undefined) {
    out.push(
      `<p class=missing>Could not find file <code>${escapeHtml(file)}</code>. ` +
        `Are you sure you are running this program from the same directory that you ran the profiler from? ` +
        `Continuing without the function's contents.</p>`
    )
  }
  out.push(
    `<table class=L><thead><tr><th>Line #</th><th>Hits</th><th>Time</th><th>Per Hit</th><th>% Time</th>` +
      `${hasWait ? "<th>Wait</th>" : ""}<th class=h></th><th class=t>Line Contents</th></tr></thead><tbody>`
  )
  const row = (lineNo: number, text: string): void => {
    const stats = statsByLine.get(lineNo)
    const contents = `<td>${escapeHtml(text)}`
    if (stats === undefined) {
      out.push(`<tr><td>${lineNo}<td colspan=${columns}>${contents}`)
      return
    }
    const perHit = stats.hits === 0n ? "" : formatDuration(Number(stats.timeNs) / Number(stats.hits))
    const anchor = stats === hottest ? ` id=${lineId(id, lineNo)}` : ""
    // Sampled timing: about timeNs / interval samples fell on the line; a few of them say little.
    const samples = sampledIntervalNs === undefined ? undefined : Math.round(Number(stats.timeNs) / sampledIntervalNs)
    const timeCell = samples !== undefined && samples < minTrustedSamples
      ? `<td class=few title="${stats.timeNs} ns from about ${samples} sample${samples === 1 ? "" : "s"}: too few to trust">`
      : `<td title="${stats.timeNs} ns">`
    out.push(
      `<tr${anchor}${rowClass(stats.timeNs, totalNs)}><td>${lineNo}<td>${stats.hits}${timeCell}${formatDuration(Number(stats.timeNs))}` +
        `<td>${perHit}<td>${percent(stats.timeNs, totalNs)}` +
        `${hasWait ? `<td title="${stats.waitNs} ns">${formatDuration(Number(stats.waitNs))}` : ""}` +
        `<td>${heat(stats.timeNs, totalNs)}${contents}`
    )
  }
  if (fn.source === undefined) {
    for (const line of fn.lines) row(line.lineNo, "")
  } else {
    fn.source.forEach((text, k) => row(fn.firstLine + k, text))
    // Stats past the known block (a stale source) still show.
    for (const line of fn.lines) if (line.lineNo < fn.firstLine || line.lineNo >= fn.firstLine + fn.source.length) row(line.lineNo, "")
  }
  out.push(`</tbody></table></section>`)
  // Rows leave out their optional end tags, so a newline between them would
  // become part of the last cell's text: join without one.
  return out.join("")
}

/** Renders the whole report; see the module comment for what it holds. */
export const render = (profile: Profile.Profile, options: RenderOptions = {}): string => {
  const title = options.title ?? "lineprof report"
  // 1. rank functions by total time (stable: ties keep canonical order)
  const sameCode = (fn: Profile.FunctionProfile): string => `${fn.file}\u0000${fn.firstLine}\u0000${fn.name}`
  const versions = new Map<string, number>()
  for (const fn of profile.functions) versions.set(sameCode(fn), (versions.get(sameCode(fn)) ?? 0) + 1)
  const shown = options.skipZero === true ? profile.functions.filter((fn) => Profile.totalHits(fn) > 0n) : profile.functions
  const ranked: Array<Ranked> = shown
    .map((fn, index) => ({ fn, index, totalNs: Profile.totalTimeNs(fn) }))
    .sort((a, b) => (a.totalNs === b.totalNs ? a.index - b.index : a.totalNs > b.totalNs ? -1 : 1))
    .map((entry, k) => ({
      fn: entry.fn,
      file: displayPath(entry.fn.file, options.cwd),
      version: (versions.get(sameCode(entry.fn)) ?? 0) > 1 ? entry.fn.fileHash.slice(0, 8) || "unknown" : undefined,
      totalNs: entry.totalNs,
      waitNs: waitOf(entry.fn),
      id: `f${k + 1}`
    }))
  const allNs = ranked.reduce((sum, entry) => sum + entry.totalNs, 0n)
  const fileCount = new Set(shown.map((fn) => fn.file)).size
  const anyWait = ranked.some((entry) => entry.waitNs > 0n)
  const timing = profile.timing
  const sampledIntervalNs = timing?.mode === "sampled" ? timing.intervalNs : undefined
  const note = timingNote(timing)
  const hint = probeHint(timing)

  // 2. the page: head, the list, then one section a function
  const parts: Array<string> = []
  parts.push(
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">` +
      `<meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<title>${escapeHtml(title)}</title><style>${styles}${sampledIntervalNs === undefined ? "" : fewStyle}</style></head><body>`,
    `<header><h1>${escapeHtml(title)}</h1><p class=meta>${ranked.length} function${ranked.length === 1 ? "" : "s"} in ` +
      `${fileCount} file${fileCount === 1 ? "" : "s"} \u00b7 total time ${formatDuration(Number(allNs))} ` +
      `(line times include callees, so nested functions count in both)</p>` +
      `${note === undefined ? "" : `<p class=meta>${escapeHtml(note)}${sampledIntervalNs === undefined ? "" : `; times from fewer than ${minTrustedSamples} samples are grey`}</p>`}` +
      `${hint === undefined ? "" : `<p class=meta>${escapeHtml(hint)}</p>`}</header>`,
    `<nav id="functions"><h2>Functions by total time</h2>`
  )
  if (ranked.length === 0) {
    parts.push(`<p class=meta>No functions were profiled.</p></nav>`)
  } else {
    parts.push(
      `<table class=fl><thead><tr><th>#</th><th class=t>Function</th><th class=t>File</th><th>Total time</th>` +
        `<th>% of all</th><th class=h></th><th>Hits</th>` +
        `${anyWait ? `<th title="time suspended at await / yield">Wait</th>` : ""}</tr></thead><tbody>`
    )
    ranked.forEach((entry, k) => parts.push(renderListRow(entry, k + 1, allNs, anyWait)))
    parts.push(`</tbody></table></nav>`)
  }
  parts.push(`<main>`)
  ranked.forEach((entry, k) => parts.push(renderFunction(entry, k + 1, sampledIntervalNs)))
  parts.push(`</main></body></html>\n`)
  return parts.join("\n")
}
