/**
 * The module for `node --import lineprof/register` (the package's
 * `./register` export, and what `lineprof run` and the pool put in
 * NODE_OPTIONS / execArgv): it checks the Node version before anything else
 * loads, then imports register.ts, which profiles this thread. On a Node that
 * is too old (< 22.19, where lineprof's modules cannot even load) the program
 * runs unprofiled, and the main thread says so in one line on stderr.
 */
import { isMainThread } from "node:worker_threads"
import * as NodeVersion from "./NodeVersion.ts"

const tooOld = NodeVersion.problem()
if (tooOld !== undefined) {
  if (isMainThread) process.stderr.write(`${tooOld}\n`)
} else {
  await import(`./register${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`)
}
