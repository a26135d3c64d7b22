/**
 * The state of one download across its attempts, and the lean per-chunk path: size check, hashing, writing.
 * One Effect per chunk batch, everything else synchronous.
 */
import { Effect } from "effect"
import { type Algorithm, digestEntries } from "../domain/digest.js"
import { type DownloadError, SizeLimitExceeded, SizeMismatch, StorageError, TimeoutError, TransferError } from "../domain/errors.js"
import type { DownloadSpec } from "../domain/request.js"
import { type HasherService, MultiHash } from "../hash/Hasher.js"
import type { BodySink, Peer } from "../http/exchange.js"
import type { ProgressService } from "../progress/Progress.js"
import { ProgressTicker } from "../progress/ticker.js"
import type { TempObject } from "../storage/Storage.js"

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A storage failure on the lean path as the typed error (a backend may reject with something else). */
const asStorageError = (cause: unknown): DownloadError =>
  cause instanceof StorageError ? cause : new StorageError({ operation: "write", reason: "Backend", detail: String(cause) })

/** What the first answer said about a large body (see `Transfer.divert`). */
export interface DivertHead {
  readonly total: number
  readonly acceptRanges: boolean
  readonly etag: string | undefined
  readonly lastModified: string | undefined
  /** Bytes of the body already hashed and written when it was stopped (0: stopped at its head). */
  readonly received: number
}

/**
 * What `divert` decides on a large body's head: go on in segments now, go on in one stream, or watch it — one
 * stream while it runs at least at the given rate, segments once it shows it does not (see `watchMs`).
 */
export type DivertDecision = "now" | { readonly watchBelowBytesPerSecond: number } | false

/** The question asked on a large body's head (see `Transfer.divert`). */
export type Divert = (head: Omit<DivertHead, "received">) => DivertDecision

/**
 * A watched body is judged after this long: long enough to get past the first burst of the socket buffers,
 * short enough to cost little of a capped stream.
 */
export const watchMs = 300

/**
 * `segmentBelowRate` by default: 0, no watching — ranges from the first answer's head. Measured (README,
 * Performance): watching cost the capped case most of its gain, since nginx's `limit_rate` (like a CDN's token
 * bucket) lets the first second's worth through at once: the first 300 ms of a 16 MiB/s stream ran at ≈ 50 MiB/s
 * and it stayed one stream (19 s instead of 3). On a fast uncapped link (loopback: one stream of 1 GiB at
 * 165–270 MiB/s) segments cost ≈ 40% more wall time (the read-back for the in-order hashes on a CPU-bound client):
 * a program that knows its links are fast sets a rate, or `segments: 1`.
 */
export const defaultSegmentBelowRate = 0

export class Transfer {
  /** Body bytes accepted in the current attempt (including a resumed prefix). */
  received = 0
  /** Total size announced for the current attempt, when known. */
  total: number | undefined = undefined
  lastActivity = Date.now()
  phase: "response" | "idle-read" = "response"
  finalUrl: string
  etag: string | undefined = undefined
  lastModified: string | undefined = undefined
  /** The connection that served the body (provenance), when the transport knows. */
  peer: Peer | undefined = undefined
  hash: MultiHash
  /**
   * Set when a body broke off after some bytes from a server that named a validator (ETag or Last-Modified):
   * the next HTTP attempt asks for the rest instead of starting over.
   */
  resumable = false
  /**
   * Validators to send on a request from byte 0 (If-None-Match / If-Modified-Since, see revalidate.ts); every
   * transfer path sends them, and sets `notModified` instead of reading a body when the answer is a 304.
   */
  conditional: Readonly<Record<string, string>> | undefined = undefined
  notModified = false
  /** Bytes/s limits of this transfer's remote and of the process: milliseconds to wait for `bytes`. */
  throttle: ((bytes: number) => number) | undefined = undefined
  /**
   * A segment of a segmented download (pipeline/segments): the bytes `[start, end)` of the file, `received`
   * counting from `start`; every request asks for a range. Undefined: the whole body.
   */
  window: { readonly start: number; end: number } | undefined = undefined
  /** Set when a ranged request got something other than its range: the file changed, or ranges are not served. */
  rangeRefused: "changed" | "unsupported" | undefined = undefined
  /** The total size a 206's Content-Range named (segments). */
  rangeTotal: number | undefined = undefined
  /**
   * Asked once the head of a whole body from byte 0 is in (status 200, length announced): true stops this body
   * (the download goes on in segments, see pipeline/segments), recorded in `diverted`.
   */
  divert: Divert | undefined = undefined
  diverted: DivertHead | undefined = undefined
  /** A body being watched (`divert` said so): its head, when the watch started, the bytes then, the rate to keep. */
  watch:
    | { readonly head: Omit<DivertHead, "received">; readonly since: number; readonly sinceBytes: number; readonly fastBytesPerMs: number }
    | undefined = undefined
  /** When the next Bytes event is due. */
  private readonly ticker = new ProgressTicker()
  private readonly algorithms: ReadonlyArray<Algorithm>

  constructor(
    readonly id: number,
    readonly spec: DownloadSpec,
    readonly temp: TempObject,
    private readonly hasher: HasherService,
    readonly progress: ProgressService,
    /** The largest body accepted (`DownloadSettings.maxSize`). */
    private readonly maxSize: number = Number.POSITIVE_INFINITY,
    /** Set at the start: the validators to send from byte 0, and the question that may divert a large body. */
    start: {
      readonly conditional?: Readonly<Record<string, string>> | undefined
      readonly divert?: Divert | undefined
    } = {}
  ) {
    this.finalUrl = spec.url
    this.conditional = start.conditional
    this.divert = start.divert
    this.algorithms = ["sha256", ...digestEntries(spec.digests).map(([algorithm]) => algorithm)]
    this.hash = new MultiHash(hasher, this.algorithms)
  }

  /**
   * Prepares the next attempt: keeps the bytes of a resumable HTTP transfer (hash state and temp object go on
   * where they stopped), otherwise starts over from byte 0.
   */
  readonly restart: Effect.Effect<void, DownloadError> = Effect.suspend(() =>
    this.resumable && this.spec.scheme !== "file:" && this.temp.written() === this.received ? Effect.void : this.reset
  )

  /** Starts over from byte 0: a fresh hash and an empty temporary object. */
  readonly reset: Effect.Effect<void, DownloadError> = Effect.suspend(() => {
    this.resumable = false
    if (this.received === 0 && this.temp.written() === 0) return Effect.void
    this.received = 0
    this.hash = new MultiHash(this.hasher, this.algorithms)
    return this.temp.reset
  })

  /** A `file://` source opened: its size is the total, and the idle timeout counts reads from now. */
  openedFile(size: number): void {
    this.total = size
    this.touch("idle-read")
  }

  /**
   * The watch's verdict once `watchMs` passed: undefined (go on; one stream for good when it was fast), or the
   * error that stops a slow body — `diverted` then says how far it got (those bytes stay hashed and written).
   */
  private judged(now: number): TransferError | undefined {
    const watch = this.watch
    if (watch === undefined || now - watch.since < watchMs) return undefined
    this.watch = undefined
    if ((this.received - watch.sinceBytes) / (now - watch.since) >= watch.fastBytesPerMs) return undefined
    this.diverted = { ...watch.head, received: this.received }
    return new TransferError({ url: this.finalUrl, received: this.received, reason: "a slow large body: the rest comes in segments" })
  }

  touch(phase: "response" | "idle-read"): void {
    this.phase = phase
    this.lastActivity = Date.now()
  }

  /**
   * Accepts a batch of body chunks: stops a body that runs past the expected size within this batch; every batch
   * counts as activity for the idle timeout. `quiet`: a small body, whose caller emits the byte count at its end
   * (no event here).
   */
  readonly accept = (chunks: ReadonlyArray<Uint8Array>, quiet = false): Effect.Effect<void, DownloadError> => {
    let bytes = 0
    for (let i = 0; i < chunks.length; i++) bytes += chunks[i]!.length
    const received = this.received + bytes
    const expected = this.spec.size
    if (expected !== undefined && received > expected) {
      return Effect.fail(new SizeMismatch({ url: this.spec.url, expected, actual: received }))
    }
    if (received > this.maxSize) {
      return Effect.fail(new SizeLimitExceeded({ url: this.spec.url, limit: this.maxSize, actual: received }))
    }
    for (let i = 0; i < chunks.length; i++) this.hash.update(chunks[i]!)
    this.received = received
    const now = Date.now()
    this.lastActivity = now
    const wait = this.throttle === undefined ? 0 : this.throttle(bytes)
    let write: Effect.Effect<void, DownloadError> = this.temp.write(chunks)
    if (wait > 0) {
      // a rate limit is not idleness: the watchdog counts from the end of the wait
      this.lastActivity = now + wait
      write = Effect.zipRight(write, Effect.sleep(wait))
    }
    const stop = this.watch === undefined ? undefined : this.judged(now)
    if (stop !== undefined) write = Effect.zipRight(write, Effect.fail(stop))
    if (quiet || !this.ticker.due(now)) return write
    return Effect.zipRight(write, this.bytesEvent)
  }

  /**
   * The lean path's per-chunk step (see http/exchange.ts): the same checks as `accept`, with no Effect per chunk.
   * Throws the `DownloadError` that stops the body; returns the promise the next chunk waits for (a write behind,
   * a rate limit), if any.
   */
  readonly sink: BodySink = (chunk) => {
    const received = this.received + chunk.length
    const expected = this.spec.size
    if (expected !== undefined && received > expected) {
      throw new SizeMismatch({ url: this.spec.url, expected, actual: received })
    }
    if (received > this.maxSize) {
      throw new SizeLimitExceeded({ url: this.spec.url, limit: this.maxSize, actual: received })
    }
    this.hash.update(chunk)
    this.received = received
    const now = Date.now()
    this.lastActivity = now
    const temp = this.temp
    let pending: Promise<void> | undefined =
      temp.append !== undefined
        ? temp.append(chunk)
        : Effect.runPromise(Effect.either(temp.write([chunk]))).then((result) => {
            if (result._tag === "Left") throw result.left
          })
    const wait = this.throttle === undefined ? 0 : this.throttle(chunk.length)
    if (wait > 0) {
      // a rate limit is not idleness: the watchdog counts from the end of the wait
      this.lastActivity = now + wait
      pending = pending === undefined ? sleep(wait) : pending.then(() => sleep(wait))
    }
    if (this.ticker.due(now)) Effect.runFork(this.bytesEvent)
    const stop = this.watch === undefined ? undefined : this.judged(now)
    if (stop !== undefined) {
      // this chunk is taken (hashed, handed to the store); the body stops after it
      if (pending === undefined) throw stop
      pending = pending.then(() => Promise.reject(stop))
    }
    return pending === undefined
      ? undefined
      : pending.catch((cause) => Promise.reject(cause === stop ? stop : asStorageError(cause)))
  }

  /** Emits the current byte count (also used at the end of a body). */
  get bytesEvent(): Effect.Effect<void> {
    return this.progress.emit({
      _tag: "Bytes",
      id: this.id,
      url: this.spec.url,
      received: this.received,
      size: this.total ?? this.spec.size
    })
  }

  /**
   * Runs `effect` under an idle watchdog fiber: it fails with `TimeoutError` when neither headers nor body bytes
   * arrive for `idleMs`. There is no total timeout. The fallback when requests cannot be guarded (see
   * http/requestGuard.ts, which does the same with one shared timer and no fiber).
   */
  withIdleTimeout<A, R>(effect: Effect.Effect<A, DownloadError, R>, idleMs: number): Effect.Effect<A, DownloadError, R> {
    const tick = Math.max(10, Math.min(1000, Math.floor(idleMs / 4)))
    const watchdog: Effect.Effect<never, DownloadError> = Effect.suspend(() =>
      Date.now() - this.lastActivity > idleMs
        ? Effect.fail(new TimeoutError({ url: this.finalUrl, phase: this.phase, timeoutMs: idleMs }))
        : Effect.sleep(tick)
    ).pipe(Effect.forever)
    return Effect.raceFirst(effect, watchdog)
  }
}
