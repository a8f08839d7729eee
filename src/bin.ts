#!/usr/bin/env node
/**
 * The `lineprof` executable: turns on Node's module compile cache, then loads
 * shell/cli/Main (which runs the command). The cache must be on before the
 * command's code is compiled, so Main is imported dynamically: a static
 * import would be compiled before this line ran. In a build, Main is one
 * bundle (scripts/bundle.ts), read and compiled once per Node version and
 * then taken from the cache.
 */
import * as module from "node:module"

try {
  // Node's own folder under os.tmpdir() unless NODE_COMPILE_CACHE names one; a failure only means no cache.
  module.enableCompileCache?.()
} catch {
  // an old Node or an unwritable folder: compile as usual
}
await import("./shell/cli/Main.ts")
