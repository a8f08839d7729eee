/**
 * What the cluster tests share: a PostgreSQL database of their own (created
 * on the server that .ci/postgres starts on 127.0.0.1, dropped afterwards)
 * and runner processes (`lineprof runner` from src/bin.ts) on free loopback
 * ports.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { spawn, type ChildProcess } from "node:child_process"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

/** The server the tests use (LINEPROF_TEST_POSTGRES overrides it), without a database name. */
export const serverUrl = process.env["LINEPROF_TEST_POSTGRES"] ?? "postgres://postgres@127.0.0.1:5432"

const admin = (statement: string): Promise<void> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(statement)
    }).pipe(Effect.scoped, Effect.provide(PgClient.layer({ url: Redacted.make(`${serverUrl}/postgres`) })))
  )

/** A new empty database; `drop` removes it (and ends its connections). */
export const createDatabase = async (): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const name = `lineprof_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  await admin(`CREATE DATABASE "${name}"`)
  return { url: `${serverUrl}/${name}`, drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

export interface RunnerProcess {
  readonly address: string
  readonly process: ChildProcess
  /** What the runner printed on stderr so far. */
  readonly stderr: () => string
  /** SIGKILL, and resolves once it has exited. */
  readonly kill: () => Promise<void>
}

/** Starts `lineprof runner` (the bin at `bin`, src/bin.ts by default) and resolves once it listens. */
export const startRunner = async (
  postgresUrl: string,
  options: { readonly concurrency?: number; readonly bin?: string; readonly cwd?: string } = {}
): Promise<RunnerProcess> => {
  const port = await freePort()
  const address = `127.0.0.1:${port}`
  const child = spawn(
    process.execPath,
    [options.bin ?? join(repoRoot, "src", "bin.ts"), "runner", "--listen", address, "--postgres", postgresUrl, "--concurrency", String(options.concurrency ?? 1)],
    { cwd: options.cwd ?? repoRoot, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } }
  )
  let stderr = ""
  child.stderr!.setEncoding("utf8")
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runner ${address} did not start: ${stderr}`)), 90_000)
    child.stderr!.on("data", (text: string) => {
      stderr += text
      if (stderr.includes(`lineprof runner: listening on ${address}`)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`runner ${address} exited with ${code}: ${stderr}`))
    })
  })
  return {
    address,
    process: child,
    stderr: () => stderr,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      return exited
    }
  }
}

/**
 * Resolves once chunks reach `runnerCount` runners: a runner that just
 * started takes its shards on the cluster's next refresh, and a test that
 * asks for every runner's profile must not race it. Small runs of the seed
 * until one spreads over all runners (or 90 s pass).
 */
export const waitUntilServing = async (postgresUrl: string, runnerCount: number): Promise<void> => {
  const { profileAll } = await import("../../../src/shell/pool/Pool.ts")
  const { layerClient } = await import("../../../src/shell/cluster/Cluster.ts")
  const seed = { moduleUrl: pathToFileURL(join(repoRoot, "examples", "power3.ts")).href, exportName: "child" }
  const inputs = Array.from({ length: 64 }, (_, k) => k)
  const deadline = Date.now() + 90_000
  for (;;) {
    const run = await Effect.runPromise(profileAll(seed, inputs, { chunkSize: 1 }).pipe(Effect.provide(layerClient({ postgresUrl }))))
    if (run.workerProfiles.length >= runnerCount) return
    if (Date.now() > deadline) throw new Error(`only ${run.workerProfiles.length} of ${runnerCount} runners served chunks after 90 s`)
  }
}

/** Polls `probe` every 10 ms until it gives a value (or 60 s pass). */
export const waitFor = async <A>(probe: () => A | undefined): Promise<A> => {
  const deadline = Date.now() + 60_000
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error("waitFor: nothing after 60 s")
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
