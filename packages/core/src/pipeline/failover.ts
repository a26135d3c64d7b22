/**
 * Getting verified bytes into one temporary object from the first source that delivers them.
 *
 * Attempts: with a single source, the retry schedule as before (default 4 attempts). With several, another source
 * is the better retry: a failure moves on to the next source at once, and only the last source left gets the
 * whole schedule. A source that served wrong bytes (a digest mismatch) is asked again at most once in the download,
 * and only when it is the last one left: a mistyped digest or a bad mirror gives the same wrong bytes every time,
 * and each time is the whole file. So n sources cost at most (n - 1) + attempts requests, and a mismatch at most
 * n + 1. Progress numbers attempts by the requests actually made, across sources.
 * Every source failure is recorded in the catalog (with the sha256 the source served, when it disagreed).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Duration, Effect } from "effect"
import type { CatalogService } from "../catalog/Catalog.js"
import type { ComputedDigests, Sha256 } from "../domain/digest.js"
import type { DownloadError } from "../domain/errors.js"
import type { HasherService, MultiHash } from "../hash/Hasher.js"
import type { ProgressService } from "../progress/Progress.js"
import type { TempObject } from "../storage/Storage.js"
import { DownloadConfig, type DownloadSettings, settingsForRemote } from "./config.js"
import { fetchHttp } from "./fetchHttp.js"
import { ConnectionLimits } from "./limits.js"
import { recordRetry, traced } from "../telemetry/telemetry.js"
import { checkDigests } from "./digestCheck.js"
import { readFromFileSource } from "./fileAttempt.js"
import { isLocalFailure, isOriginFailure, retryAfterFirstFailure, retryAtSameSource, retrySchedule } from "./retryPolicy.js"
import { type Candidate, OriginHealth, originOfSpec, SourcePolicy } from "./sources.js"
import type { Revalidation } from "./revalidate.js"
import { type DivertDecision, type DivertHead, Transfer } from "./transfer.js"

/** One attempt, from the first byte (or where a resumable transfer stopped), into the transfer. */
const attemptOnce = (transfer: Transfer, settings: DownloadSettings, source: Candidate) =>
  Effect.gen(function* () {
    yield* transfer.restart
    if (transfer.spec.scheme === "file:") return yield* readFromFileSource(transfer, source)
    const limiter = yield* ConnectionLimits
    return yield* fetchHttp(transfer, settings, limiter)
  })

export interface Delivered {
  readonly transfer: Transfer
  readonly digests: ComputedDigests
  readonly source: Candidate
}

/**
 * A first attempt made before the pipeline took the download over (a batch's fast lane, fastLane.ts): it counts as
 * the first attempt at its source, so the retry policy allows no more requests than for a download it made itself.
 */
export interface PriorFailure {
  readonly url: string
  readonly error: DownloadError
  /** The sha256 of the bytes the source sent, when they had the wrong digest. */
  readonly servedSha256?: string | undefined
}

/**
 * A download's prior failure, handed out once: to the first attempt at its URL, whichever delivery path (one
 * stream, the first answer before segments, the one stream after segments gave up) makes it.
 */
export class PriorAttempt {
  #failure: PriorFailure | undefined
  constructor(failure: PriorFailure) {
    this.#failure = failure
  }
  /** The failure, if it was made at `url` and not handed out yet. */
  take(url: string): PriorFailure | undefined {
    const failure = this.#failure
    if (failure === undefined || failure.url !== url) return undefined
    this.#failure = undefined
    return failure
  }
}

export interface FailoverContext {
  readonly id: number
  readonly temp: TempObject
  readonly hasher: HasherService
  readonly progress: ProgressService
  readonly catalog: CatalogService
  /** The sha256 the request pins down, when known: failures are recorded against it. */
  readonly sha256: Sha256 | undefined
  /** A conditional request for one of the sources (revalidate.ts): a 304 from it delivers the stored artifact. */
  readonly revalidation?: Revalidation | undefined
  /** Asked on the head of a whole HTTP body (see `Transfer.divert`): segments now, one stream, or watch it. */
  readonly divert?: ((head: Omit<DivertHead, "received">) => DivertDecision) | undefined
  /** The failed first attempt at one of the sources, made before (counted as this download's first there). */
  readonly prior?: PriorAttempt | undefined
}

/** The first answer announced a large body that the download fetches in segments instead (pipeline/segments). */
export interface Diverted {
  readonly _tag: "Diverted"
  readonly head: DivertHead
  readonly source: Candidate
  readonly finalUrl: string
  /** The whole-file hashes of the `head.received` bytes already written (a watched body stopped midway). */
  readonly hash: MultiHash
}

/** Tries `sources` in order until one delivers bytes that verify. */
export const fromFirstGoodSource = (
  sources: ReadonlyArray<Candidate>,
  ctx: FailoverContext
): Effect.Effect<Delivered | Diverted, DownloadError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const settings = yield* DownloadConfig
    const health = yield* OriginHealth
    const { cooldownMs } = yield* SourcePolicy
    const single = sources.length === 1
    let attempts = 0
    let lastError: DownloadError | undefined
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i]!
      const last = i === sources.length - 1
      const revalidation = ctx.revalidation?.url === source.spec.url ? ctx.revalidation : undefined
      const transfer = new Transfer(ctx.id, source.spec, ctx.temp, ctx.hasher, ctx.progress, settings.maxSize, {
        conditional: revalidation?.headers,
        divert: source.spec.scheme === "file:" ? undefined : ctx.divert
      })
      let servedSha256: string | undefined
      /** Times this source served bytes with the wrong digest in this download. */
      let mismatches = 0
      // the source's remote may have its own retry policy; fetchHttp applies its timeouts itself
      // built only after a first failure (see retryAfterFirstFailure)
      const retryHere = (error: DownloadError) =>
        transfer.divertedBy(error) === undefined && retryAtSameSource(error, { lastSource: single || last, mismatches })
      const schedule = () =>
        retrySchedule(settingsForRemote(settings, source.spec.remote), (_attempt, error, delay) =>
          // the schedule steps before the retry predicate is asked: announce only a retry that will happen
          retryHere(error)
            ? Effect.zipRight(recordRetry(error._tag), ctx.progress.emit({
                _tag: "Retrying",
                id: ctx.id,
                url: source.spec.url,
                // the request about to be made, counted across sources (the schedule counts its own retries only)
                attempt: attempts + 1,
                reason: `${error._tag}: ${error.message}`,
                delayMs: Duration.toMillis(delay)
              }))
            : Effect.void
        )
      const request = Effect.zipRight(
        Effect.sync(() => {
          attempts += 1
          servedSha256 = undefined
        }),
        Effect.zipRight(
          Effect.suspend(() =>
            attemptOnce(transfer, settings, source).pipe(
              traced("cargohold.attempt", { "url.full": source.spec.url, "cargohold.attempt": attempts })
            )
          ),
          // a 304 delivers no bytes: the catalog's digests of the stored artifact it confirmed stand
          Effect.suspend(() =>
            transfer.notModified && revalidation !== undefined
              ? Effect.succeed(revalidation.digests)
              : checkDigests(transfer, (sha) => {
                  servedSha256 = sha
                  mismatches += 1
                })
          )
        )
      )
      // the attempt made before the pipeline took over (see PriorFailure) is replayed as this source's first
      const oneTry = Effect.suspend(() => {
        const made = ctx.prior?.take(source.spec.url)
        if (made === undefined) return request
        attempts += 1
        servedSha256 = made.servedSha256
        if (made.error._tag === "DigestMismatch") mismatches += 1
        return Effect.fail(made.error)
      })
      const result = yield* Effect.either(
        single || last ? retryAfterFirstFailure(oneTry, schedule, retryHere) : oneTry
      )
      const origin = originOfSpec(source.spec)
      if (result._tag === "Right") {
        health.succeeded(origin)
        return { transfer, digests: result.right, source }
      }
      const divertedHead = transfer.divertedBy(result.left)
      if (divertedHead !== undefined) {
        return { _tag: "Diverted", head: divertedHead, source, finalUrl: transfer.finalUrl, hash: transfer.hash } satisfies Diverted
      }
      const error = result.left
      if (isLocalFailure(error)) return yield* error
      lastError = error
      if (isOriginFailure(error)) health.failed(origin, Date.now() + cooldownMs)
      if (ctx.sha256 !== undefined) {
        yield* Effect.ignore(
          ctx.catalog.recordFailure({
            url: source.spec.url,
            sha256: ctx.sha256,
            errorTag: error._tag,
            servedSha256,
            at: new Date()
          })
        )
      }
      yield* ctx.progress.emit({
        _tag: "SourceFailed",
        id: ctx.id,
        url: source.spec.url,
        errorTag: error._tag,
        message: error.message,
        servedSha256
      })
      const next = sources[i + 1]
      if (next !== undefined) {
        yield* ctx.progress.emit({
          _tag: "Retrying",
          id: ctx.id,
          url: next.spec.url,
          attempt: attempts + 1,
          reason: `${error._tag}: ${error.message}; trying the next source`,
          delayMs: 0
        })
      }
    }
    return yield* lastError!
  })
