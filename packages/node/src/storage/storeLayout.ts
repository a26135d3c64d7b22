/**
 * What a temp file needs to know about its store, the typed error of a failed file operation, and the shard
 * folders: made (and their parents synced) once, remembered up to a bound.
 */
import { dirname } from "node:path"
import { type Sha256, StorageError } from "@cargohold/core"
import { makeDirectories } from "../fs/directories.js"
import { describe, errorCode } from "../fs/readStream.js"
import type { BufferPool } from "./bufferPool.js"
import { diskFailure, type FreeSpace } from "./freeSpace.js"

/** What the temp file needs to know about its store. */
export interface StoreLayout {
  readonly id: string
  readonly root: string
  readonly pool: BufferPool
  /** The absolute path of an object. */
  readonly pathFor: (sha256: Sha256) => string
  /** An object's key in this store (shardLayout.ts). */
  readonly keyFor: (sha256: Sha256) => string
  /**
   * True when a file created with mode 0444 gets exactly 0444 here (the umask removes none of those bits): temp
   * files are then created read-only (still writable through their descriptor) and commit needs no chmod.
   */
  readonly readOnlyAtCreate: boolean
  /** Shard folders known to exist (no mkdir per commit); forgotten again when a link finds one missing. */
  readonly knownDirs: Set<string>
  /** fsyncs a folder; concurrent callers share fsyncs (see directorySync.ts). */
  readonly syncDirectory: (path: string) => Promise<void>
  /** The free-space reserve every write is counted against (see freeSpace.ts). */
  readonly space: FreeSpace
}

/** A StorageError for a failed file operation; a full disk is said so plainly. */
export const storageFailure = (operation: string, cause: unknown, key?: string): StorageError =>
  new StorageError({ operation, key, ...(diskFailure(errorCode(cause)) ?? { reason: "Io", detail: describe(cause) }) })

/**
 * Creates `dir` (and parents); fsyncs every folder that gained a sub-folder. `dir` itself is synced later.
 * `sync` may share fsyncs between concurrent callers (see directorySync.ts).
 */
export const makeShardDirectory = async (dir: string, sync: (path: string) => Promise<void>): Promise<void> => {
  const first = await makeDirectories(dir)
  if (first === undefined) return
  await sync(dirname(first))
  for (let folder = dirname(dir); folder.length >= first.length; folder = dirname(folder)) await sync(folder)
}

/**
 * Folders known to exist, at most `knownDirsLimit` (then forgotten all at once): a store of an earlier version has
 * up to 65,536 shard folders, and remembering every one would grow the heap with the number of artifacts (≈ 10 MiB
 * at 100,000; a one-level store has at most 256). A forgotten folder costs one `mkdir` that finds it (no fsync:
 * only a folder this call creates is synced).
 */
const knownDirsLimit = 4096
export const rememberDir = (known: Set<string>, dir: string): void => {
  if (known.size >= knownDirsLimit) known.clear()
  known.add(dir)
}

