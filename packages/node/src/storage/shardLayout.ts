/**
 * How a filesystem store spreads its objects over folders, and how a store says which way it does.
 *
 * A store made by this version puts an object at `<root>/ab/<sha256>`: one level of at most 256 folders (the
 * layout of pulpcore's artifact store and of git's objects). Stores made before it use two levels,
 * `<root>/ab/cd/<sha256>` (up to 65,536 folders), and keep them. Why one level: in a fresh store nearly every new
 * object of a two-level store made a folder of its own — a directory inode allocated, and its parent fsynced,
 * per artifact — which cost more than the file itself on ext4 (`perf`: inode allocation was 45 % of a small-file
 * batch's CPU, half of it for the folders). With 256 folders a batch stops making folders after its first few
 * hundred artifacts, and the folder fsyncs of a commit group share folders. At 10 million artifacts a folder holds
 * ≈ 39,000 names, which ext4's and XFS's hashed directories look up in constant time.
 *
 * The store records its layout in `<root>/.layout` (JSON, `{"shardLevels":1}`), written once, durably, when the
 * store is first opened by a version that knows of it. A store without that file is judged by what it holds:
 * two-hex sub-folders in its shard folders (a store of an earlier version) keep the two-level layout; objects
 * directly in them, or nothing at all, mean one level; both at once is an error to settle by hand. The file,
 * once there, decides: a store is never read with the other layout.
 */
import type { Dirent } from "node:fs"
import { link, opendir, readdir, readFile, rename, stat, unlink } from "node:fs/promises"
import { join } from "node:path"
import type { Sha256 } from "@cargohold/core"
import { Either, Schema } from "effect"
import { errorCode } from "../fs/readStream.js"
import { openDescriptor } from "./descriptor.js"
import { syncDirectoryOnce } from "./directorySync.js"
import { ownedName } from "./tempOwners.js"

/** Folder levels between the store's root and an object: 1 (`ab/`) or 2 (`ab/cd/`, stores of earlier versions). */
export const ShardLevels = Schema.Literal(1, 2)
export type ShardLevels = typeof ShardLevels.Type

/** The content of `<root>/.layout`. */
const LayoutFile = Schema.Struct({ shardLevels: ShardLevels })
type LayoutFile = typeof LayoutFile.Type

/** The name of the file that records a store's layout. */
const layoutFileName = ".layout"

/** The layout of a store this version creates. */
const newStoreLevels: ShardLevels = 1

/** An object's key (its path below the root, `/`-separated) in a store of `levels`. */
export const keyFor = (levels: ShardLevels, sha256: Sha256): string =>
  levels === 1 ? `${sha256.slice(0, 2)}/${sha256}` : `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`

const shardName = /^[0-9a-f]{2}$/
const objectName = /^[0-9a-f]{64}$/

/** Whether `entry` (in `dir`) is a folder, following a symbolic link (shard folders may be links to other disks). */
const isFolder = async (dir: string, entry: Dirent): Promise<boolean> => {
  if (entry.isDirectory()) return true
  if (!entry.isSymbolicLink()) return false
  return (await stat(join(dir, entry.name)).catch(() => undefined))?.isDirectory() === true
}

/**
 * What one top-level shard folder shows: `2` for a two-hex sub-folder, `1` for an object named by its sha256 that
 * starts with the folder's name; anything else (`.DS_Store`, a README, an empty folder) is no evidence.
 */
const evidenceIn = async (folder: string, name: string): Promise<ShardLevels | undefined> => {
  const dir = await opendir(folder)
  try {
    // entries are read lazily: the first piece of evidence ends the scan of this folder
    for await (const entry of dir) {
      if (shardName.test(entry.name) && (await isFolder(folder, entry))) return 2
      if (entry.isFile() && objectName.test(entry.name) && entry.name.startsWith(name)) return 1
    }
    return undefined
  } finally {
    await dir.close().catch(() => undefined)
  }
}

/**
 * What a store without a layout file holds: `2` when its shard folders hold two-hex sub-folders (a store of an
 * earlier version), `1` when they hold objects directly, or when there is no evidence either way (a new store).
 * Evidence of both fails: which objects count would be a guess.
 */
const judgeLevels = async (root: string): Promise<ShardLevels> => {
  const seen = new Set<ShardLevels>()
  for (const top of await readdir(root, { withFileTypes: true })) {
    if (!shardName.test(top.name) || !(await isFolder(root, top))) continue
    const evidence = await evidenceIn(join(root, top.name), top.name)
    if (evidence !== undefined) seen.add(evidence)
  }
  if (seen.size > 1) {
    throw new Error(
      `${root} holds objects both at ab/<sha256> and at ab/cd/<sha256>: write ${join(root, layoutFileName)} by hand ({"shardLevels":1} or {"shardLevels":2}) to say which layout it has`
    )
  }
  if (seen.has(2)) return 2
  return seen.has(1) ? 1 : newStoreLevels
}

/** The layout file, or undefined when there is none; a file that is not a layout fails with what is wrong. */
const readLayoutFile = async (path: string): Promise<LayoutFile | undefined> => {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch (cause) {
    if (errorCode(cause) === "ENOENT") return undefined
    throw cause
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Error(`${path} is not a store layout (not JSON)`)
  }
  // an unknown field may mean something this version does not know: refuse rather than read past it
  const decoded = Schema.decodeUnknownEither(LayoutFile)(json, { onExcessProperty: "error" })
  if (Either.isLeft(decoded)) throw new Error(`${path} is not a store layout this version knows: ${text.trim().slice(0, 200)}`)
  return decoded.right
}

/** No hard links on this filesystem: the layout file is renamed into place instead. */
const noHardLinks = (code: unknown) => code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EXDEV"

/** The root refuses a new name: the layout is used without being recorded (judged alike next time). */
const notWritable = (code: unknown) => code === "EACCES" || code === "EPERM" || code === "EROFS"

/**
 * Puts the synced temp file at `path` unless a layout file is there already (`"taken"`: that one decides): a hard
 * link, or a rename where the filesystem has no hard links (which could replace a file written meanwhile, by a
 * concurrent first open only).
 */
const placeLayoutFile = async (temp: string, path: string): Promise<"placed" | "taken"> => {
  try {
    await link(temp, path)
    return "placed"
  } catch (cause) {
    const code = errorCode(cause)
    if (code === "EEXIST") return "taken"
    if (!noHardLinks(code)) throw cause
    await rename(temp, path)
    return "placed"
  }
}

/**
 * Records `layout` in the layout file, durably: a temp file synced, placed (placeLayoutFile), then the root
 * synced. Returns the layout that holds: the one recorded, or another process's recorded meanwhile.
 */
const recordLayout = async (root: string, tmpDir: string, layout: LayoutFile): Promise<ShardLevels> => {
  const path = join(root, layoutFileName)
  // named after this process (tempOwners.ts): a leftover of a crash is swept by the next open
  const temp = join(tmpDir, ownedName("layout"))
  try {
    const file = await openDescriptor(temp, "wx", 0o444)
    try {
      await file.writeAll(Buffer.from(`${JSON.stringify(layout)}\n`), 0)
      await file.sync()
    } finally {
      await file.close()
    }
    if ((await placeLayoutFile(temp, path)) === "taken") return (await readLayoutFile(path))?.shardLevels ?? layout.shardLevels
  } catch (cause) {
    if (notWritable(errorCode(cause))) return layout.shardLevels
    throw cause
  } finally {
    await unlink(temp).catch(() => undefined)
  }
  await syncDirectoryOnce(root)
  return layout.shardLevels
}

/**
 * The store's layout: read from its layout file, or judged from what it holds and then recorded. Two processes
 * opening one new store at once judge alike; the first link wins and the other reads what it recorded. A root
 * this user may not write keeps an unrecorded layout, judged alike at every open.
 */
export const openLayout = async (root: string, tmpDir: string): Promise<ShardLevels> => {
  const recorded = await readLayoutFile(join(root, layoutFileName))
  if (recorded !== undefined) return recorded.shardLevels
  return recordLayout(root, tmpDir, { shardLevels: await judgeLevels(root) })
}
