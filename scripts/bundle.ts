/**
 * The build's last step (after tsc): replaces the two modules that every
 * start of lineprof loads with single-file bundles, so that Node reads and
 * compiles one file instead of hundreds (effect's dist alone is 599 files):
 *
 * - dist/shell/cli/Main.js, the body of the `lineprof` command (dist/bin.js,
 *   tsc's output, stays a small launcher that turns on the compile cache);
 * - dist/shell/record/register.js, the preload of every profiled process;
 * - dist/shell/record/StatsEncoder.js, which Delivery requires lazily to
 *   write a stats file (effect's Schema behind it).
 *
 * Each bundle is written where tsc put the module it replaces, so the
 * relative URLs its code computes from `import.meta.url` (the register
 * module's path that `run` puts in NODE_OPTIONS, Hooks' lazy require of
 * core/Instrument, Delivery's of core/StatsFile, the instrument cache's
 * fingerprint) still name the same siblings. Everything else in dist/ (the
 * library's entry points, their types, the pool's worker) stays tsc's.
 *
 *   node scripts/bundle.ts [--metafile]   (run from the package root)
 */
import * as esbuild from "esbuild"
import { writeFileSync } from "node:fs"

const entries = [
  { entry: "src/shell/cli/Main.ts", out: "dist/shell/cli/Main.js" },
  { entry: "src/shell/record/register.ts", out: "dist/shell/record/register.js" },
  { entry: "src/shell/record/StatsEncoder.ts", out: "dist/shell/record/StatsEncoder.js" }
]

const metafile = process.argv.includes("--metafile")

for (const { entry, out } of entries) {
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    // Smaller text to read and parse; names are kept so that stack traces (--verbose) still read.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: true,
    // A native addon cannot be bundled; only the lazily required instrumenter uses it.
    external: ["oxc-parser"],
    // CommonJS code inside the bundle may call require(); give it Node's.
    banner: { js: 'import { createRequire as __lineprofCreateRequire } from "node:module"; const require = __lineprofCreateRequire(import.meta.url);' },
    logLevel: "warning",
    metafile
  })
  if (metafile && result.metafile !== undefined) writeFileSync(`${out}.meta.json`, JSON.stringify(result.metafile))
}
