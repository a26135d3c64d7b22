/**
 * The Storage service: content-addressed objects, written through a scoped temporary object.
 */
import { Context, type Effect, type Option, type Scope, type Stream } from "effect"
import type { StoredObject } from "../domain/artifact.js"
import type { ByteSize, Sha256 } from "../domain/digest.js"
import type { StorageError } from "../domain/errors.js"

export interface CommitOptions {
  /**
   * Put these bytes in place even when an object is already stored under the address: for a copy that is not known
   * to be good (the catalog marks it corrupt or missing, or does not list it at all). Without it the store keeps an
   * existing object of the same size, which is right only when the caller knows that object to be good.
   */
  readonly replace?: boolean | undefined
  /**
   * Leave the last durability steps to the caller: the result's `pending` lists them, and the object counts as
   * durable only once each has run. A batch runs the steps of a whole group of commits together, each distinct one
   * once (every new object of a filesystem store needs its folder fsynced: once per folder per group instead of
   * once per object). A backend may ignore it and finish every step itself (then `pending` is empty).
   */
  readonly deferSync?: boolean | undefined
}

/** A durability step a commit left to its caller (see `CommitOptions.deferSync`). */
export interface PendingSync {
  /** Steps with the same key are the same step: a group runs it once, after every commit that listed it. */
  readonly key: string
  readonly run: Effect.Effect<void, StorageError>
  /**
   * The same step as a promise (optional): resolves with its failure, or undefined once done; never rejects. A
   * group whose steps all have it runs them in one effect, without a fiber per step (see batch/recorder.ts).
   */
  readonly start?: (() => Promise<StorageError | undefined>) | undefined
}

/** What a commit did. */
export interface CommitResult {
  readonly object: StoredObject
  /**
   * True when nothing was stored under the address before: removing the object undoes the commit. False when an
   * object was there (kept, or replaced by these bytes): removing it then would destroy what someone else stored.
   */
  readonly created: boolean
  /**
   * True when the object already stored was kept and these bytes dropped: what is stored now was not written by
   * this commit, so nobody may claim to have verified it now.
   */
  readonly kept: boolean
  /** Steps left to run before the object is durable (only with `deferSync`; none when absent). */
  readonly pending?: ReadonlyArray<PendingSync> | undefined
}

/**
 * An object being written. It lives in its scope: when the scope closes, an uncommitted object is removed
 * (on success, failure and interruption alike), so nothing partial is ever visible.
 */
export interface TempObject {
  /** Appends bytes. Backends may buffer; the bytes are durable only after `commit`. */
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, StorageError>
  /**
   * The lean transfer's append of one chunk (optional: `write` serves without it). Undefined when the chunk was
   * taken at once (copied: the caller may reuse it), else a promise that the next chunk waits for; it rejects with
   * a `StorageError`. No Effect per chunk.
   */
  readonly append?: ((chunk: Uint8Array) => Promise<void> | undefined) | undefined
  /**
   * Positional write for segmented downloads (optional: without it an artifact comes in one stream). Writes `chunk`
   * at `position`; resolves once the bytes can be read back with `readAt`. `written()` then counts up to the
   * furthest byte written. Rejects with a `StorageError`.
   */
  readonly writeAt?: ((position: number, chunk: Uint8Array) => Promise<void>) | undefined
  /**
   * Reads back `length` bytes written at `position` (segmented downloads hash the contiguous prefix in order).
   * With `into` (at least `length` bytes), the bytes may be read into it and the result be a view of it: the
   * caller reuses one buffer instead of a fresh one per read.
   */
  readonly readAt?: ((position: number, length: number, into?: Uint8Array) => Promise<Uint8Array>) | undefined
  /** Discards everything written so far (a restarted transfer). */
  readonly reset: Effect.Effect<void, StorageError>
  /** Bytes written so far. */
  readonly written: () => number
  /**
   * Makes the object durable under its content address. Without `replace`, an object of the same size already
   * stored is kept, the temporary object dropped (`kept: true`); one of another size is damaged and replaced.
   * With `replace`, whatever is stored under the address is replaced by these bytes in one atomic step: readers see
   * the old object or the new one, never none.
   */
  readonly commit: (sha256: Sha256, size: ByteSize, options?: CommitOptions) => Effect.Effect<CommitResult, StorageError>
}

/** A temporary object opened without a scope (`StorageService.open`) and what gives it back. */
export interface OpenedTemp {
  readonly temp: TempObject
  /** Closes the temporary object and drops what was not committed; run it once, on every exit. */
  readonly release: Effect.Effect<void>
}

export interface StorageService {
  /** The backend's id, as the catalog records it (e.g. `file:///srv/cargohold/store`, `s3://bucket/prefix`). */
  readonly id: string
  /** The key an artifact has (or will have) in this backend. */
  readonly keyFor: (sha256: Sha256) => string
  /** Opens a temporary object in the current scope. */
  readonly begin: Effect.Effect<TempObject, StorageError, Scope.Scope>
  /**
   * `begin` without a scope, for a caller that brackets the temporary object itself (`Effect.acquireUseRelease`
   * with `release`, which must run on every exit, as `begin`'s scope runs it). Optional: the download pipeline uses
   * it when given, since a scope per download costs several times a bracket (`npx tsx bench/effect-costs.ts`:
   * ≈ 345 against 127 µs of CPU per item in a fresh process). A wrapper that replaces `begin` must replace or drop
   * this too, or its callers would bypass it.
   */
  readonly open?: Effect.Effect<OpenedTemp, StorageError> | undefined
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
