/**
 * The Storage service: content-addressed objects, written through a scoped temporary object.
 */
import { Context, type Effect, type Option, type Scope, type Stream } from "effect"
import type { StoredObject } from "../domain/artifact.js"
import type { ByteSize, Sha256 } from "../domain/digest.js"
import type { StorageError } from "../domain/errors.js"

export interface CommitOptions {
  /** Replace an object already stored under this address instead of keeping it (repair). */
  readonly replace?: boolean | undefined
}

/**
 * An object being written. It lives in its scope: when the scope closes, an uncommitted object is removed
 * (on success, failure and interruption alike), so nothing partial is ever visible.
 */
export interface TempObject {
  /** Appends bytes. Backends may buffer; the bytes are durable only after `commit`. */
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, StorageError>
  /** Discards everything written so far (a restarted transfer). */
  readonly reset: Effect.Effect<void, StorageError>
  /** Bytes written so far. */
  readonly written: () => number
  /**
   * Makes the object durable under its content address. Idempotent: if the same content is already stored,
   * the temporary object is dropped and the existing one returned with `created: false`.
   * With `replace`, whatever is stored under the address (a corrupt copy found by verify) is replaced in one
   * atomic step: readers see the old object or the new one, never none.
   */
  readonly commit: (
    sha256: Sha256,
    size: ByteSize,
    options?: CommitOptions
  ) => Effect.Effect<{ readonly object: StoredObject; readonly created: boolean }, StorageError>
}

export interface StorageService {
  /** The backend's id, as the catalog records it (e.g. `file:///srv/cargohold/store`, `s3://bucket/prefix`). */
  readonly id: string
  /** The key an artifact has (or will have) in this backend. */
  readonly keyFor: (sha256: Sha256) => string
  /** Opens a temporary object in the current scope. */
  readonly begin: Effect.Effect<TempObject, StorageError, Scope.Scope>
  /** Looks an object up without reading it. */
  readonly stat: (sha256: Sha256) => Effect.Effect<Option.Option<StoredObject>, StorageError>
  /** Streams an object's bytes. */
  readonly read: (sha256: Sha256) => Stream.Stream<Uint8Array, StorageError>
  /** Removes an object; true when something was removed. */
  readonly remove: (sha256: Sha256) => Effect.Effect<boolean, StorageError>
  /** A local filesystem path to the object, when the backend has one. */
  readonly localPath: (sha256: Sha256) => Option.Option<string>
}

export class Storage extends Context.Tag("@cargohold/core/Storage")<Storage, StorageService>() {}
