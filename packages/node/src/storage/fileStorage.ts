/**
 * The local filesystem store: content-addressed files under `<root>/ab/<sha256>` (`<root>/ab/cd/<sha256>` in stores
 * of earlier versions, see shardLayout.ts), written through temp files in `<root>/.tmp/` (same filesystem, so the
 * final step is an atomic link or rename), read-only once stored.
 */
import { readdir, rm, stat, unlink } from "node:fs/promises"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import {
  ByteSize,
  type OpenedTemp,
  type Sha256,
  Storage,
  StorageError,
  type StorageService,
  type StoredObject
} from "@cargohold/core"
import { Effect, Layer, Option, type Stream } from "effect"
import { describe, errorCode, readFileStream } from "../fs/readStream.js"
import { makeBufferPool } from "./bufferPool.js"
import { makeDirectories } from "../fs/directories.js"
import { makeDirectorySync } from "./directorySync.js"
import { watchFreeSpace } from "./freeSpace.js"
import { type StoreLayout, storageFailure } from "./storeLayout.js"
import { createsReadOnly, openTempFile } from "./openTemp.js"
import { batchBytes, smallBufferBytes } from "./tempFile.js"
import { ownerOf } from "./tempOwners.js"
import { keyFor, openLayout, type ShardLevels } from "./shardLayout.js"

export interface FileStorageOptions {
  /** The store's folder; created (with `.tmp/`) when missing. */
  readonly root: string
  /**
   * Temp files of dead processes are removed when the store opens (their names say who made them, see
   * tempOwners.ts). A temp file whose owner cannot be judged (another host or container, an older name) is removed
   * once older than this (default 24 h).
   */
  readonly staleTempMs?: number
  /**
   * Writes that would leave less than this many bytes free on the store's filesystem are refused (StorageError).
   * Default max(1 GiB, 2 % of the filesystem); 0 turns the reserve off. See freeSpace.ts.
   */
  readonly minFreeBytes?: number | undefined
}

/** The extra view a filesystem store offers (tests, tools). */
export interface FileStorage extends StorageService {
  readonly root: string
  readonly tmpDir: string
  /** Folder levels between the root and an object (shardLayout.ts): 1 in stores this version made. */
  readonly shardLevels: ShardLevels
}

const storageError = (operation: string, key?: string) => (cause: unknown) => storageFailure(operation, cause, key)

/**
 * Removes temp files that dead processes left behind (by owner, see tempOwners.ts), never one of a live process;
 * a file whose owner cannot be judged goes only once older than `staleMs`.
 */
const sweepStaleTemps = async (tmpDir: string, staleMs: number): Promise<void> => {
  const now = Date.now()
  for (const name of await readdir(tmpDir)) {
    const path = join(tmpDir, name)
    const owner = ownerOf(name)
    if (owner === "alive") continue
    if (owner === "dead") {
      await rm(path, { force: true, recursive: true })
      continue
    }
    const info = await stat(path).catch(() => undefined)
    if (info !== undefined && now - info.mtimeMs > staleMs) await rm(path, { force: true, recursive: true })
  }
}

/** Builds a filesystem Storage rooted at `options.root`. */
export const makeFileStorage = (options: FileStorageOptions): Effect.Effect<FileStorage, StorageError> =>
  Effect.gen(function* () {
    const root = resolve(options.root)
    const tmpDir = join(root, ".tmp")
    const { readOnlyAtCreate, space, shardLevels } = yield* Effect.tryPromise({
      try: async () => {
        await makeDirectories(tmpDir)
        await sweepStaleTemps(tmpDir, options.staleTempMs ?? 24 * 60 * 60 * 1000)
        return {
          shardLevels: await openLayout(root, tmpDir),
          readOnlyAtCreate: await createsReadOnly(tmpDir),
          space: await watchFreeSpace(root, options.minFreeBytes)
        }
      },
      catch: storageError("open")
    })
    const id = pathToFileURL(root).href
    const objectKey = (sha256: Sha256) => keyFor(shardLevels, sha256)
    const pathFor = (sha256: Sha256) => join(root, objectKey(sha256))
    const layout: StoreLayout = {
      id,
      root,
      pool: makeBufferPool([
        { bytes: smallBufferBytes, keep: 64 },
        { bytes: batchBytes, keep: 16 }
      ]),
      pathFor,
      keyFor: objectKey,
      readOnlyAtCreate,
      knownDirs: new Set(),
      syncDirectory: makeDirectorySync(),
      space
    }

    const statObject = (sha256: Sha256): Effect.Effect<Option.Option<StoredObject>, StorageError> => {
      const key = objectKey(sha256)
      return Effect.tryPromise({
        try: async () => {
          try {
            const info = await stat(pathFor(sha256))
            return info.isFile()
              ? Option.some<StoredObject>({ store: id, key, size: ByteSize.make(info.size) })
              : Option.none<StoredObject>()
          } catch (cause) {
            if (errorCode(cause) === "ENOENT" || errorCode(cause) === "ENOTDIR") return Option.none<StoredObject>()
            throw cause
          }
        },
        catch: storageError("stat", key)
      })
    }

    const read = (sha256: Sha256): Stream.Stream<Uint8Array, StorageError> => {
      const key = objectKey(sha256)
      return readFileStream(pathFor(sha256), {
        offset: 0,
        onError: (cause) =>
          new StorageError({
            operation: "read",
            key,
            ...(errorCode(cause) === "ENOENT" ? { reason: "NotFound", detail: "" } : { reason: "Io", detail: describe(cause) })
          }),
        check: (info) =>
          info.isFile() ? undefined : new StorageError({ operation: "read", key, reason: "NotFound", detail: "not a regular file" })
      })
    }

    const remove = (sha256: Sha256): Effect.Effect<boolean, StorageError> =>
      Effect.tryPromise({
        try: () =>
          unlink(pathFor(sha256)).then(
            () => true,
            (cause) => {
              if (errorCode(cause) === "ENOENT" || errorCode(cause) === "ENOTDIR") return false
              throw cause
            }
          ),
        catch: storageError("remove", objectKey(sha256))
      })

    const service: FileStorage = {
      id,
      root,
      tmpDir,
      shardLevels,
      keyFor: objectKey,
      begin: Effect.acquireRelease(openTempFile(layout, tmpDir), (temp) => temp.release),
      open: Effect.map(openTempFile(layout, tmpDir), (temp): OpenedTemp => ({ temp, release: temp.release })),
      stat: statObject,
      read,
      remove,
      localPath: (sha256) => Option.some(pathFor(sha256))
    }
    return service
  })

/** Provides a filesystem `Storage` rooted at `options.root`. */
export const layerFileStorage = (options: FileStorageOptions): Layer.Layer<Storage, StorageError> =>
  Layer.effect(Storage, makeFileStorage(options))
