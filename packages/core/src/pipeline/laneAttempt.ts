/**
 * The fast lane's one attempt (fastLane.ts): a GET through the lean exchange under the idle watchdog, the whole
 * body of the promised size hashed and written by the transfer's sink, every digest checked, then the pipeline's
 * commit-and-record step. It makes the same decisions as the pipeline's attempt with the same functions
 * (httpRequest.ts for sending and failures, httpAnswer.ts for refusals and host signals, digestCheck.ts), minus
 * what a small pinned download from one URL never needs: redirects, resume, segments, revalidation.
 *
 * A failed attempt leaves nothing (its temp object goes) and is handed over as a `PriorFailure`, which the pipeline
 * counts as its first attempt at the URL. Only a redirect is handed over with no attempt counted.
 */
import { Duration, Effect } from "effect"
import type { Artifact } from "../domain/artifact.js"
import { type DownloadError, SizeMismatch } from "../domain/errors.js"
import type { DownloadSpec } from "../domain/request.js"
import type { HasherService } from "../hash/Hasher.js"
import type { Exchange, ExchangeResponse } from "../http/exchange.js"
import { redirectStatuses } from "../http/redirects.js"
import { RequestGuard, release, watch } from "../http/requestGuard.js"
import type { ProgressService } from "../progress/Progress.js"
import type { RemoteConnection } from "../remote/policy.js"
import type { StorageService, TempObject } from "../storage/Storage.js"
import { commitAndRecord, type Fetched, fetchedArtifact, fetchedBy } from "./commit.js"
import type { DownloadSettings } from "./config.js"
import { checkDigests } from "./digestCheck.js"
import type { RecordDownload } from "./download.js"
import type { PriorFailure } from "./failover.js"
import { announcedLength, recovered, refused } from "./httpAnswer.js"
import {
  bodyFailure,
  discardLimit,
  type FailureContext,
  failBeforeAnswer,
  proxyOf,
  requestHeaders,
  requestIdentity,
  timedOut
} from "./httpRequest.js"
import type { ConnectionLimiter } from "./limits.js"
import { isLocalFailure } from "./retryPolicy.js"
import { type OriginHealthService, originOfSpec } from "./sources.js"
import { Transfer } from "./transfer.js"

/** The lane gave the request up; `prior` is its failed attempt, when it made one the pipeline should count. */
export interface HandOver {
  readonly _tag: "HandOver"
  readonly prior: PriorFailure | undefined
}

const handOver = (prior?: PriorFailure): HandOver => ({ _tag: "HandOver", prior })

export const isHandOver = (outcome: Artifact | Fetched | HandOver): outcome is HandOver =>
  "_tag" in outcome && outcome._tag === "HandOver"

/** What the lane's attempts share within one batch: the services, read once. */
export interface LaneServices {
  readonly storage: StorageService
  readonly open: NonNullable<StorageService["open"]>
  readonly limiter: ConnectionLimiter
  readonly hasher: HasherService
  readonly health: OriginHealthService
  readonly progress: ProgressService
  readonly record: RecordDownload
  /** Hosts whose further requests in the batch go to the pipeline (see `declines`). */
  readonly declined: Set<string>
}

/** One attempt of the lane: the request, where it goes, and what it goes through. */
export interface LaneAttempt {
  readonly services: LaneServices
  readonly spec: DownloadSpec
  readonly priority: number | undefined
  readonly settings: DownloadSettings
  readonly host: string
  readonly connection: RemoteConnection
  readonly exchange: Exchange
  readonly id: number
}

/**
 * Answers after which the host's further requests go to the pipeline: a redirect (the pipeline follows it), a
 * server in trouble or pushing back (5xx, 429: the pipeline's retries and backoff), credentials refused. A missing
 * file (404, 410) says nothing about the host.
 */
const declines = (status: number): boolean =>
  redirectStatuses.has(status) || status >= 500 || status === 429 || status === 401 || status === 403 || status === 407

/**
 * The lane's attempt: the artifact, stored and recorded, or a hand-over to the pipeline (nothing of this attempt
 * is left then). Fails only with what the pipeline would fail with at the same step (the store, the commit, the
 * record).
 */
export const attemptInLane = (attempt: LaneAttempt): Effect.Effect<Artifact | HandOver, DownloadError> => {
  const { services, spec, host, id } = attempt
  const { progress } = services
  const limits = services.limiter.forRemote(spec.remote)
  return Effect.acquireUseRelease(
    services.open,
    ({ temp }) => {
      const transfer = new Transfer(id, spec, temp, services.hasher, progress, attempt.settings.maxSize)
      // the remote's request rate is taken under the host's permit, as the pipeline's sender does
      const fetched = limits.withPermit(host, () => Effect.zipRight(limits.requestToken, oneRequest(attempt, transfer)))
      return Effect.zipRight(
        progress.emit({ _tag: "Started", id, url: spec.url, size: spec.size }),
        Effect.flatMap(
          fetched,
          (outcome): Effect.Effect<Artifact | HandOver, DownloadError> =>
            isHandOver(outcome) ? Effect.succeed(outcome) : stored(services, spec, temp, outcome)
        )
      )
    },
    ({ release }) => release
  )
}

/** The verified bytes committed and recorded, as the artifact the pipeline would return. */
const stored = (services: LaneServices, spec: DownloadSpec, temp: TempObject, fetched: Fetched) =>
  Effect.map(
    commitAndRecord(services.storage, temp, fetched, services.record, { replace: true, tracing: false }),
    (location) => {
      services.health.succeeded(originOfSpec(spec))
      return fetchedArtifact(spec.url, fetched, location)
    }
  )

/**
 * One GET under the idle watchdog: the verified body in the temp object, or a hand-over. Fails only when the
 * store refused a chunk (a local failure: no other attempt would do better).
 */
const oneRequest = (attempt: LaneAttempt, transfer: Transfer): Effect.Effect<Fetched | HandOver, DownloadError> =>
  Effect.suspend(() => {
    const { spec, settings, services, host } = attempt
    const guard = new RequestGuard(transfer, Duration.toMillis(settings.idleTimeout))
    const failures: FailureContext = { guard, settings, proxy: proxyOf(spec), connection: attempt.connection }
    transfer.touch("response")
    watch(guard)
    transfer.attemptStarts()
    const sentAt = Date.now()
    const identity = requestIdentity(spec, settings)
    const headers = requestHeaders(identity, identity.origin, { "accept-encoding": "identity" })
    const failed = (error: DownloadError) => handOver({ url: spec.url, error })
    return attempt.exchange.send({ url: spec.url, headers, signal: guard.controller().signal }).pipe(
      Effect.matchEffect({
        // no answer: classified as the pipeline's attempt does (a TLS refusal told from a lost connection)
        onFailure: (cause) => {
          services.declined.add(host)
          return Effect.map(Effect.flip(failBeforeAnswer(spec.url, transfer, failures, cause)), failed)
        },
        onSuccess: (response) => answered(attempt, transfer, failures, response, sentAt)
      }),
      Effect.ensuring(Effect.sync(() => release(guard)))
    )
  })

/** What the answer means for the lane: the body when it is the whole body of the promised size, else a hand-over. */
const answered = (
  attempt: LaneAttempt,
  transfer: Transfer,
  failures: FailureContext,
  response: ExchangeResponse,
  sentAt: number
): Effect.Effect<Fetched | HandOver, DownloadError> => {
  const { spec, services, host } = attempt
  const { limiter } = services
  const guard = failures.guard!
  const status = response.status
  const failed = (error: DownloadError, servedSha256?: string) => handOver({ url: spec.url, error, servedSha256 })
  const dropped = Effect.zipRight(response.discard(discardLimit), Effect.sync(() => guard.consumed()))
  if (status !== 200) {
    if (declines(status)) services.declined.add(host)
    // a redirect is the pipeline's to follow (hop by hop, under its rules): nothing of the attempt is counted
    if (redirectStatuses.has(status)) return Effect.as(dropped, handOver())
    return Effect.zipRight(dropped, Effect.map(Effect.flip(refused(transfer, host, limiter, response, failures.proxy)), failed))
  }
  const length = announcedLength(response.header)
  const size = spec.size ?? 0
  // announced too long will be long again (not retried); too short is a broken transfer (retried)
  if (length !== undefined && length !== size) return Effect.as(dropped, failed(new SizeMismatch({ url: spec.url, expected: size, actual: length })))
  transfer.answeredFrom(spec.url)
  transfer.answeredWhole(response.header("etag"), response.header("last-modified"))
  transfer.bodyStarts(response.peer, length)
  // the host's latency sample: time to the head of a served answer, as the pipeline's sender takes it
  const sampled = limiter.host(host).sample(Date.now() - sentAt)
  transfer.touch("idle-read")
  const body = Effect.matchEffect(response.pipe(transfer.sink), {
    onFailure: (failure): Effect.Effect<HandOver, DownloadError> => {
      const error = timedOut(transfer, failures) ?? bodyFailure(spec.url, transfer, failures)(failure)
      if (isLocalFailure(error)) return Effect.fail(error)
      if (failure._tag === "Transport") services.declined.add(host)
      return Effect.succeed(failed(error))
    },
    onSuccess: () => {
      guard.consumed()
      let servedSha256: string | undefined
      const verified = checkDigests(transfer, (sha) => {
        servedSha256 = sha
      })
      // a served body counts towards the host's recovery whatever its digest (as in the pipeline's attempt)
      return Effect.zipRight(
        Effect.zipRight(recovered(transfer, host, limiter), transfer.bytesEvent),
        Effect.matchEffect(verified, {
          // wrong bytes (or a body that ended short of its size): the pipeline's retry policy decides what follows
          onFailure: (error) => Effect.succeed(failed(error, servedSha256)),
          onSuccess: (digests) =>
            Effect.succeed(fetchedBy(transfer, digests, { url: spec.url, remote: spec.remote?.name, priority: attempt.priority }))
        })
      )
    }
  })
  return Effect.zipRight(sampled, body)
}
