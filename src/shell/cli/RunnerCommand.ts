/**
 * `lineprof runner --listen HOST:PORT --postgres URL`: a process that serves
 * nothing but lineprof's cluster entity (shell/cluster/Runner). It runs until
 * it is stopped (SIGINT / SIGTERM hand its shards over; SIGKILL leaves them to
 * be taken over by the other runners).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Command, Flag } from "effect/cli"
import { CommandError, UsageError, type Environment } from "./Environment.ts"
import { writeLine } from "./Output.ts"

/** The cluster runner module beside this one's folder, with this module's extension (src: .ts, dist: .js). */
const runnerModuleUrl = new URL(`../cluster/Runner${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url).href

/** `HOST:PORT` (`[::1]:PORT` for IPv6) as host and port, or undefined. */
export const parseListen = (text: string): { readonly host: string; readonly port: number } | undefined => {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { host: match[1] ?? match[2]!, port }
}

/** An error and the causes under it on one line: "PgConnection: Failed to connect: connect ECONNREFUSED 127.0.0.1:1". */
const describeCause = (error: unknown): string => {
  const parts: Array<string> = []
  for (let current = error, depth = 0; current !== undefined && depth < 4; depth++) {
    const text = current instanceof Error || (typeof current === "object" && current !== null && "message" in current)
      ? String((current as { message: unknown }).message)
      : String(current)
    const line = text.replace(/ \(cause: .*$/s, "").split("\n")[0]!
    if (line !== "" && !parts.some((part) => part === line)) parts.push(line)
    current = typeof current === "object" && current !== null && "cause" in current ? (current as { cause: unknown }).cause : undefined
  }
  return parts.join(": ")
}

export const makeRunner = (environment: Environment) =>
  Command.make(
    "runner",
    {
      listen: Flag.String("listen").pipe(Flag.withDescription("HOST:PORT this runner listens on; other runners and clients reach it there")),
      postgres: Flag.String("postgres").pipe(
        Flag.optional,
        Flag.withDescription("PostgreSQL URL of the cluster's storage (default: $LINEPROF_POSTGRES_URL)")
      ),
      concurrency: Flag.Int("concurrency").pipe(Flag.optional, Flag.withDescription("workers of this runner's pool (default: the core count)")),
      isolation: Flag.Literals("isolation", ["thread", "process"]).pipe(
        Flag.withDefault("thread" as const),
        Flag.withDescription("run tasks in worker threads or child processes")
      )
    },
    (input) =>
      Effect.gen(function* () {
        const address = parseListen(input.listen)
        if (address === undefined) return yield* new UsageError({ message: `--listen: expected HOST:PORT, got ${input.listen}` })
        const postgresUrl = Option.getOrUndefined(input.postgres) ?? environment.env["LINEPROF_POSTGRES_URL"]
        if (postgresUrl === undefined || postgresUrl === "") {
          return yield* new UsageError({ message: "--postgres: give the cluster's PostgreSQL URL (or set LINEPROF_POSTGRES_URL)" })
        }
        const concurrency = Option.getOrUndefined(input.concurrency)
        if (concurrency !== undefined && concurrency < 1) {
          return yield* new UsageError({ message: `--concurrency: expected a positive integer, got ${concurrency}` })
        }
        // Loaded here: the cluster and PostgreSQL modules would slow every other command's start.
        // By a computed URL, so that the command's bundle (scripts/bundle.ts) leaves it out: the
        // module is tsc's, beside the pool it runs on, whose worker entry is found by relative URL.
        const Runner: typeof import("../cluster/Runner.ts") = yield* Effect.promise(() => import(runnerModuleUrl))
        const layer = Runner.layer({ ...address, postgresUrl, concurrency, isolation: input.isolation })
        yield* Layer.build(layer).pipe(
          Effect.andThen(writeLine(environment.stderr, `lineprof runner: listening on ${input.listen}`)),
          Effect.andThen(Effect.never),
          Effect.scoped,
          Effect.catchCause((cause) =>
            Effect.fail(new CommandError({ message: `runner ${input.listen}: ${describeCause(Cause.squash(cause))}` }))
          )
        )
      })
  ).pipe(
    Command.withDescription(
      "Serve lineprof's cluster entity: run the chunks that profileAll sends with Cluster.layerClient on this machine's worker pool, " +
        "the child loaded from the same module path as on the caller. Runs until stopped."
    ),
    Command.withShortDescription("serve profileAll chunks on an Effect Cluster"),
    Command.withExamples([
      {
        command: "lineprof runner --listen 10.0.0.5:34431 --postgres postgres://lineprof@db/lineprof",
        description: "a runner of the cluster whose storage is that database"
      }
    ])
  )
