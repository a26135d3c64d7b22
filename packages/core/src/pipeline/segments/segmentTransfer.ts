/**
 * One attempt at one segment: a `Transfer` (so fetchHttp runs it like any other: limits, auth, redirects, idle
 * timeout) whose bytes go to their place in the temp object (`writeAt`) instead of being hashed and appended.
 * Hashing happens in order elsewhere (prefix.ts), from what is written.
 */
import { Effect } from "effect"
import { type DownloadError, SizeMismatch, StorageError, TransferError } from "../../domain/errors.js"
import type { HasherService } from "../../hash/Hasher.js"
import type { BodySink } from "../../http/exchange.js"
import type { ProgressService } from "../../progress/Progress.js"
import type { TempObject } from "../../storage/Storage.js"
import type { Candidate } from "../sources.js"
import { Transfer } from "../transfer.js"
import type { Segment } from "./plan.js"

/** What the attempts of one download share: validators per source, the writes in flight, progress. */
export interface SegmentHost {
  readonly size: number
  readonly temp: TempObject
  /** ETag / Last-Modified of each source, set by its first answer and compared with every later one. */
  readonly validators: (source: Candidate) => { etag: string | undefined; lastModified: string | undefined }
  /** Called once bytes `[position, position + length)` are written (the prefix may grow). */
  readonly wrote: (transfer: SegmentTransfer, position: number, length: number) => void
  /** Writes not yet settled (awaited before the temp object is reset). */
  readonly inflight: Set<Promise<void>>
  readonly bytesEvent: Effect.Effect<void>
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const progressIntervalMs = 100

export class SegmentTransfer extends Transfer {
  /** Set when the body was stopped because the segment's (moved) end was reached: a success. */
  reachedEnd = false
  private lastTick = 0

  constructor(
    readonly host: SegmentHost,
    readonly segment: Segment,
    readonly source: Candidate,
    id: number,
    hasher: HasherService,
    progress: ProgressService
  ) {
    // no digests and no size on the segment's own spec: the whole file is hashed and sized in prefix.ts
    super(id, source.spec, host.temp, hasher, progress)
    const start = segment.pos
    this.window = {
      start,
      get end() {
        return segment.end
      }
    }
    // the source's validators, shared by all its segments (fetchHttp checks and sets them in one step)
    const shared = host.validators(source)
    Object.defineProperty(this, "etag", { get: () => shared.etag, set: (v) => (shared.etag = v) })
    Object.defineProperty(this, "lastModified", { get: () => shared.lastModified, set: (v) => (shared.lastModified = v) })
  }

  /** Never starts over: the next attempt asks for the rest of the segment (a new transfer from `segment.pos`). */
  override readonly restart: Effect.Effect<void, DownloadError> = Effect.void
  override readonly reset: Effect.Effect<void, DownloadError> = Effect.void

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
    this.received += piece.length
    const now = Date.now()
    this.lastActivity = now
    const writeAt = this.host.temp.writeAt!
    const write = writeAt(position, piece).then(
      () => this.host.wrote(this, position, piece.length),
      (cause: unknown) => {
        throw cause instanceof StorageError ? cause : new StorageError({ operation: "write", reason: String(cause) })
      }
    )
    const inflight = this.host.inflight
    inflight.add(write)
    void write.then(
      () => inflight.delete(write),
      () => inflight.delete(write)
    )
    let pending: Promise<void> = write
    const wait = this.throttle === undefined ? 0 : this.throttle(piece.length)
    if (wait > 0) {
      this.lastActivity = now + wait
      pending = pending.then(() => sleep(wait))
    }
    if (chunk.length > room) {
      // the rest of this body belongs to the lane that took the upper part over
      pending = pending.then(() => {
        this.reachedEnd = true
        throw new TransferError({ url: this.finalUrl, received: this.received, reason: "segment complete" })
      })
    }
    if (now - this.lastTick >= progressIntervalMs) {
      this.lastTick = now
      Effect.runFork(this.host.bytesEvent)
    }
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
          : new StorageError({ operation: "write", reason: String(cause) })
    })

  override get bytesEvent(): Effect.Effect<void> {
    return this.host.bytesEvent
  }
}
