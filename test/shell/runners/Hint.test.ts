import { assert, describe, it } from "@effect/vitest"
import { runnerHint } from "../../../src/shell/runners/Hint.ts"

describe("runnerHint", () => {
  it("vitest and jest, however they are started, get the config line that profiles them", () => {
    for (const command of ["npx vitest run", "vitest", "/usr/bin/node /p/node_modules/vitest/vitest.mjs run --pool forks"]) {
      assert.include(runnerHint(command), `import lineprof from "lineprof/vite"`, command)
    }
    for (const command of ["npx jest", "node node_modules/jest/bin/jest.js --runInBand", "jest.cjs"]) {
      assert.include(runnerHint(command), `["lineprof/jest", { transformer: "babel-jest" }]`, command)
    }
  })

  it("other commands get none (a word that only contains the name does not count)", () => {
    for (const command of ["node app.js", "npm test", "node vitest-helper.js", "node jester.js", "node src/jest/setup.js"]) {
      assert.strictEqual(runnerHint(command), undefined, command)
    }
  })
})
