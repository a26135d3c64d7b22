/**
 * One artifact as several ranges at once. Lanes (`count` of them) take stripes of the file in order (plan.ts
 * `stripes`), each from a healthy source (spread over the ranked sources, then the fastest); a lane that has shown
 * its speed takes over the rest of a lane less than half as fast (plan.ts `takeOver`: a slow mirror's segment
 * goes to a faster one), and once no stripe is left, half of what the slowest lane has left (`steal`). A broken range resumes alone from where it stopped; a source
 * whose file changed (ETag / Last-Modified, If-Range) restarts the whole download from nothing; a bad piece
 * (prefix.ts) is fetched again from another source and the source that served it is recorded as disagreeing.
 * Each attempt is an ordinary fetchHttp attempt: it holds a global, a per-host and a per-remote permit.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Duration, Effect, Either } from "effect"
import * as Arr from "effect/Array"
import type { Algorithm, ComputedDigests } from "../../domain/digest.js"
import type { MultiHash } from "../../hash/Hasher.js"
import { DigestMismatch, type DownloadError, TransferError } from "../../domain/errors.js"
import { DownloadConfig, type DownloadSettings } from "../config.js"
import type { Delivered, FailoverContext } from "../failover.js"
import { fetchHttp } from "../fetchHttp.js"
import { ConnectionLimits } from "../limits.js"
import { isLocalFailure, isOriginFailure, isRetryable } from "../retryPolicy.js"
import { type Candidate, OriginHealth, originOfSpec, SourcePolicy } from "../sources.js"
import { Transfer } from "../transfer.js"
import { contiguousFrom, type Segment, segment, steal, stripes, takeOver } from "./plan.js"
import { type Pieces, Prefix, type PrefixStep } from "./prefix.js"
import { isPositional, type SegmentHost, type SegmentSource, SegmentTransfer, WriteBuffers } from "./segmentTransfer.js"

/** Whole-download restarts after a changed file before giving up on segments. */
const maxRestarts = 2
/** Times one piece may be fetched again. */
const maxPieceRefetches = 2
/** An idle lane looks for a slow one to take over this often, besides on every write. */
const idleLookMs = 200

/** Why segments stopped without an artifact: go on in one stream (the caller resets the temp object). */
export interface Fallback {
  readonly _tag: "Fallback"
  readonly reason: string
}

class Abort {
  constructor(
    readonly kind: "restart" | "fallback",
    readonly reason: string
  ) {}
}

/** One source during one segmented run: what its segments share (SegmentSource) and what is known of it. */
interface SourceState extends SegmentSource {
  ranges: "unknown" | "yes" | "no"
  /** Served a bad piece, or failed for good: no more ranges from it in this download. */
  out: boolean
  active: number
  bytes: number
  /** Bytes and milliseconds of its finished attempts, summed over lanes: the speed one connection gets from it. */
  doneBytes: number
  laneMs: number
  finalUrl: string
}

interface Extent {
  readonly source: SourceState
  readonly start: number
  end: number
  readonly seq: number
}

export interface SegmentedInput {
  readonly sources: Arr.NonEmptyReadonlyArray<Candidate>
  readonly size: number
  readonly count: number
  readonly pieces: Pieces | undefined
  readonly algorithms: ReadonlyArray<Algorithm>
  readonly expected: Readonly<Partial<Record<Algorithm, string>>>
  /**
   * What a first answer already gave (a diverted single stream): its validators, and, when it was stopped
   * midway, the bytes `[0, from)` it wrote and their whole-file hashes (segments cover the rest).
   */
  readonly seed?: {
    readonly source: Candidate
    readonly etag: string | undefined
    readonly lastModified: string | undefined
    readonly start?: { readonly from: number; readonly hash: MultiHash } | undefined
  }
}

/** A signal lanes wait on: anything that may give them work (a write, a failure, a re-queued piece). */
class Wake {
  private waiters: Array<() => void> = []
  notify(): void {
    const waiting = this.waiters
    this.waiters = []
    for (const w of waiting) w()
  }
  readonly wait = Effect.async<void>((resume) => {
    const done = () => resume(Effect.void)
    this.waiters.push(done)
    return Effect.sync(() => {
      this.waiters = this.waiters.filter((w) => w !== done)
    })
  })
}

const once = (input: SegmentedInput, ctx: FailoverContext, settings: DownloadSettings) =>
  Effect.gen(function* () {
    const limiter = yield* ConnectionLimits
    const health = yield* OriginHealth
    const { cooldownMs } = yield* SourcePolicy
    const { size, pieces } = input
    const temp = ctx.temp
    if (!isPositional(temp)) return yield* Effect.fail(new Abort("fallback", "the store cannot write in place"))
    const start = input.seed?.start
    const from = start?.from ?? 0
    const segments: Array<Segment> = stripes(size, input.count, pieces?.length, from)
    const align = pieces?.length
    const wake = new Wake()
    const sources: Arr.NonEmptyReadonlyArray<SourceState> = Arr.map(input.sources, (c) => {
      const seeded = input.seed?.source === c ? input.seed : undefined
      return {
        candidate: c,
        validators: { etag: seeded?.etag, lastModified: seeded?.lastModified },
        ranges: seeded !== undefined ? "yes" : "unknown",
        out: false,
        active: 0,
        bytes: 0,
        doneBytes: 0,
        laneMs: 0,
        finalUrl: c.spec.url
      }
    })
    const url = sources[0].candidate.spec.url
    const extents: Array<Extent> = []
    let seq = 0
    const pieceSince = new Map<number, number>()
    const refetches = new Map<number, number>()
    let lastError: DownloadError | undefined
    let settledBytes = from
    let finished = false
    const prefix = new Prefix(size, temp, ctx.hasher, input.algorithms, pieces, start)
    const inflight = new Set<Promise<void>>()
    const host: SegmentHost<SourceState> = {
      size,
      temp,
      wrote: (transfer, position, length) => {
        const segment = transfer.segment
        if (position === segment.settled) segment.settled = position + length
        settledBytes += length
        const state = transfer.source
        state.bytes += length
        state.ranges = "yes"
        state.finalUrl = transfer.finalUrl
        const last = extents[extents.length - 1]
        if (last !== undefined && last.source === transfer.source && last.end === position) last.end += length
        else extents.push({ source: transfer.source, start: position, end: position + length, seq: ++seq })
        wake.notify()
      },
      inflight,
      buffers: new WriteBuffers(),
      bytesEvent: Effect.suspend(() =>
        ctx.progress.emit({ _tag: "Bytes", id: ctx.id, url, received: settledBytes, size })
      )
    }

    /** The source for a lane's next attempt: its own while it serves, else the best one left (rank order). */
    const usable = (state: SourceState, s: Segment) =>
      !state.out && state.ranges !== "no" && s.excluded?.has(state.candidate) !== true
    /** Bytes per ms one connection gets from `c`; undefined before a megabyte came from it. */
    const speed = (state: SourceState): number | undefined =>
      state.doneBytes >= 1024 * 1024 && state.laneMs > 0 ? state.doneBytes / state.laneMs : undefined
    const pick = (s: Segment, current: SourceState | undefined): SourceState | undefined => {
      const now = Date.now()
      const open = sources.filter((c) => usable(c, s))
      const healthy = open.filter((c) => health.coolingUntil(originOfSpec(c.candidate.spec)) <= now)
      const pool = healthy.length > 0 ? healthy : open
      // a source a quarter as fast as another (per connection) gets no more work: its lanes move over
      let fastest = 0
      for (const c of pool) fastest = Math.max(fastest, speed(c) ?? 0)
      const fastEnough = (c: SourceState) => (speed(c) ?? fastest) * 4 >= fastest
      if (current !== undefined && pool.includes(current) && fastEnough(current)) return current
      const candidates = pool.filter(fastEnough)
      // the least busy of the best ones: spreads lanes over mirrors of one rank
      let best: SourceState | undefined
      for (const c of candidates) if (best === undefined || c.active < best.active) best = c
      return best ?? pool[0]
    }

    /**
     * Work for an idle lane, claimed (`active`) until it is done: the rest of a lane far slower than this one
     * (`rate`, bytes/ms, once shown), else the lowest range nobody fetches (the next stripe, a re-queued piece),
     * else half of the slowest one.
     */
    const work = (rate: number | undefined): Segment | undefined => {
      const claimed =
        (rate === undefined ? undefined : takeOver(segments, rate, align)) ??
        segments.find((s) => !s.active && s.pos < s.end) ??
        steal(segments, align)
      if (claimed !== undefined) claimed.active = true
      return claimed
    }

    const lane = (first: Segment | undefined, initial: SourceState | undefined) =>
      Effect.gen(function* () {
        let s = first
        if (s !== undefined) s.active = true
        let source = initial
        let failures = 0
        /** This lane's speed (bytes/ms) on its last attempt that showed one. */
        let rate: number | undefined
        while (!finished) {
          if (s === undefined || s.pos >= s.end) {
            if (s !== undefined) s.active = false
            s = work(rate)
            if (s === undefined) {
              // a slow lane writes seldom (a buffer at a time): look again for one to take over now and then
              yield* Effect.raceFirst(wake.wait, Effect.sleep(Duration.millis(idleLookMs)))
              continue
            }
          }
          source = pick(s, source)
          if (source === undefined) return yield* lastError ?? new TransferError({ url, received: settledBytes, reason: "no source left for a segment" })
          const state = source
          const transfer = new SegmentTransfer(host, s, source, ctx.id, ctx.hasher, ctx.progress)
          const started = Date.now()
          s.since = started
          s.sinceBytes = s.pos
          state.active += 1
          const result = yield* Effect.either(fetchHttp(transfer, settings, limiter))
          state.active -= 1
          // what the attempt gathered is written before the segment goes on (or anything judges it)
          yield* transfer.flush
          const ms = Date.now() - started
          state.laneMs += ms
          state.doneBytes += transfer.received
          if (transfer.received >= 1024 * 1024) rate = transfer.received / Math.max(1, ms)
          if (Either.isRight(result) || transfer.reachedEnd) {
            failures = 0
            if (Either.isRight(result)) health.succeeded(originOfSpec(source.candidate.spec))
            continue
          }
          const error = result.left
          if (transfer.rangeRefused === "changed") return yield* Effect.fail(new Abort("restart", error.message))
          if (transfer.rangeRefused === "unsupported") {
            state.ranges = "no"
            if (sources.every((c) => c.ranges === "no")) {
              return yield* Effect.fail(new Abort("fallback", "the server does not serve ranges"))
            }
            wake.notify()
            continue
          }
          if (isLocalFailure(error)) return yield* error
          lastError = error
          failures = transfer.received > 0 ? 1 : failures + 1
          if (isOriginFailure(error)) health.failed(originOfSpec(source.candidate.spec), Date.now() + cooldownMs)
          if (!isRetryable(error) || error._tag === "SizeMismatch" || failures >= settings.attempts) {
            state.out = true
            yield* ctx.progress.emit({ _tag: "SourceFailed", id: ctx.id, url: source.candidate.spec.url, errorTag: error._tag, message: error.message, servedSha256: undefined })
            if (ctx.sha256 !== undefined) {
              yield* Effect.ignore(ctx.catalog.recordFailure({ url: source.candidate.spec.url, sha256: ctx.sha256, errorTag: error._tag, at: new Date() }))
            }
            failures = 0
            wake.notify()
            continue
          }
          const delay = Math.min(
            Duration.toMillis(settings.retryMaxDelay),
            Duration.toMillis(settings.retryBaseDelay) * 2 ** (failures - 1)
          )
          yield* Effect.sleep(Duration.millis(delay))
        }
      })

    /** A piece that does not match: its sources are out, its range is fetched again by the next idle lane. */
    const badPiece = ({ index, start, end, algorithm, expected, actual }: Extract<PrefixStep, { _tag: "BadPiece" }>) =>
      Effect.gen(function* () {
        const since = pieceSince.get(index) ?? 0
        const blamed = new Set<SourceState>()
        for (const e of extents) if (e.seq > since && e.start < end && e.end > start) blamed.add(e.source)
        const times = (refetches.get(index) ?? 0) + 1
        refetches.set(index, times)
        const mismatch = new DigestMismatch({
          url: [...blamed][0]?.candidate.spec.url ?? url,
          algorithm: `${algorithm} of piece ${index}`,
          expected,
          actual
        })
        for (const c of blamed) {
          c.out = true
          yield* ctx.progress.emit({ _tag: "SourceFailed", id: ctx.id, url: c.candidate.spec.url, errorTag: mismatch._tag, message: mismatch.message, servedSha256: undefined })
          if (ctx.sha256 !== undefined) {
            yield* Effect.ignore(ctx.catalog.recordFailure({ url: c.candidate.spec.url, sha256: ctx.sha256, errorTag: mismatch._tag, at: new Date() }))
          }
        }
        lastError = mismatch
        if (times > maxPieceRefetches) return yield* mismatch
        pieceSince.set(index, seq)
        settledBytes -= end - start
        segments.push(segment(start, end, new Set([...blamed].map((b) => b.candidate))))
        wake.notify()
      })

    const hashing = Effect.gen(function* () {
      while (prefix.hashed < size) {
        const step = yield* prefix.step(contiguousFrom(segments, prefix.hashed))
        if (step._tag === "Wait") yield* wake.wait
        else if (step._tag === "BadPiece") yield* badPiece(step)
      }
      finished = true
      wake.notify()
    })

    const open = sources.filter((c) => c.ranges !== "no")
    const lanes = segments.slice(0, input.count).map((s, i) => lane(s, open[i % open.length]))
    yield* Effect.all([hashing, ...lanes], { concurrency: "unbounded", discard: true }).pipe(
      // writes still in flight belong to this run: settle them before anything resets the temp object
      Effect.ensuring(Effect.promise(() => Promise.allSettled([...inflight])))
    )
    yield* host.bytesEvent
    const digests = prefix.hash.digests()
    let main = sources[0]
    for (const c of sources) if (c.bytes > main.bytes) main = c
    return { digests, main: main.candidate, state: main }
  })

/**
 * Fetches the artifact in segments and verifies it. Delivered: every digest matched. Fallback: go on in one
 * stream (no source serves ranges, the file kept changing, or a whole-file digest failed without pieces to say
 * which source was wrong — one stream per source then finds it).
 */
export const fetchSegmented = (
  firstInput: SegmentedInput,
  ctx: FailoverContext
): Effect.Effect<Delivered | Fallback, DownloadError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const settings = yield* DownloadConfig
    let input = firstInput
    for (let restart = 0; ; restart++) {
      const outcome = yield* Effect.either(once(input, ctx, settings))
      if (Either.isLeft(outcome)) {
        const failure = outcome.left
        if (!(failure instanceof Abort)) return yield* Effect.fail(failure)
        yield* ctx.temp.reset
        // the bytes a first stream brought are gone with the reset: a restart covers the whole file
        input = { ...input, seed: undefined }
        if (failure.kind === "fallback" || restart >= maxRestarts) return { _tag: "Fallback", reason: failure.reason } satisfies Fallback
        yield* ctx.progress.emit({ _tag: "Retrying", id: ctx.id, url: input.sources[0].spec.url, attempt: restart + 2, reason: `${failure.reason}; starting over`, delayMs: 0 })
        continue
      }
      const { digests, main, state } = outcome.right
      for (const [algorithm, expected] of Object.entries(input.expected) as Array<[Algorithm, string]>) {
        if (digests[algorithm] !== expected) {
          const mismatch = new DigestMismatch({ url: main.spec.url, algorithm, expected, actual: digests[algorithm] ?? "(not computed)" })
          if (input.pieces !== undefined) return yield* mismatch
          return { _tag: "Fallback", reason: mismatch.message } satisfies Fallback
        }
      }
      const transfer = new Transfer(ctx.id, main.spec, ctx.temp, ctx.hasher, ctx.progress)
      transfer.completedInSegments(input.size, state.finalUrl, state.validators)
      return { transfer, digests: digests as ComputedDigests, source: main } satisfies Delivered
    }
  })
