/**
 * Directory fsyncs with group commit: an fsync of a folder makes durable every entry created in it before the
 * fsync began, so callers that ask while one is running share the next one instead of each running their own.
 * Each caller still returns only after an fsync that started after its own request — the same guarantee as a
 * private fsync, at a fraction of the cost when many files land in the same folders (a new store's shard folders).
 * Plain descriptors (descriptor.ts, no FileHandle objects) keep the per-call cost low.
 */
import { errorCode } from "../fs/readStream.js"
import { openDescriptor } from "./descriptor.js"

/** fsyncs a directory (best effort where the platform refuses to fsync directories). */
export const syncDirectoryOnce = async (path: string): Promise<void> => {
  const directory = await openDescriptor(path, "r", 0)
  try {
    await directory.sync()
  } catch (cause) {
    if (errorCode(cause) !== "EINVAL" && errorCode(cause) !== "EISDIR") throw cause
  } finally {
    await directory.close().catch(() => undefined)
  }
}

interface FolderState {
  /** The fsync in progress. */
  running: Promise<void>
  /** The fsync that starts when `running` ends, shared by everyone who asked meanwhile. */
  queued: Promise<void> | undefined
}

const ignore = () => undefined

/** Makes a `syncDirectory(path)` that shares fsyncs of the same folder between concurrent callers. */
export const makeDirectorySync = (): ((path: string) => Promise<void>) => {
  const folders = new Map<string, FolderState>()
  const begin = (path: string, state: FolderState): Promise<void> => {
    const run = syncDirectoryOnce(path)
    state.running = run
    state.queued = undefined
    const settle = () => {
      if (state.running === run && state.queued === undefined && folders.get(path) === state) folders.delete(path)
    }
    run.then(settle, settle)
    return run
  }
  return (path) => {
    const state = folders.get(path)
    if (state === undefined) {
      const fresh: FolderState = { running: Promise.resolve(), queued: undefined }
      folders.set(path, fresh)
      return begin(path, fresh)
    }
    if (state.queued !== undefined) return state.queued
    const queued = state.running.then(ignore, ignore).then(() => begin(path, state))
    state.queued = queued
    return queued
  }
}
