/**
 * One attempt at one segment: a `Transfer` (so fetchHttp runs it like any other: limits, auth, redirects, idle
 * timeout) whose bytes go to their place in the temp object (`writeAt`) instead of being hashed and appended.
 * Bytes are gathered into `writeBytes` buffers (from the download's pool, reused) and written one buffer at a
 * time: a write per socket chunk (64 KiB) cost a thread-pool round trip each — measured ≈ 4,300 pwrites and 18,000
 * futex calls for 256 MiB, and a sixth of the main thread's time. Hashing happens in order elsewhere (prefix.ts),
 * from what is written.
 */
import { Effect } from "effect"
import { type DownloadError, SizeMismatch, StorageError, TransferError } from "../../domain/errors.js"
import type { HasherService } from "../../hash/Hasher.js"
import type { BodySink } from "../../http/exchange.js"
import type { ProgressService } from "../../progress/Progress.js"
import type { TempObject } from "../../storage/Storage.js"
import type { Candidate } from "../sources.js"
import { Transfer, type Validators } from "../transfer.js"
import type { Segment } from "./plan.js"

/** Bytes a lane gathers before one positional write. */
export const writeBytes = 1024 * 1024

/** Write buffers of one download, reused: at most one filling and one being written per lane. */
export class WriteBuffers {
  private readonly free: Array<Uint8Array> = []
  take(): Uint8Array {
    return this.free.pop() ?? new Uint8Array(writeBytes)
  }
  give(buffer: Uint8Array): void {
    this.free.push(buffer)
  }
}

/** A temp object that writes and reads in place: what segments need (index.ts checks before choosing them). */
export type PositionalTemp = TempObject & {
  readonly writeAt: NonNullable<TempObject["writeAt"]>
  readonly readAt: NonNullable<TempObject["readAt"]>
}

export const isPositional = (temp: TempObject): temp is PositionalTemp => temp.writeAt !== undefined && temp.readAt !== undefined

/** A source as the segments of one download see it: the candidate, and the validators all its segments share. */
export interface SegmentSource {
  readonly candidate: Candidate
  /** ETag / Last-Modified, set by its first answer and compared with every later one. */
  readonly validators: Validators
}

/** What the attempts of one download share: the writes in flight, progress; `S` is the run's own source record. */
export interface SegmentHost<S extends SegmentSource> {
  readonly size: number
  readonly temp: PositionalTemp
  /** Called once bytes `[position, position + length)` are written (the prefix may grow). */
  readonly wrote: (transfer: SegmentTransfer<S>, position: number, length: number) => void
  /** Writes not yet settled (awaited before the temp object is reset). */
  readonly inflight: Set<Promise<void>>
  readonly buffers: WriteBuffers
  readonly bytesEvent: Effect.Effect<void>
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export class SegmentTransfer<S extends SegmentSource> extends Transfer {
  /** Set when the body was stopped because the segment's (moved) end was reached: a success. */
  reachedEnd = false
  /** Bytes received and not yet handed to a write: `[gatheredAt, gatheredAt + fill)` of the file. */
  private gathered: Uint8Array | undefined = undefined
  private gatheredAt = 0
  private fill = 0
  /** The last write handed out (the next one waits for it). */
  private writing: Promise<void> | undefined = undefined

  constructor(
    readonly host: SegmentHost<S>,
    readonly segment: Segment,
    readonly source: S,
    id: number,
    hasher: HasherService,
    progress: ProgressService
  ) {
    // no digests and no size on the segment's own spec: the whole file is hashed and sized in prefix.ts
    // the source's validators are shared by all its segments (httpAnswer.ts checks and sets them in one step)
    super(id, source.candidate.spec, host.temp, hasher, progress, undefined, {
      validators: source.validators,
      window: {
        start: segment.pos,
        // the end moves when another lane takes the upper part over
        get end() {
          return segment.end
        }
      }
    })
  }

  /** Never starts over: the next attempt asks for the rest of the segment (a new transfer from `segment.pos`). */
  override readonly restart: Effect.Effect<void, DownloadError> = Effect.void
  override readonly reset: Effect.Effect<void, DownloadError> = Effect.void

  /** Hands the gathered bytes to one positional write (tracked in `inflight`); undefined when there are none. */
  private writeGathered(): Promise<void> | undefined {
    const buffer = this.gathered
    if (buffer === undefined || this.fill === 0) return undefined
    return this.writeOut(buffer)
  }

  /** One positional write of the `fill` bytes gathered in `buffer` (tracked in `inflight`). */
  private writeOut(buffer: Uint8Array): Promise<void> {
    const bytes = this.fill
    const position = this.gatheredAt
    this.gathered = undefined
    this.fill = 0
    const host = this.host
    const writeAt = () => host.temp.writeAt(position, buffer.subarray(0, bytes))
    // in order: a segment's bytes count as settled only from its start up (SegmentHost.wrote)
    const before = this.writing
    const write = (before === undefined ? writeAt() : before.then(writeAt)).then(
      () => {
        host.buffers.give(buffer)
        host.wrote(this, position, bytes)
      },
      (cause: unknown) => {
        throw cause instanceof StorageError ? cause : new StorageError({ operation: "write", reason: "Backend", detail: String(cause) })
      }
    )
    this.writing = write
    const inflight = host.inflight
    inflight.add(write)
    void write.then(
      () => inflight.delete(write),
      () => inflight.delete(write)
    )
    return write
  }

  /**
   * Writes what this attempt gathered and not yet wrote (its body ended, broke or was stopped): the lane calls
   * it after every attempt, before the segment's next one. Fails with the write's `StorageError`.
   */
  readonly flush: Effect.Effect<void, StorageError> = Effect.suspend(() => {
    const write = this.writeGathered() ?? this.writing
    return write === undefined
      ? Effect.void
      : Effect.tryPromise({
          try: () => write,
          catch: (cause) => (cause instanceof StorageError ? cause : new StorageError({ operation: "write", reason: "Backend", detail: String(cause) }))
        })
  })

  override readonly sink: BodySink = (chunk) => {
    const segment = this.segment
    if (this.rangeTotal !== undefined && this.rangeTotal !== this.host.size) {
      throw new SizeMismatch({ url: this.finalUrl, expected: this.host.size, actual: this.rangeTotal })
    }
    const position = segment.pos
    const room = segment.end - position
    if (room <= 0) {
      this.reachedEnd = true
      throw new TransferError({ url: this.finalUrl, received: this.received, reason: "segment complete" })
    }
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk
    segment.pos += piece.length
    this.receivedBytes += piece.length
    const now = Date.now()
    this.activityAt = now
    // gather into the buffer (a copy: the transport may reuse `chunk` once this returns); a full one is written
    let pending: Promise<void> | undefined
    for (let at = 0; at < piece.length; ) {
      let gathered = this.gathered
      if (gathered === undefined) {
        gathered = this.host.buffers.take()
        this.gathered = gathered
        this.gatheredAt = position + at
      }
      const n = Math.min(piece.length - at, writeBytes - this.fill)
      gathered.set(at === 0 && n === piece.length ? piece : piece.subarray(at, at + n), this.fill)
      this.fill += n
      at += n
      if (this.fill === writeBytes) {
        const write = this.writeOut(gathered)
        pending = pending === undefined ? write : pending.then(() => write)
      }
    }
    if (segment.pos >= segment.end) {
      const write = this.writeGathered()
      if (write !== undefined) pending = pending === undefined ? write : pending.then(() => write)
    }
    const wait = this.throttle === undefined ? 0 : this.throttle(piece.length)
    if (wait > 0) {
      this.activityAt = now + wait
      pending = (pending ?? Promise.resolve()).then(() => sleep(wait))
    }
    if (chunk.length > room) {
      // the rest of this body belongs to the lane that took the upper part over
      pending = (pending ?? Promise.resolve()).then(() => {
        this.reachedEnd = true
        throw new TransferError({ url: this.finalUrl, received: this.received, reason: "segment complete" })
      })
    }
    if (this.ticker.due(now)) Effect.runFork(this.host.bytesEvent)
    return pending
  }

  /** The platform HttpClient path: the same steps, one promise per batch. */
  override readonly accept = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, DownloadError> =>
    Effect.tryPromise({
      try: async () => {
        for (const chunk of chunks) await this.sink(chunk)
      },
      catch: (cause) =>
        typeof cause === "object" && cause !== null && "_tag" in cause
          ? (cause as DownloadError)
          : new StorageError({ operation: "write", reason: "Backend", detail: String(cause) })
    })

  override get bytesEvent(): Effect.Effect<void> {
    return this.host.bytesEvent
  }
}
