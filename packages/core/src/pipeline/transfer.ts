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
import { judge, type StreamWatch, startWatch } from "./segments/watch.js"

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
 * stream while it runs at least at the given rate, segments once it shows it does not (segments/watch.ts).
 */
export type DivertDecision = "now" | { readonly watchBelowBytesPerSecond: number } | false

/** The question asked on a large body's head (see `Transfer.divert`). */
export type Divert = (head: Omit<DivertHead, "received">) => DivertDecision

/** A source's validators as its answers named them (ETag / Last-Modified). */
export interface Validators {
  etag: string | undefined
  lastModified: string | undefined
}

/** A body being watched (`divert` said so): its head and the current window (segments/watch.ts). */
interface Watch {
  readonly head: Omit<DivertHead, "received">
  readonly window: StreamWatch
}

/**
 * The state is written here only, one method per step of an attempt (the transports and segments/ say what
 * happened, this class records it); outside it reads through getters.
 */
export class Transfer {
  /** Body bytes accepted in the current attempt (including a resumed prefix); segments count their own. */
  protected receivedBytes = 0
  /** The last activity, for the idle timeout; a segment's sink counts its own. */
  protected activityAt = Date.now()
  /** Bytes/s limits of this transfer's remote and of the process: milliseconds to wait for `bytes`. */
  protected throttle: ((bytes: number) => number) | undefined = undefined
  /** Milliseconds this transfer waited on those limits (a watched stream held by them is not slow). */
  private throttledMs = 0
  /** When the next Bytes event is due (one interval for every transfer, progress/ticker.ts). */
  protected readonly ticker = new ProgressTicker()
  private totalBytes: number | undefined = undefined
  private currentPhase: "response" | "idle-read" = "response"
  private servedFrom: string
  /** ETag / Last-Modified as the answers named them; a segment's are its source's, shared by its segments. */
  private readonly validators: Validators
  private servedBy: Peer | undefined = undefined
  private bodyHash: MultiHash
  /**
   * Set when a body broke off after some bytes from a server that named a validator (ETag or Last-Modified):
   * the next HTTP attempt asks for the rest instead of starting over.
   */
  private resumable = false
  private wasNotModified = false
  private refusedRange: "changed" | "unsupported" | undefined = undefined
  private rangeTotalBytes: number | undefined = undefined
  private divertedHead: DivertHead | undefined = undefined
  /** The error that stopped the body `divertedHead` describes: only that failure is a diversion. */
  private divertStop: TransferError | undefined = undefined
  private watch: Watch | undefined = undefined
  private readonly algorithms: ReadonlyArray<Algorithm>
  /**
   * Validators to send on a request from byte 0 (If-None-Match / If-Modified-Since, see revalidate.ts); every
   * transfer path sends them, and records `notModified` instead of reading a body when the answer is a 304.
   */
  readonly conditional: Readonly<Record<string, string>> | undefined
  /**
   * Asked once the head of a whole body from byte 0 is in (status 200, length announced): true stops this body
   * (the download goes on in segments, see pipeline/segments), recorded for `divertedBy`.
   */
  readonly divert: Divert | undefined
  /**
   * A segment of a segmented download (pipeline/segments): the bytes `[start, end)` of the file, `received`
   * counting from `start`; every request asks for a range. Undefined: the whole body.
   */
  readonly window: { readonly start: number; readonly end: number } | undefined

  constructor(
    readonly id: number,
    readonly spec: DownloadSpec,
    readonly temp: TempObject,
    private readonly hasher: HasherService,
    readonly progress: ProgressService,
    /** The largest body accepted (`DownloadSettings.maxSize`). */
    private readonly maxSize: number = Number.POSITIVE_INFINITY,
    /** Set at the start: the validators to send from byte 0, the question that may divert a large body, a segment. */
    start: {
      readonly conditional?: Readonly<Record<string, string>> | undefined
      readonly divert?: Divert | undefined
      readonly window?: { readonly start: number; readonly end: number } | undefined
      readonly validators?: Validators | undefined
    } = {}
  ) {
    this.servedFrom = spec.url
    this.conditional = start.conditional
    this.divert = start.divert
    this.window = start.window
    this.validators = start.validators ?? { etag: undefined, lastModified: undefined }
    this.algorithms = ["sha256", ...digestEntries(spec.digests).map(([algorithm]) => algorithm)]
    this.bodyHash = new MultiHash(hasher, this.algorithms)
  }

  get received(): number { return this.receivedBytes }
  /** Total size announced for the current attempt, when known. */
  get total(): number | undefined { return this.totalBytes }
  get lastActivity(): number { return this.activityAt }
  get phase(): "response" | "idle-read" { return this.currentPhase }
  /** The URL that answered (after redirects). */
  get finalUrl(): string { return this.servedFrom }
  get etag(): string | undefined { return this.validators.etag }
  get lastModified(): string | undefined { return this.validators.lastModified }
  /** The connection that served the body (provenance), when the transport knows. */
  get peer(): Peer | undefined { return this.servedBy }
  get hash(): MultiHash { return this.bodyHash }
  /** The answer was a 304 to the conditional request: there was no body. */
  get notModified(): boolean { return this.wasNotModified }
  /** Set when a ranged request got something other than its range: the file changed, or ranges are not served. */
  get rangeRefused(): "changed" | "unsupported" | undefined { return this.refusedRange }
  /** The total size a 206's Content-Range named (segments). */
  get rangeTotal(): number | undefined { return this.rangeTotalBytes }
  /**
   * The head of the body `divert` stopped and how far it got, when `error` is what stopped it and every byte it
   * counts is written; undefined for any other failure (a write that failed as the body was stopped included:
   * its bytes are hashed but not all in the temp object).
   */
  divertedBy(error: DownloadError): DivertHead | undefined {
    const head = this.divertedHead
    if (head === undefined || error !== this.divertStop) return undefined
    // stopped at its head, nothing is kept (segments/index.ts empties the temp object); midway, all of it is
    return head.received === 0 || this.temp.written() === head.received ? head : undefined
  }

  /** An attempt starts under its remote's and the process's rate limits. */
  limitedBy(throttle: ((bytes: number) => number) | undefined): void {
    this.throttle = throttle
  }

  /** An HTTP attempt sends its request: whether it could resume is decided by how the last one ended. */
  attemptStarts(): void {
    this.resumable = false
    this.divertedHead = undefined
    this.divertStop = undefined
  }

  /** An attempt failed; `resumable`: its body broke off after bytes from a server that named a validator. */
  attemptFailed(resumable: boolean): void {
    this.resumable = resumable
  }

  /** An answer that is not a redirect came from `url`. */
  answeredFrom(url: string): void {
    this.servedFrom = url
  }

  /** A ranged request got a whole body or a refusal: the file changed (`If-Range`), or ranges are not served. */
  rangeNotServed(why: "changed" | "unsupported"): void {
    this.refusedRange = why
  }

  /**
   * A 206 for a segment's range: the whole size its Content-Range named, and the source's validators when the
   * first answer sets them (checked and set in one synchronous step: segments of one source share them).
   */
  rangeAccepted(total: number | undefined, etag: string | undefined, lastModified: string | undefined): void {
    this.rangeTotalBytes = total
    const validators = this.validators
    validators.etag ??= etag
    validators.lastModified ??= lastModified
  }

  /** A 200: the whole body from byte 0, with these validators. */
  answeredWhole(etag: string | undefined, lastModified: string | undefined): void {
    const validators = this.validators
    validators.etag = etag
    validators.lastModified = lastModified
  }

  /** A 304 to the conditional request: what the catalog holds is current. */
  answeredNotModified(): void {
    this.wasNotModified = true
  }

  /** A body starts over `peer`; `total`: its announced end (from byte 0), when known. Any earlier watch ends. */
  bodyStarts(peer: Peer | undefined, total: number | undefined): void {
    this.servedBy = peer
    this.totalBytes = total
    this.watch = undefined
  }

  /** `divert` said "now": this body is dropped at its head, the download goes on in segments; the error to stop it with. */
  divertedAtHead(head: Omit<DivertHead, "received">): TransferError {
    this.divertedHead = { ...head, received: 0 }
    this.divertStop = new TransferError({ url: this.servedFrom, received: 0, reason: "large body: fetched in segments instead" })
    return this.divertStop
  }

  /** `divert` said to watch: the body goes on in one stream while it keeps `bytesPerSecond` (segments/watch.ts). */
  watchedFrom(head: Omit<DivertHead, "received">, bytesPerSecond: number): void {
    this.watch = { head, window: startWatch(bytesPerSecond, Date.now(), this.receivedBytes, this.throttledMs) }
  }

  /** The whole file came in segments (pipeline/segments): its size, the URL and validators of the main source. */
  completedInSegments(size: number, finalUrl: string, validators: Readonly<Validators>): void {
    this.receivedBytes = size
    this.totalBytes = size
    this.servedFrom = finalUrl
    this.answeredWhole(validators.etag, validators.lastModified)
  }

  /**
   * Prepares the next attempt: keeps the bytes of a resumable HTTP transfer (hash state and temp object go on
   * where they stopped), otherwise starts over from byte 0.
   */
  readonly restart: Effect.Effect<void, DownloadError> = Effect.suspend(() =>
    this.resumable && this.spec.scheme !== "file:" && this.temp.written() === this.receivedBytes ? Effect.void : this.reset
  )

  /** Starts over from byte 0: a fresh hash and an empty temporary object. */
  readonly reset: Effect.Effect<void, DownloadError> = Effect.suspend(() => {
    this.resumable = false
    if (this.receivedBytes === 0 && this.temp.written() === 0) return Effect.void
    this.receivedBytes = 0
    this.bodyHash = new MultiHash(this.hasher, this.algorithms)
    return this.temp.reset
  })

  /** A `file://` source opened: its size is the total, and the idle timeout counts reads from now. */
  openedFile(size: number): void {
    this.totalBytes = size
    this.touch("idle-read")
  }

  /**
   * The watch's verdict as a chunk arrives (segments/watch.ts): undefined (go on in one stream), or the error
   * that stops a slow body — `divertedBy` then says how far it got (those bytes stay hashed and written).
   */
  private judged(watch: Watch, now: number): TransferError | undefined {
    const verdict = judge(watch.window, now, this.receivedBytes, watch.head.total, this.throttledMs)
    if (verdict._tag === "Pending") return undefined
    if (verdict._tag === "Fast") {
      this.watch = { head: watch.head, window: verdict.next }
      return undefined
    }
    this.watch = undefined
    if (verdict._tag === "Done") return undefined
    this.divertedHead = { ...watch.head, received: this.receivedBytes }
    this.divertStop = new TransferError({ url: this.servedFrom, received: this.receivedBytes, reason: "a slow large body: the rest comes in segments" })
    return this.divertStop
  }

  /** A request is sent ("response") or a body is being read ("idle-read"): the idle timeout counts from now. */
  touch(phase: "response" | "idle-read"): void {
    this.currentPhase = phase
    this.activityAt = Date.now()
  }

  /**
   * Accepts a batch of body chunks: stops a body that runs past the expected size within this batch; every batch
   * counts as activity for the idle timeout. `quiet`: a small body, whose caller emits the byte count at its end
   * (no event here).
   */
  readonly accept = (chunks: ReadonlyArray<Uint8Array>, quiet = false): Effect.Effect<void, DownloadError> => {
    let bytes = 0
    for (let i = 0; i < chunks.length; i++) bytes += chunks[i]!.length
    const received = this.receivedBytes + bytes
    const expected = this.spec.size
    if (expected !== undefined && received > expected) {
      return Effect.fail(new SizeMismatch({ url: this.spec.url, expected, actual: received }))
    }
    if (received > this.maxSize) {
      return Effect.fail(new SizeLimitExceeded({ url: this.spec.url, limit: this.maxSize, actual: received }))
    }
    for (let i = 0; i < chunks.length; i++) this.bodyHash.update(chunks[i]!)
    this.receivedBytes = received
    const now = Date.now()
    this.activityAt = now
    const wait = this.throttle === undefined ? 0 : this.throttle(bytes)
    let write: Effect.Effect<void, DownloadError> = this.temp.write(chunks)
    if (wait > 0) {
      // a rate limit is not idleness: the watchdog counts from the end of the wait
      this.activityAt = now + wait
      this.throttledMs += wait
      write = Effect.zipRight(write, Effect.sleep(wait))
    }
    const stop = this.watch === undefined ? undefined : this.judged(this.watch, now)
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
    const received = this.receivedBytes + chunk.length
    const expected = this.spec.size
    if (expected !== undefined && received > expected) {
      throw new SizeMismatch({ url: this.spec.url, expected, actual: received })
    }
    if (received > this.maxSize) {
      throw new SizeLimitExceeded({ url: this.spec.url, limit: this.maxSize, actual: received })
    }
    this.bodyHash.update(chunk)
    this.receivedBytes = received
    const now = Date.now()
    this.activityAt = now
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
      this.activityAt = now + wait
      this.throttledMs += wait
      pending = pending === undefined ? sleep(wait) : pending.then(() => sleep(wait))
    }
    if (this.ticker.due(now)) Effect.runFork(this.bytesEvent)
    const stop = this.watch === undefined ? undefined : this.judged(this.watch, now)
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
      received: this.receivedBytes,
      size: this.totalBytes ?? this.spec.size
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
      Date.now() - this.activityAt > idleMs
        ? Effect.fail(new TimeoutError({ url: this.servedFrom, phase: this.currentPhase, timeoutMs: idleMs }))
        : Effect.sleep(tick)
    ).pipe(Effect.forever)
    return Effect.raceFirst(effect, watchdog)
  }
}
