import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as Profile from "../../../src/core/Profile.ts"
import { fixturesDir, hitsOf, runFixture, statsFileOwner } from "../../fixtures/engine/run.ts"

const N = 500

/** Each (pid, thread) delivered exactly one stats file. */
const owners = (statsFiles: ReadonlyArray<string>): Array<string> => {
  const list = statsFiles.map((name) => {
    const owner = statsFileOwner(name)
    return `${owner.pid}-${owner.threadId}`
  })
  assert.strictEqual(new Set(list).size, list.length, `two stats files for one thread: ${statsFiles.join(", ")}`)
  return list
}

const seedHits = (profile: Profile.Profile, childFirstLine: number, power3Line: number) => {
  assert.deepStrictEqual(hitsOf(profile, "child"), {
    [childFirstLine]: N,
    [childFirstLine + 1]: N,
    [childFirstLine + 2]: N
  })
  assert.deepStrictEqual(hitsOf(profile, "power3"), { [power3Line]: N })
}

describe("Delivery", () => {
  it("a worker thread delivers its own stats file", async () => {
    const run = await runFixture("worker/main.mjs", [String(N)])
    assert.strictEqual(run.code, 0)
    assert.deepStrictEqual(run.stdout.split("\n").slice(1), ["worker exit 0", ""])
    // Thread ids are the process's: lineprof's keeper thread takes one too.
    const threads = owners(run.statsFiles).map((owner) => Number(owner.split("-")[1]))
    assert.strictEqual(threads.length, 2)
    assert.include(threads, 0)
    seedHits(run.merged, 8, 4)
    assert.deepStrictEqual(run.allFiles.filter((name) => name.endsWith(".tmp")), [])
  })

  it("a worker terminate()d mid-work: the main thread delivers its counts so far, once", async () => {
    const run = await runFixture("terminate/main.mjs", [String(N)])
    assert.strictEqual(run.code, 0)
    assert.match(run.stdout, /^worker says \d+\nterminated 1\n$/)
    const threads = owners(run.statsFiles).map((owner) => Number(owner.split("-")[1]))
    assert.isTrue(threads.some((id) => id !== 0))
    seedHits(run.merged, 8, 4)
    // work() was stopped inside Atomics.wait (line 17): the lines up to it ran, the return did not.
    assert.deepStrictEqual(hitsOf(run.merged, "work"), { 14: 1, 15: N + 1, 17: 1 })
  })

  it("a worker started by a worker and terminate()d, and a worker that throws, deliver too", async () => {
    const run = await runFixture("nested/main.mjs", [String(N)])
    assert.strictEqual(run.code, 0)
    assert.deepStrictEqual(run.stdout.split("\n").sort(), ["", "outer exit 0", "thrower error thrown in a worker"])
    const threads = owners(run.statsFiles).map((owner) => Number(owner.split("-")[1]))
    assert.strictEqual(threads.length, 4)
    assert.include(threads, 0)
    // outer, inner and thrower each ran the seed N times.
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 6: 3 * N, 7: 3 * N, 8: 3 * N })
    assert.deepStrictEqual(hitsOf(run.merged, "run"), { 12: 3, 13: 3 * (N + 1), 14: 3 })
  })

  it("a child process killed with SIGTERM delivers, and still dies of the signal", async () => {
    const run = await runFixture("child/main.mjs", [String(N), "SIGTERM"])
    assert.match(run.stdout, /^child says \d+\nchild exit null SIGTERM\n$/)
    assert.strictEqual(run.code, 0)
    assert.strictEqual(owners(run.statsFiles).length, 2)
    seedHits(run.merged, 6, 2)
  })

  it("SIGINT too", async () => {
    const run = await runFixture("child/main.mjs", [String(N), "SIGINT"])
    assert.match(run.stdout, /child exit null SIGINT\n$/)
    seedHits(run.merged, 6, 2)
  })

  it("SIGTERM to the profiled process itself: exit by the signal, stats delivered", async () => {
    const plain = await runFixture("ending/app.mjs", [String(N), "wait"], { profile: false, killWhenReady: "SIGTERM" })
    const run = await runFixture("ending/app.mjs", [String(N), "wait"], { killWhenReady: "SIGTERM" })
    assert.strictEqual(plain.signal, "SIGTERM")
    assert.strictEqual(run.signal, "SIGTERM")
    assert.strictEqual(run.stdout, plain.stdout)
    seedHits(run.merged, 10, 6)
  })

  it("a program with its own SIGTERM handler keeps it: its exit code, and the stats", async () => {
    const plain = await runFixture("ending/app.mjs", [String(N), "handler"], { profile: false, killWhenReady: "SIGTERM" })
    const run = await runFixture("ending/app.mjs", [String(N), "handler"], { killWhenReady: "SIGTERM" })
    assert.strictEqual(plain.code, 7)
    assert.strictEqual(run.code, 7)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.strictEqual(run.statsFiles.length, 1)
    seedHits(run.merged, 10, 6)
  })

  it("a signal-exit style listener still raises the signal again, so the program dies of it", async () => {
    const plain = await runFixture("ending/app.mjs", [String(N), "defer"], { profile: false, killWhenReady: "SIGTERM" })
    const run = await runFixture("ending/app.mjs", [String(N), "defer"], { killWhenReady: "SIGTERM" })
    assert.strictEqual(plain.signal, "SIGTERM")
    assert.strictEqual(run.signal, "SIGTERM")
    seedHits(run.merged, 10, 6)
  })

  it("process.exit inside a profiled function, and an uncaught exception", async () => {
    const exited = await runFixture("ending/app.mjs", [String(N), "exit"])
    assert.strictEqual(exited.code, 5)
    seedHits(exited.merged, 10, 6)
    assert.deepStrictEqual(hitsOf(exited.merged, "finish"), { 16: 1 })

    const plain = await runFixture("ending/app.mjs", [String(N), "throw"], { profile: false })
    const threw = await runFixture("ending/app.mjs", [String(N), "throw"])
    assert.strictEqual(threw.code, 1)
    assert.strictEqual(threw.stdout, plain.stdout)
    // The stack trace names the same line as without lineprof.
    const frameLine = (stderr: string) => /at finish \(.*app\.mjs:(\d+):/.exec(stderr)?.[1]
    assert.strictEqual(frameLine(threw.stderr), "17")
    assert.strictEqual(frameLine(plain.stderr), "17")
    seedHits(threw.merged, 10, 6)
  })

  it("profiled code in the program's own exit handler counts (the final write comes after every exit listener)", async () => {
    const run = await runFixture("ending/app.mjs", [String(N), "exitHandler"])
    assert.strictEqual(run.code, 0)
    assert.match(run.stdout, /in exit handler 64\n$/)
    assert.deepStrictEqual(hitsOf(run.merged, "child"), { 10: N + 1, 11: N + 1, 12: N + 1 })
    assert.deepStrictEqual(hitsOf(run.merged, "power3"), { 6: N + 1 })
  })

  it("a stats folder that cannot be made: one warning line, the program's output and exit code unchanged", async () => {
    const blocker = path.join(mkdtempSync(path.join(tmpdir(), "lineprof-test-")), "a-file")
    writeFileSync(blocker, "")
    const plain = await runFixture("esm/app.mjs", ["10"], { profile: false })
    const run = await runFixture("esm/app.mjs", ["10"], { env: { LINEPROF_DIR: path.join(blocker, "stats") } })
    assert.strictEqual(run.code, plain.code)
    assert.strictEqual(run.stdout, plain.stdout)
    assert.match(run.stderr, /^lineprof: cannot use the stats folder .*a-file\/stats: ENOTDIR\n$/)
  })

  it("SIGKILL loses at most the last flush interval", async () => {
    // The child lives in ../child: include the whole fixture folder.
    const run = await runFixture("kill/main.mjs", [String(N), "child"], { env: { LINEPROF_INTERVAL_MS: "50", LINEPROF_INCLUDE: fixturesDir } })
    assert.strictEqual(run.stdout, "child exit null SIGKILL\n")
    seedHits(run.merged, 6, 2)
  })

  it("SIGKILL: a worker that never yields is flushed by its main thread", async () => {
    const run = await runFixture("kill/main.mjs", [String(N), "busy"], { env: { LINEPROF_INTERVAL_MS: "50" } })
    assert.strictEqual(run.stdout, "child exit null SIGKILL\n")
    seedHits(run.merged, 8, 4)
  })
})
