/**
 * A throw-away store: a filesystem store in a private `mkdtemp` folder, removed with everything in it when the
 * layer's scope closes. For programs that want verified bytes on disk only for as long as they run.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Storage, StorageError } from "@cargohold/core"
import { Effect, Layer, type Scope } from "effect"
import { describe } from "../fs/readStream.js"
import { type FileStorage, makeFileStorage } from "./fileStorage.js"

/** A filesystem store in a fresh temp folder that lives as long as `scope`. */
export const makeTempStorage = (options?: {
  /** Parent folder (default: the OS temp folder). */
  readonly parent?: string
  /** The free-space reserve (see `FileStorageOptions.minFreeBytes`). */
  readonly minFreeBytes?: number | undefined
}): Effect.Effect<FileStorage, StorageError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => mkdtemp(join(options?.parent ?? tmpdir(), "cargohold-")),
      catch: (cause) => new StorageError({ operation: "open", reason: "Io", detail: describe(cause) })
    }),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }).catch(() => undefined))
  ).pipe(Effect.flatMap((root) => makeFileStorage({ root, minFreeBytes: options?.minFreeBytes })))

/** Provides a `Storage` in a private temp folder, removed when the layer's scope closes. */
export const layerTempStorage = (options?: {
  readonly parent?: string
  readonly minFreeBytes?: number | undefined
}): Layer.Layer<Storage, StorageError> =>
  Layer.scoped(Storage, makeTempStorage(options))
