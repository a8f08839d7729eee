import { assert, describe, it } from "@effect/vitest"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Cli from "../../../src/shell/cli/Cli.ts"
import { parseListen } from "../../../src/shell/cli/RunnerCommand.ts"

describe("lineprof runner", () => {
  it("parseListen reads HOST:PORT and [IPv6]:PORT, and nothing else", () => {
    assert.deepStrictEqual(parseListen("127.0.0.1:34431"), { host: "127.0.0.1", port: 34431 })
    assert.deepStrictEqual(parseListen("runner-1.internal:80"), { host: "runner-1.internal", port: 80 })
    assert.deepStrictEqual(parseListen("[::1]:9000"), { host: "::1", port: 9000 })
    for (const bad of ["127.0.0.1", ":80", "host:0", "host:65536", "host:80x", "::1:80", ""]) {
      assert.strictEqual(parseListen(bad), undefined, bad)
    }
  })

  const runMain = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) =>
    Effect.gen(function* () {
      let stdout = ""
      let stderr = ""
      const code = yield* Cli.main(argv, {
        ...Cli.nodeEnvironment(),
        env: { NO_COLOR: "1", ...env },
        stdout: { isTTY: false, write: (text: string) => (stdout += text) },
        stderr: { isTTY: false, write: (text: string) => (stderr += text) }
      })
      return { code, stdout, stderr }
    }).pipe(Effect.provide(NodeServices.layer))

  it.effect("a bad --listen: one line, exit 2", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["runner", "--listen", "nowhere", "--postgres", "postgres://127.0.0.1/x"])
      assert.deepStrictEqual(result, { code: Cli.ExitCode.usage, stdout: "", stderr: "lineprof: --listen: expected HOST:PORT, got nowhere\n" })
    }))

  it.effect("no --postgres and no LINEPROF_POSTGRES_URL: one line, exit 2", () =>
    Effect.gen(function* () {
      const result = yield* runMain(["runner", "--listen", "127.0.0.1:34431"])
      assert.deepStrictEqual(result, {
        code: Cli.ExitCode.usage,
        stdout: "",
        stderr: "lineprof: --postgres: give the cluster's PostgreSQL URL (or set LINEPROF_POSTGRES_URL)\n"
      })
    }))

  it.effect("a server that does not answer: one line naming the runner, exit 1", () =>
    Effect.gen(function* () {
      // Nothing listens on port 1 of the loopback address: the connection is refused at once.
      const result = yield* runMain(["runner", "--listen", "127.0.0.1:34432"], { LINEPROF_POSTGRES_URL: "postgres://postgres@127.0.0.1:1/none" })
      assert.strictEqual(result.code, Cli.ExitCode.badInput)
      assert.match(result.stderr, /^lineprof: runner 127\.0\.0\.1:34432: [^\n]*ECONNREFUSED 127\.0\.0\.1:1\n$/)
    }), 60_000)
})
