/**
 * Directory fsyncs with group commit: an fsync of a folder makes durable every entry created in it before the
 * fsync began, so callers that ask while one is running share the next one instead of each running their own.
 * Each caller still returns only after an fsync that started after its own request — the same guarantee as a
 * private fsync, at a fraction of the cost when many files land in the same folders (a new store's shard folders).
 * Plain descriptors (no FileHandle objects) keep the per-call cost low.
 */
import { close, fsync, open } from "node:fs"
import { errorCode } from "../fs/readStream.js"

const openDir = (path: string) =>
  new Promise<number>((resolve, reject) => open(path, "r", (error, fd) => (error === null ? resolve(fd) : reject(error))))
const fsyncFd = (fd: number) =>
  new Promise<void>((resolve, reject) => fsync(fd, (error) => (error === null ? resolve() : reject(error))))
const closeFd = (fd: number) => new Promise<void>((resolve) => close(fd, () => resolve()))

/** fsyncs a directory (best effort where the platform refuses to fsync directories). */
export const syncDirectoryOnce = async (path: string): Promise<void> => {
  const fd = await openDir(path)
  try {
    await fsyncFd(fd)
  } catch (cause) {
    if (errorCode(cause) !== "EINVAL" && errorCode(cause) !== "EISDIR") throw cause
  } finally {
    await closeFd(fd)
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
