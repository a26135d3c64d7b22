/**
 * A synced temp file into its place in the store, under its content address. A hard link creates the object only
 * where none is (so `created` is exact); when one is there already, it is kept if it has the right size and
 * `replace` is not asked, else these bytes go over it in one rename (readers see the old file or the new one, never
 * none). The shard folder holding the new name is then fsynced — or, with `defer`, returned as `folder` for the
 * caller to sync (a batch syncs each folder once per group).
 */
import { link, rename, stat, unlink } from "node:fs/promises"
import { dirname } from "node:path"
import type { Sha256 } from "@cargohold/core"
import { errorCode } from "../fs/readStream.js"
import { makeShardDirectory, rememberDir, type StoreLayout } from "./storeLayout.js"

/**
 * Links (or renames) `tempPath` to the object's path; `moved` is called once the temp file's name is gone (linked
 * and dropped, renamed, or dropped for a copy kept).
 */
export const placeObject = async (
  layout: StoreLayout,
  tempPath: string,
  sha256: Sha256,
  size: number,
  options: { readonly replace: boolean; readonly defer: boolean },
  moved: () => void
): Promise<{ created: boolean; kept: boolean; folder?: string }> => {
  const { replace, defer } = options
  /** Removes the temp file's name once the object is in place (linked) or kept. */
  const dropTemp = async (): Promise<void> => {
    await unlink(tempPath).catch((cause) => {
      if (errorCode(cause) !== "ENOENT") throw cause
    })
    moved()
  }
  const target = layout.pathFor(sha256)
  const dir = dirname(target)
  const known = layout.knownDirs
  const sync = layout.syncDirectory
  const ensureDir = async () => {
    await makeShardDirectory(dir, sync)
    rememberDir(known, dir)
  }
  if (!known.has(dir)) await ensureDir()
  /** The new name made durable now, or left to the caller. */
  const placed = async (created: boolean) => {
    if (defer) return { created, kept: false, folder: dir }
    await sync(dir)
    return { created, kept: false }
  }
  /** Puts the temp file over what is there; `created` when nothing was. */
  const renameOver = async (existed: boolean) => {
    await rename(tempPath, target)
    moved()
    return placed(!existed)
  }
  /** An existing file to keep: the right size and no `replace`. */
  const keepable = async () => {
    if (replace) return false
    const existing = await stat(target).catch(() => undefined)
    return existing?.isFile() === true && existing.size === size
  }
  try {
    await link(tempPath, target).catch(async (cause) => {
      if (errorCode(cause) !== "ENOENT") throw cause
      // the shard folder went away since it was cached (someone cleaned up): make it again, once
      known.delete(dir)
      await ensureDir()
      await link(tempPath, target)
    })
  } catch (cause) {
    const code = errorCode(cause)
    if (code === "EEXIST") {
      if (!(await keepable())) return renameOver(true)
      await dropTemp()
      return { created: false, kept: true }
    }
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EXDEV") {
      // no hard links here: learn whether something is there first (`created` may then be wrong only under a
      // concurrent commit of the same bytes, which removes nothing: both are the same verified content)
      const existed = (await stat(target).catch(() => undefined)) !== undefined
      if (existed && (await keepable())) {
        await dropTemp()
        return { created: false, kept: true }
      }
      return renameOver(existed)
    }
    throw cause
  }
  await dropTemp()
  return placed(true)
}
