#!/usr/bin/env node
/**
 * The `lineprof` executable: turns on Node's module compile cache, then loads
 * shell/cli/Main (which runs the command). The cache must be on before the
 * command's code is compiled, so Main is imported dynamically: a static
 * import would be compiled before this line ran. In a build, Main is one
 * bundle (scripts/bundle.ts), compiled once and then taken from the cache.
 * The cache lives in lineprof's cache folder (`compile/`), or where
 * NODE_COMPILE_CACHE says; `LINEPROF_CACHE=off` leaves it off.
 */
import * as module from "node:module"
import * as path from "node:path"
import * as CacheDir from "./shell/record/CacheDir.ts"

const cacheDir = CacheDir.cacheDir()
if (cacheDir !== undefined) {
  try {
    module.enableCompileCache?.(process.env["NODE_COMPILE_CACHE"] ?? path.join(cacheDir, "compile"))
  } catch {
    // an old Node or an unwritable folder: compile as usual
  }
}
await import("./shell/cli/Main.ts")
