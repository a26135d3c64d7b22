/**
 * `mkdir -p`, synchronously, that fails instead of spinning: Node 20's own recursive mkdir loops forever at full CPU
 * when a parent exists but refuses the child with ENOENT (procfs), so `--catalog sqlite:///proc/x/c.db` hung. The
 * asynchronous twin is @cargohold/node's fs/directories.ts (this package cannot depend on that one).
 */
import * as fs from "node:fs"
import * as path from "node:path"

export const makeDirectoriesSync = (dir: string, mode?: number): void => {
  const target = path.resolve(dir)
  try {
    fs.mkdirSync(target, { mode })
    return
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "EEXIST") return
    if (code !== "ENOENT" || target === path.dirname(target)) throw error
  }
  makeDirectoriesSync(path.dirname(target), mode)
  try {
    fs.mkdirSync(target, { mode })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  }
}
