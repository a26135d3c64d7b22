/**
 * The temporary file behind one `TempObject` of the filesystem store.
 *
 * Writes are coalesced into a 1 MiB buffer: a batch of chunks that fits costs one copy and no I/O, so the
 * per-chunk Effect path stays lean; one positioned write goes out per full buffer. That write runs behind: the
 * download goes on filling a second buffer and waits only if the write before is still running (at most one in
 * flight), so receiving and hashing overlap the disk. Every `syncEveryBytes` written, an fdatasync starts in the
 * background, so the sync at commit has little left to flush. Commit waits for all of it, flushes, syncs the bytes
 * (see `place`), makes the file read-only and links it into place (placeObject.ts; or keeps a copy already there,
 * unless told to replace it). A failed background write or fdatasync fails the next write or the commit. What
 * the file knows of its store is storeLayout.ts.
 */
import { unlink } from "node:fs/promises"
import {
  type ByteSize,
  type CommitOptions,
  type CommitResult,
  type PendingSync,
  type Sha256,
  StorageError,
  type StoredObject,
  type TempObject
} from "@cargohold/core"
import { Effect } from "effect"
import type { Descriptor } from "./descriptor.js"
import { placeObject } from "./placeObject.js"
import { type StoreLayout, storageFailure } from "./storeLayout.js"

/** Bytes gathered before one write goes to the file. */
export const batchBytes = 1024 * 1024

/** Bytes written between two background fdatasyncs of a large file. */
export const syncEveryBytes = 32 * 1024 * 1024

/**
 * Full buffers that may wait for the disk while the download goes on. One was not enough: each batch boundary then
 * paused the socket until the write before returned, and on a loaded machine the thread-pool round trip of every
 * write stalled the receive loop (≈ half the wall time of a 1 GiB download). Bounded: at most this many
 * `batchBytes` buffers per large download.
 */
export const writesBehind = 4

/** The first buffer of a temp object: small files never hold a large one. */
export const smallBufferBytes = 64 * 1024

export class TempFile implements TempObject {
  private buffer: Buffer | undefined = undefined
  private fill = 0
  /** Bytes already written to the file. */
  private flushed = 0
  private accepted = 0
  /** The furthest byte written by `writeAt`. */
  private extent = 0
  /** The descriptor, until commit closes it. */
  private handle: Descriptor | undefined
  /** Set once the file left the temp area (linked, renamed or dropped for an existing copy). */
  private done = false
  /** The writes running behind (at most `writesBehind`); they never reject: a failure lands in `failure`. */
  private readonly writes = new Set<Promise<void>>()
  /** The background fdatasync running, if any (never rejects either). */
  private syncing: Promise<void> | undefined = undefined
  /** Bytes written since the last background fdatasync started. */
  private unsynced = 0
  /** The first failure of a background write or fdatasync. */
  private failure: unknown = undefined
  /** Full buffers handed to the writes behind and not yet written. */
  private queued = 0
  /** Wakes an append waiting for room behind (see `roomBehind`). */
  private drained: (() => void) | undefined = undefined

  constructor(
    private readonly layout: StoreLayout,
    readonly path: string,
    handle: Descriptor
  ) {
    this.handle = handle
  }

  private fail(operation: string, cause: unknown, key?: string): StorageError {
    return storageFailure(operation, cause, key)
  }

  private io<A>(operation: string, run: () => Promise<A>, key?: string): Effect.Effect<A, StorageError> {
    return Effect.tryPromise({ try: run, catch: (cause) => this.fail(operation, cause, key) })
  }

  private openHandle(): Descriptor {
    if (this.handle === undefined) throw new Error("the temporary object is closed")
    return this.handle
  }

  /** Waits for what runs behind; throws its failure. */
  private async settle(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes)
    if (this.syncing !== undefined) await this.syncing
    if (this.failure !== undefined) throw this.failure
  }

  /** Writes what is buffered and waits for everything written before it. */
  private async flush(): Promise<void> {
    await this.settle()
    if (this.fill === 0 || this.buffer === undefined) return
    await this.openHandle().writeAll(this.buffer.subarray(0, this.fill), this.flushed)
    this.flushed += this.fill
    this.fill = 0
  }

  /**
   * Hands the full buffer to a write that runs behind, at once (no await: the receive loop goes on). Up to
   * `writesBehind` positional writes run side by side in the thread pool, so one slow round trip does not hold
   * the next buffer.
   */
  private handOff(): void {
    const handle = this.openHandle()
    const buffer = this.buffer!
    const bytes = this.fill
    const at = this.flushed
    this.buffer = undefined
    this.fill = 0
    this.flushed += bytes
    this.queued += 1
    const write: Promise<void> = handle.writeAll(buffer.subarray(0, bytes), at).then(
      () => {
        this.layout.pool.give(buffer)
        this.unsynced += bytes
        if (this.unsynced >= syncEveryBytes && this.syncing === undefined && this.handle === handle) {
          this.unsynced = 0
          this.syncing = handle.datasync().then(
            () => {
              this.syncing = undefined
            },
            (cause) => {
              this.syncing = undefined
              this.failure ??= cause
            }
          )
        }
      },
      (cause) => {
        this.failure ??= cause
      }
    )
    this.writes.add(write)
    void write.then(() => {
      this.queued -= 1
      this.writes.delete(write)
      const waiting = this.drained
      this.drained = undefined
      waiting?.()
    })
  }

  /** Resolves once fewer than `writesBehind` buffers wait for the disk (at once when they do already). */
  private roomBehind(): Promise<void> | undefined {
    if (this.queued < writesBehind) return undefined
    return new Promise<void>((resolve) => {
      this.drained = resolve
    }).then(() => this.roomBehind())
  }

  /** Makes room for `bytes` buffered bytes (at most `batchBytes`), moving to a larger buffer when needed. */
  private room(bytes: number): Buffer {
    const current = this.buffer
    if (current !== undefined && current.length >= bytes) return current
    // a file past its first buffer is a large one: take a full-size buffer at once (no growing copies)
    const next = this.layout.pool.take(this.flushed > 0 ? batchBytes : bytes)
    if (current !== undefined) {
      next.set(current.subarray(0, this.fill))
      this.layout.pool.give(current)
    }
    this.buffer = next
    return next
  }

  /** The slow path: some chunk does not fit in the buffer. */
  private async appendSlow(chunks: ReadonlyArray<Uint8Array>): Promise<void> {
    for (const chunk of chunks) {
      // an interrupted write goes on in the background until its I/O returns: stop it once released
      if (this.handle === undefined) throw new Error("the temporary object is closed")
      let offset = 0
      if (this.fill === 0 && chunk.length >= batchBytes) {
        // large chunk, empty buffer: write it as is (the caller waits, so its buffer is not retained)
        await this.settle()
        await this.openHandle().writeAll(chunk, this.flushed)
        this.flushed += chunk.length
        this.accepted += chunk.length
        continue
      }
      while (offset < chunk.length) {
        const buffer = this.room(batchBytes)
        const n = Math.min(chunk.length - offset, batchBytes - this.fill)
        buffer.set(chunk.subarray(offset, offset + n), this.fill)
        this.fill += n
        this.accepted += n
        offset += n
        if (this.fill === batchBytes) {
          this.handOff()
          await this.roomBehind()
        }
      }
    }
  }

  readonly write = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, StorageError> =>
    Effect.suspend(() => {
      if (this.handle === undefined) return Effect.fail(this.fail("write", "the temporary object is closed"))
      if (this.failure !== undefined) return Effect.fail(this.fail("write", this.failure))
      let total = 0
      for (let i = 0; i < chunks.length; i++) total += chunks[i]!.length
      // the free-space reserve: refused bytes are never written (a fresh reading first: space may have been freed)
      if (this.layout.space.claim(total) !== undefined) {
        return Effect.flatMap(
          this.io("write", () => this.layout.space.recheck(total)),
          (refused) => (refused === undefined ? this.accept(chunks, total) : Effect.fail(this.fail("write", refused)))
        )
      }
      return this.accept(chunks, total)
    })

  /** Takes `chunks` (`total` bytes, within the reserve) into the buffer or out to the file. */
  private accept(chunks: ReadonlyArray<Uint8Array>, total: number): Effect.Effect<void, StorageError> {
    if (this.fill + total >= batchBytes) return this.io("write", () => this.appendSlow(chunks))
    if (total === 0) return Effect.void
    const buffer = this.room(this.fill + total)
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!
      buffer.set(chunk, this.fill)
      this.fill += chunk.length
    }
    this.accepted += total
    return Effect.void
  }

  /** The lean path (see TempObject.append): the same as `write` of one chunk, with no Effect. */
  readonly append = (chunk: Uint8Array): Promise<void> | undefined => {
    if (this.handle === undefined) return Promise.reject(this.fail("write", "the temporary object is closed"))
    if (this.failure !== undefined) return Promise.reject(this.fail("write", this.failure))
    const bytes = chunk.length
    // the free-space reserve, as in `write`
    if (this.layout.space.claim(bytes) !== undefined) {
      return this.layout.space.recheck(bytes).then(
        (refused) => {
          if (refused !== undefined) throw this.fail("write", refused)
          return this.appendChecked(chunk)
        },
        (cause: unknown) => {
          throw this.fail("write", cause)
        }
      )
    }
    return this.appendChecked(chunk)
  }

  private appendChecked(chunk: Uint8Array): Promise<void> | undefined {
    const bytes = chunk.length
    if (this.fill + bytes < batchBytes) {
      if (bytes === 0) return undefined
      this.room(this.fill + bytes).set(chunk, this.fill)
      this.fill += bytes
      this.accepted += bytes
      return undefined
    }
    if (bytes < batchBytes && this.flushed > 0 && this.queued < writesBehind) {
      // the common case of a large body: the chunk fills this buffer and starts the next, no promise
      const split = batchBytes - this.fill
      this.room(batchBytes).set(chunk.subarray(0, split), this.fill)
      this.fill = batchBytes
      this.handOff()
      if (split < bytes) {
        this.room(batchBytes).set(chunk.subarray(split), 0)
        this.fill = bytes - split
      }
      this.accepted += bytes
      const room = this.roomBehind()
      return room === undefined ? undefined : room.then(() => {
        if (this.failure !== undefined) throw this.fail("write", this.failure)
      })
    }
    return this.appendSlow([chunk]).catch((cause: unknown) => {
      throw this.fail("write", cause)
    })
  }

  readonly reset: Effect.Effect<void, StorageError> = Effect.suspend(() => {
    this.fill = 0
    this.flushed = 0
    this.accepted = 0
    this.extent = 0
    this.unsynced = 0
    return this.io("reset", async () => {
      // what ran behind belongs to the attempt being dropped: wait for it, then forget its failure
      await this.settle().catch(() => undefined)
      this.failure = undefined
      await this.openHandle().truncate(0)
    })
  })

  readonly written = (): number => Math.max(this.accepted, this.extent)

  /**
   * Segmented downloads: each piece straight to its place (no buffer: the segment waits for its write), within the
   * free-space reserve. Positional and sequential writes are not mixed in one attempt.
   */
  readonly writeAt = (position: number, chunk: Uint8Array): Promise<void> => {
    if (this.handle === undefined) return Promise.reject(this.fail("write", "the temporary object is closed"))
    if (this.failure !== undefined) return Promise.reject(this.fail("write", this.failure))
    const handle = this.handle
    const bytes = chunk.length
    const write = async () => {
      if (this.layout.space.claim(bytes) !== undefined) {
        const refused = await this.layout.space.recheck(bytes)
        if (refused !== undefined) throw refused
      }
      await handle.writeAll(chunk, position)
      this.extent = Math.max(this.extent, position + bytes)
    }
    return write().catch((cause: unknown) => {
      throw this.fail("write", cause)
    })
  }

  readonly readAt = (position: number, length: number, into?: Uint8Array): Promise<Uint8Array> =>
    this.openHandle()
      .readExactly(length, position, into)
      .catch((cause: unknown) => {
        throw this.fail("read", cause)
      })

  readonly commit = (sha256: Sha256, size: ByteSize, options?: CommitOptions): Effect.Effect<CommitResult, StorageError> => {
    const key = this.layout.keyFor(sha256)
    const object: StoredObject = { store: this.layout.id, key, size }
    return Effect.suspend(() => {
      if (this.written() !== size) {
        return Effect.fail(
          new StorageError({ operation: "commit", key, reason: "SizeMismatch", detail: `wrote ${this.written()} bytes, expected ${size}` })
        )
      }
      // not interruptible: a half-done commit would race the scope's cleanup
      const placing = () => this.place(sha256, size, options?.replace === true, options?.deferSync === true)
      return Effect.uninterruptible(this.io("commit", placing, key)).pipe(
        Effect.map(({ created, kept, folder }) => ({
          object,
          created,
          kept,
          pending: folder === undefined ? undefined : [this.folderSync(folder, key)]
        }))
      )
    })
  }

  /** The fsync of the shard folder that holds a new object's name, as a step left to the caller. */
  private folderSync(folder: string, key: string): PendingSync {
    const sync = this.layout.syncDirectory
    return {
      key: folder,
      run: this.io("commit", () => sync(folder), key),
      start: () => sync(folder).then(
        () => undefined,
        (cause: unknown) => this.fail("commit", cause, key)
      )
    }
  }

  /**
   * Flush, sync, read-only, then into place (placeObject.ts). The bytes are synced before the name exists: an
   * fdatasync when the file was created read-only (no metadata changed since), else a chmod and a full fsync.
   */
  private async place(
    sha256: Sha256,
    size: number,
    replace: boolean,
    defer: boolean
  ): Promise<{ created: boolean; kept: boolean; folder?: string }> {
    const handle = this.openHandle()
    await this.flush()
    if (this.layout.readOnlyAtCreate) await handle.datasync()
    else {
      await handle.chmod(0o444)
      await handle.sync()
    }
    this.handle = undefined
    this.releaseBuffer()
    await handle.close()
    return placeObject(this.layout, this.path, sha256, size, { replace, defer }, () => {
      this.done = true
    })
  }

  private releaseBuffer(): void {
    if (this.buffer !== undefined) this.layout.pool.give(this.buffer)
    this.buffer = undefined
    this.fill = 0
  }

  /** The scope finalizer: closes the descriptor (after any write in flight) and removes an uncommitted file. */
  readonly release: Effect.Effect<void> = Effect.suspend(() => {
    const handle = this.handle
    this.handle = undefined
    // the buffer goes back to the pool only once no write can still be reading it
    const close = Effect.zipRight(
      handle === undefined ? Effect.void : Effect.promise(() => handle.close().catch(() => undefined)),
      Effect.sync(() => this.releaseBuffer())
    )
    if (this.done) return close
    return Effect.zipRight(
      close,
      Effect.promise(() => unlink(this.path).catch(() => undefined))
    )
  })
}
