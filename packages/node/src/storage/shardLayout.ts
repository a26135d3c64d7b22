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
 * objects already in two-level folders (a store of an earlier version) keep the two-level layout; an empty store
 * gets one level. The file, once there, decides: a store is never read with the other layout.
 */
import { readdir, readFile, rename, unlink, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Sha256 } from "@cargohold/core"
import { Either, Schema } from "effect"
import { errorCode } from "../fs/readStream.js"
import { syncDirectoryOnce } from "./directorySync.js"
import { ownedName } from "./tempOwners.js"

/** Folder levels between the store's root and an object: 1 (`ab/`) or 2 (`ab/cd/`, stores of earlier versions). */
export const ShardLevels = Schema.Literal(1, 2)
export type ShardLevels = typeof ShardLevels.Type

/** The content of `<root>/.layout`. */
export const LayoutFile = Schema.Struct({ shardLevels: ShardLevels })
export type LayoutFile = typeof LayoutFile.Type

/** The name of the file that records a store's layout. */
export const layoutFileName = ".layout"

/** The layout of a store this version creates. */
export const newStoreLevels: ShardLevels = 1

/** An object's key (its path below the root, `/`-separated) in a store of `levels`. */
export const keyFor = (levels: ShardLevels, sha256: Sha256): string =>
  levels === 1 ? `${sha256.slice(0, 2)}/${sha256}` : `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`

/** An object's absolute path in a store rooted at `root` (no split of the key: this runs once per commit). */
export const pathIn = (root: string, levels: ShardLevels, sha256: Sha256): string =>
  levels === 1 ? join(root, sha256.slice(0, 2), sha256) : join(root, sha256.slice(0, 2), sha256.slice(2, 4), sha256)

const shardName = /^[0-9a-f]{2}$/

/**
 * What a store without a layout file holds: `2` when some top-level shard folder has two-level sub-folders (a
 * store of an earlier version), else `1` (empty, or objects directly in the shard folders).
 */
const judgeLevels = async (root: string): Promise<ShardLevels> => {
  for (const top of await readdir(root, { withFileTypes: true })) {
    if (!top.isDirectory() || !shardName.test(top.name)) continue
    for (const entry of await readdir(join(root, top.name), { withFileTypes: true })) {
      if (entry.isDirectory() && shardName.test(entry.name)) return 2
      if (entry.isFile()) return 1
    }
  }
  return 1
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
  const decoded = Schema.decodeUnknownEither(LayoutFile)(json)
  if (Either.isLeft(decoded)) throw new Error(`${path} is not a store layout this version knows: ${text.trim().slice(0, 200)}`)
  return decoded.right
}

/** Writes the layout file durably: a temp file synced, renamed into place, the root synced. */
const writeLayoutFile = async (root: string, tmpDir: string, layout: LayoutFile): Promise<void> => {
  // named after this process (tempOwners.ts): a leftover of a crash is swept by the next open
  const temp = join(tmpDir, ownedName("layout"))
  try {
    await writeFile(temp, `${JSON.stringify(layout)}\n`, { mode: 0o444, flush: true })
    await rename(temp, join(root, layoutFileName))
  } catch (cause) {
    await unlink(temp).catch(() => undefined)
    throw cause
  }
  await syncDirectoryOnce(root)
}

/**
 * The store's layout: read from its layout file, or judged from what it holds and then recorded. Two processes
 * opening one new store at once judge alike and write the same file (a rename: one of them wins, same content).
 */
export const openLayout = async (root: string, tmpDir: string): Promise<ShardLevels> => {
  const path = join(root, layoutFileName)
  const recorded = await readLayoutFile(path)
  if (recorded !== undefined) return recorded.shardLevels
  const shardLevels = await judgeLevels(root)
  await writeLayoutFile(root, tmpDir, { shardLevels })
  return shardLevels
}
