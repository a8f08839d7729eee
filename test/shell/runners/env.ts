/** Runs `body` with some environment variables set (a value) or unset (undefined), then puts them back. */
export const withEnv = <A>(env: Record<string, string | undefined>, body: () => A): A => {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]))
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
  apply(env)
  try {
    return body()
  } finally {
    apply(saved)
  }
}

/** Every LINEPROF_* setting unset: lineprof is not recording (unless its recorder is installed). */
export const notRecording: Record<string, string | undefined> = {
  LINEPROF_INCLUDE: undefined,
  LINEPROF_EXCLUDE: undefined,
  LINEPROF_DIR: undefined,
  LINEPROF_INTERVAL_MS: undefined,
  LINEPROF_COMPENSATE: undefined
}
