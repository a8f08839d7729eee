/**
 * The body of the `lineprof` executable (src/bin.ts loads it): with bin.ts,
 * the only module with side effects on import. It runs `Cli.main` on the
 * process's arguments with Node's services and exits with the code `main` decided (the program's own code for `lineprof run`,
 * even when a signal interrupted lineprof while the program was running).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.ts"

let exitCode: number | undefined

// A reader that stops early (`lineprof show big.json | head`, `lineprof run … 2>&1 | head`)
// closes the pipe: what is left for that stream is dropped quietly, as Unix tools do on
// SIGPIPE, instead of dying with a stack trace. lineprof still finishes its work (run:
// write the stats file, remove its temporary folder) and exits with the code it decided;
// exiting on the spot left run's temporary folder behind.
for (const stream of [process.stdout, process.stderr]) {
  let closed = false
  stream.on("error", (error: NodeJS.ErrnoException) => {
    // After EPIPE, Node reports later writes to the closed stream as errors too.
    if (error.code === "EPIPE" || closed) {
      closed = true
      return
    }
    throw error
  })
}

// `run` outlives a signal (it is for the program, and run must collect its stats), so
// NodeRuntime's SIGINT / SIGTERM listeners interrupt its fiber. Every other command
// writes atomically, so it may die of a signal at once, as a plain program does: a
// JavaScript listener would run only after a long synchronous read ends.
const isRun = process.argv.slice(2).find((arg) => !arg.startsWith("-")) === "run"
const signalListeners = (["SIGINT", "SIGTERM"] as const).map((signal) => [signal, process.listeners(signal)] as const)

Cli.main(process.argv.slice(2), Cli.nodeEnvironment(), (code) => {
  exitCode = code
}).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(exitCode ?? (Exit.isSuccess(exit) ? Cli.ExitCode.ok : Cli.ExitCode.interrupted))
  })
)

if (!isRun) {
  for (const [signal, before] of signalListeners) {
    for (const listener of process.listeners(signal)) if (!before.includes(listener)) process.removeListener(signal, listener)
  }
}
