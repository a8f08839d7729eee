/**
 * `lineprof/vite`: a Vite plugin that instruments modules in Vite's transform
 * pipeline, for code that Vite runs itself rather than Node's loader: vitest
 * (forks and threads pools) and a Vite SSR dev server (`ssrLoadModule`):
 * modules that run in Node, never those a dev server sends to a browser.
 * It does nothing unless lineprof is recording (under `lineprof run`, or
 * with LINEPROF_* set); then every .js/.mjs/.cjs/.ts/.mts/.cts module that
 * LINEPROF_INCLUDE / LINEPROF_EXCLUDE select is instrumented portably (see
 * Portable): the code registers itself with the recorder of whichever thread
 * runs it.
 *
 * It runs before Vite's own transforms (`enforce: "pre"`), on the file's
 * original text, so reported lines are the .ts lines; its source map lets
 * Vite chain the maps, and stack traces stay right. Under vitest it adds
 * lineprof's state to the key of vitest's module cache. Only in `serve` mode
 * (vitest and the dev server): a build would carry this machine's paths.
 */
import type { Plugin } from "vite"
import * as Portable from "./Portable.ts"
import * as Runtime from "./Runtime.ts"

/** The part of vitest's `configureVitest` context used here (vitest is not a dependency). */
interface VitestContext {
  readonly defineCacheKeyGenerator?: (generate: (context: { readonly id: string }) => string | undefined | false | null) => void
  readonly project?: { readonly config?: { readonly browser?: { readonly enabled?: boolean } } }
}

/** What a transform hook's `this` and options say about where the module runs (Vite 6+: the environment; before: `ssr`). */
interface TransformContext {
  readonly environment?: { readonly config?: { readonly consumer?: "client" | "server" } }
}

const warn = (line: string): void => {
  try {
    process.stderr.write(`lineprof: ${line}\n`)
  } catch {
    // stderr closed: nothing to do.
  }
}

/** The plugin: `plugins: [lineprof()]` in vite.config.ts or vitest.config.ts. */
export const lineprof = (): Plugin & { readonly configureVitest: (context: VitestContext) => void } => {
  let selected: ((file: string) => boolean) | undefined
  /** vitest outside browser mode: its "client" environment (jsdom, happy-dom) runs in Node too. */
  let vitestInNode = false
  /** Whether the module runs in Node: a server environment (SSR, vitest), or vitest's client environment; never a browser. */
  const runsInNode = (context: TransformContext | undefined, options: { readonly ssr?: boolean } | undefined): boolean => {
    const consumer = context?.environment?.config?.consumer
    return consumer === undefined ? options?.ssr === true : consumer === "server" || vitestInNode
  }
  return {
    name: "lineprof",
    enforce: "pre",
    apply: "serve",
    configResolved() {
      selected = Portable.selection()
      if (selected !== undefined) Runtime.ensureRecording()
    },
    // vitest keeps transformed modules on disk between runs (fsModuleCache): an instrumented module must not
    // be reused by a run without lineprof, nor a plain one by a run with it.
    configureVitest(context: VitestContext) {
      vitestInNode = context.project?.config?.browser?.enabled !== true
      context.defineCacheKeyGenerator?.(({ id }) => {
        selected ??= Portable.selection()
        const format = Portable.formatOf(id)
        return selected !== undefined && format !== undefined && !id.includes("?") && selected(id) ? Portable.cacheKey : undefined
      })
    },
    transform: {
      filter: { id: /\.[cm]?[jt]s$/ },
      handler(code, id, options) {
        // Queries (`?raw`, `?worker`) and virtual modules (`\0…`) are not files as written; code for a browser
        // cannot reach lineprof's recorder.
        if (selected === undefined || id.includes("?") || id.startsWith("\0") || !runsInNode(this as TransformContext, options)) return null
        const format = Portable.formatOf(id)
        if (format === undefined || !selected(id)) return null
        try {
          const result = Portable.instrument(code, { file: id, format, runtimePath: Portable.runtimePath })
          return result === undefined ? null : { code: result.code, map: result.map }
        } catch (error) {
          // As under Node's loader: the module runs unprofiled, with one line on stderr.
          const message = String((error as Error)?.message ?? error).split("\n")[0]!
          warn(`${message.includes(id) ? message : `${id}: ${message}`} (loaded without profiling)`)
          return null
        }
      }
    }
  }
}

export default lineprof
