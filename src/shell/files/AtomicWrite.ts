/**
 * The one synchronous atomic write of lineprof: a temporary sibling is
 * written, fsynced and renamed over the target, so a reader sees the old
 * file or the new one, never a part, and a crash leaves no partial target.
 * On failure the temporary file is removed and the error thrown as Node gave
 * it (its `code` names the errno). Plain node:fs, no Effect: preloads and
 * exit handlers call it before any runtime exists (RawFiles re-exports it
 * beside its Effect twin).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { threadId } from "node:worker_threads"

/** The temporary sibling a write of `path` fills first: hidden, unique to this process, thread and call. */
export const temporaryPathFor = (path: string): string =>
  join(dirname(path), `.${basename(path)}.${process.pid}-${threadId}-${Math.random().toString(36).slice(2, 10)}.tmp`)

/** Writes `content` to `path` atomically (temporary sibling, fsync, rename); `mode` is the new file's (default 0o666 less the umask). */
export const writeFileAtomicSync = (path: string, content: Uint8Array | string, options: { readonly mode?: number } = {}): void => {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content
  const temporaryPath = temporaryPathFor(path)
  try {
    const fd = openSync(temporaryPath, "wx", options.mode ?? 0o666)
    try {
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporaryPath, path)
  } catch (error) {
    rmSync(temporaryPath, { force: true })
    throw error
  }
}
