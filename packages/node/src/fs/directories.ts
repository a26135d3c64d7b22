/**
 * `mkdir -p` that fails instead of spinning. Node 20's own recursive mkdir loops forever, at full CPU, when a parent
 * exists but refuses the child with ENOENT (procfs: `mkdir("/proc/x", { recursive: true })` never returns), so a
 * `--catalog sqlite:///proc/x/c.db` or a home under /proc hung the process. This one makes each missing folder
 * itself and reports the first refusal. (catalog-sql's sqlite.ts has the synchronous twin: it cannot depend on this
 * package.)
 */
import { mkdir } from "node:fs/promises"
import { dirname, resolve } from "node:path"

const codeOf = (error: unknown): unknown => (error as NodeJS.ErrnoException | null)?.code

/**
 * Creates `dir` and its missing parents; resolves with the first folder it created (undefined when `dir` existed),
 * as `mkdir(dir, { recursive: true })` does. One mkdir when the parent exists (the common case of a new shard folder).
 */
export const makeDirectories = async (dir: string, mode?: number): Promise<string | undefined> => {
  const target = resolve(dir)
  try {
    await mkdir(target, { mode })
    return target
  } catch (error) {
    if (codeOf(error) === "EEXIST") return undefined
    if (codeOf(error) !== "ENOENT" || target === dirname(target)) throw error
  }
  const first = await makeDirectories(dirname(target), mode)
  // a second ENOENT with the parent in place is the refusal Node's own recursive mkdir spins on
  await mkdir(target, { mode }).catch((error: unknown) => {
    if (codeOf(error) !== "EEXIST") throw error
  })
  return first ?? target
}
