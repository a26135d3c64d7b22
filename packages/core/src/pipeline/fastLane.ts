/**
 * A batch's fast lane: the common small download in a few dozen Effect steps instead of the pipeline's several
 * hundred. A repository sync is thousands of small files whose sha256 and size the metadata pins down, from one
 * URL, new to the catalog; for each of them the full pipeline (download.ts) pays for source planning, failover,
 * a retry schedule, redirects, segments and revalidation it does not use — measured in instructions per artifact
 * with `npx tsx bench/pipeline.ts 20000 16384 fetchMany ops`.
 *
 * The lane takes what the batch looked up (`known`: nothing stored or catalogued, no other sources) and the
 * services read once per batch, and makes one attempt: a GET through the lean exchange under the same connection
 * limits and idle watchdog, the body hashed and written by the transfer's sink, size and every digest checked, then
 * the same commit-and-record step as the pipeline (commit.ts: group commit, nothing reported before it is durable).
 * When the attempt fails, the lane drops what it has (the temp object goes) and hands the request to the full
 * pipeline with the attempt's typed error — an error status (a 429/503 backs the host off first, as the pipeline's
 * own attempt would), a Content-Length other than the size, a broken body, a timeout, wrong bytes. The pipeline
 * counts that attempt as its first at the URL (failover.ts, PriorFailure), so its retry policy allows exactly the
 * requests it would have made alone: a 404 or a body announced too long is one request, wrong bytes two. Only a
 * redirect, or a connection that failed before any answer (the pipeline's attempt diagnoses TLS refusals), hands
 * over with no attempt counted: one request more. A host that answered the lane with a redirect, an error status
 * or a transport failure sends the rest of the batch's requests straight to the pipeline. A new attempt starts
 * from the first byte: the lane only takes bodies small enough (`laneMaxBytes`) that resuming would save little.
 *
 * Requests the lane does not take at all: telemetry on (spans belong to the pipeline), a store without `open`,
 * no lean exchange for the connection, a byte rate on the remote, no declared size or one above `laneMaxBytes`,
 * mirrors, pieces, `file://`.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Duration, Effect, type Exit, Option } from "effect"
import type { ArtifactKnowledge, Catalog } from "../catalog/Catalog.js"
import { Artifact } from "../domain/artifact.js"
import { ByteSize } from "../domain/digest.js"
import { type DownloadError, SizeMismatch, TimeoutError } from "../domain/errors.js"
import { type DownloadRequestInput, type DownloadSpec, requestedSha256, validateRequest } from "../domain/request.js"
import { Hasher, type HasherService } from "../hash/Hasher.js"
import { classifyTransportError, parseRetryAfter, proxyLabel } from "../http/classify.js"
import { type Exchange, type ExchangeResponse, HttpExchange, type HttpExchangeService } from "../http/exchange.js"
import { redirectStatuses } from "../http/redirects.js"
import { RequestGuard, release, watch } from "../http/requestGuard.js"
import { redactUrl } from "../http/userinfo.js"
import type { Progress, ProgressService } from "../progress/Progress.js"
import type { Remote } from "../remote/Remote.js"
import type { Remotes } from "../remote/Remotes.js"
import { NetworkPolicy, type NetworkPolicyService } from "../remote/policy.js"
import { type Storage as StorageTag, Storage, type StorageService, type TempObject } from "../storage/Storage.js"
import { Telemetry } from "../telemetry/telemetry.js"
import { type Claim, claim } from "./coalesce.js"
import { commitAndRecord, type Fetched } from "./commit.js"
import { DownloadConfig, type DownloadSettings, settingsForRemote } from "./config.js"
import { checkDigests } from "./digestCheck.js"
import { downloadWith, nextDownloadId, type RecordDownload } from "./download.js"
import type { PriorFailure } from "./failover.js"
import { backoff, recovered, refusal } from "./httpAnswer.js"
import { discardLimit, requestHeaders, requestIdentity } from "./httpRequest.js"
import { ConnectionLimits, type ConnectionLimiter } from "./limits.js"
import { isLocalFailure } from "./retryPolicy.js"
import { OriginHealth, type OriginHealthService, originOfSpec } from "./sources.js"
import { Transfer } from "./transfer.js"

/**
 * The largest body the lane takes. A failed attempt's successor starts from the first byte (the lane keeps no
 * partial body for a resume), which for a body this small costs less than the pipeline's work per download.
 */
export const laneMaxBytes = 256 * 1024

/** The lane gave the request up; `prior` is its failed attempt, when it made one the pipeline should count. */
interface HandOver {
  readonly _tag: "HandOver"
  readonly prior: PriorFailure | undefined
}

const handOver = (prior?: PriorFailure): HandOver => ({ _tag: "HandOver", prior })
const isHandOver = (outcome: Artifact | Fetched | HandOver): outcome is HandOver => "_tag" in outcome && outcome._tag === "HandOver"

/** The lean transport for one remote (undefined: none, the pipeline sends through the HttpClient). */
interface Route {
  readonly exchange: Exchange | undefined
}

export interface FastLane {
  /**
   * The download of `request` (its result as `downloadWith` would give it), through the lane when it can take it,
   * else through the full pipeline; `undefined` when the request is plainly not the lane's (the caller runs
   * `downloadWith` itself).
   */
  readonly download: (
    request: DownloadRequestInput,
    known: ArtifactKnowledge | undefined
  ) => Effect.Effect<Artifact, DownloadError, HttpClient.HttpClient | StorageTag | Catalog | Remotes | Progress> | undefined
}

interface Services {
  readonly storage: StorageService
  readonly open: NonNullable<StorageService["open"]>
  readonly settings: DownloadSettings
  readonly limiter: ConnectionLimiter
  readonly network: NetworkPolicyService
  readonly exchanges: HttpExchangeService
  readonly hasher: HasherService
  readonly health: OriginHealthService
  readonly progress: ProgressService
  readonly record: RecordDownload
  /** Hosts that answered the lane with a redirect, an error status or a transport failure: the pipeline's now. */
  readonly declined: Set<string>
}

/** One attempt of the lane: the request, where it goes, and what it goes through. */
interface Attempt {
  readonly services: Services
  readonly spec: DownloadSpec
  readonly priority: number | undefined
  readonly settings: DownloadSettings
  readonly host: string
  readonly exchange: Exchange
  readonly id: number
}

/**
 * The fast lane of one batch, over the services in scope now; `undefined` when none of its requests could take it
 * (telemetry on, no lean exchange, a store without `open`). `progress` and `record` are the batch's.
 */
export const makeFastLane = (
  progress: ProgressService,
  record: RecordDownload
): Effect.Effect<FastLane | undefined, never, StorageTag> =>
  Effect.gen(function* () {
    const telemetry = yield* Telemetry
    const exchanges = yield* HttpExchange
    const storage = yield* Storage
    const open = storage.open
    if (telemetry.enabled || exchanges === undefined || open === undefined) return undefined
    return laneOver({
      storage,
      open,
      settings: yield* DownloadConfig,
      limiter: yield* ConnectionLimits,
      network: yield* NetworkPolicy,
      exchanges,
      hasher: yield* Hasher,
      health: yield* OriginHealth,
      progress,
      record,
      declined: new Set()
    })
  })

/** Whether the lane takes a body of `size`: small (see `laneMaxBytes`) and within the download's size limit. */
const laneSize = (settings: DownloadSettings, size: number): boolean =>
  size <= laneMaxBytes && size <= (settings.maxSize ?? Number.POSITIVE_INFINITY)

const laneOver = (services: Services): FastLane => {
  const { storage, progress, record } = services
  const routes = new WeakMap<Remote, Route>()
  let direct: Route | undefined

  const routeFor = (remote: Remote | undefined): Effect.Effect<Route, DownloadError> => {
    const known = remote === undefined ? direct : routes.get(remote)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.map(services.network.forRemote(remote), (connection) => {
      const route: Route = { exchange: services.exchanges.forConnection(connection) }
      if (remote === undefined) direct = route
      else routes.set(remote, route)
      return route
    })
  }

  /** The full pipeline, for a request the lane announced and claimed (its events go on under `id`). */
  const pipeline = (
    request: DownloadRequestInput,
    known: ArtifactKnowledge | undefined,
    id: number,
    after?: { readonly prior: PriorFailure | undefined }
  ) => downloadWith(request, { record, known, id, claimed: true, started: after !== undefined, prior: after?.prior })

  const download: FastLane["download"] = (request, known) => {
    const sha256 = requestedSha256(request)
    if (
      sha256 === undefined ||
      known === undefined ||
      Option.isSome(known.entry) ||
      known.sources.length > 0 ||
      typeof request.size !== "number" ||
      request.size > laneMaxBytes ||
      (request.sources !== undefined && request.sources.length > 0) ||
      request.pieces !== undefined
    ) {
      return undefined
    }
    // the claim is taken and its settling registered in one uninterruptible step: an interruption in between would
    // leave the sha256 claimed for ever, and every later download of it waiting
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const held = claim(storage, sha256)
        // a download of these bytes is in flight: join it as the pipeline does
        if (held === undefined) return restore(downloadWith(request, { record, known }))
        const id = nextDownloadId()
        return settled(restore(laneRun(request, known, id)), held)
      })
    )
  }

  const laneRun = (request: DownloadRequestInput, known: ArtifactKnowledge | undefined, id: number) => {
    const url = redactUrl(request.url)
    /** What fails in the lane itself (validation, the store, the commit, the record) is announced as the pipeline does. */
    const announced = <A>(effect: Effect.Effect<A, DownloadError>) =>
      Effect.tapError(effect, (error) =>
        progress.emit({ _tag: "Failed", id, url, error: { _tag: error._tag, message: error.message } })
      )
    const done = (artifact: Artifact) =>
      Effect.as(
        progress.emit({ _tag: "Done", id, url, sha256: artifact.sha256, size: artifact.size, cached: false }),
        artifact
      )
    return Effect.zipRight(
      progress.emit({ _tag: "Queued", id, url }),
      Effect.flatMap(announced(validateRequest(request)), (spec) => {
        const settings = settingsForRemote(services.settings, spec.remote)
        const host = new URL(spec.url).host
        if (
          (spec.scheme !== "http:" && spec.scheme !== "https:") ||
          spec.size === undefined ||
          !laneSize(settings, spec.size) ||
          services.declined.has(host) ||
          services.limiter.forRemote(spec.remote).throttle !== undefined
        ) {
          return pipeline(request, known, id)
        }
        return Effect.matchEffect(routeFor(spec.remote), {
          // the remote's connection cannot be built: the pipeline's attempt fails with it and records the failure
          onFailure: () => pipeline(request, known, id),
          onSuccess: (route) =>
            route.exchange === undefined
              ? pipeline(request, known, id)
              : Effect.flatMap(
                  announced(
                    inLane({ services, spec, priority: request.priority, settings, host, exchange: route.exchange, id })
                  ),
                  (outcome) => (isHandOver(outcome) ? pipeline(request, known, id, outcome) : done(outcome))
                )
        })
      })
    )
  }
  return { download }
}

/** Settles the claim with whatever ends `run`. */
const settled = <R>(run: Effect.Effect<Artifact, DownloadError, R>, held: Claim) =>
  Effect.onExit(run, (exit: Exit.Exit<Artifact, DownloadError>) => Effect.sync(() => held.settle(exit)))

/**
 * The lane's attempt: the artifact, stored and recorded, or a hand-over to the pipeline (nothing of this attempt
 * is left then). Fails only with what the pipeline would fail with at the same step (the store, the commit, the
 * record).
 */
const inLane = (attempt: Attempt): Effect.Effect<Artifact | HandOver, DownloadError> => {
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
const stored = (services: Services, spec: DownloadSpec, temp: TempObject, fetched: Fetched) =>
  Effect.map(
    commitAndRecord(services.storage, temp, fetched, services.record, { replace: true, tracing: false }),
    (location) => {
      services.health.succeeded(originOfSpec(spec))
      // every field is computed here (digests by the hasher, size counted): no second validation
      return new Artifact(
        {
          sha256: fetched.sha256,
          size: fetched.size,
          digests: fetched.digests,
          url: spec.url,
          finalUrl: fetched.finalUrl,
          location,
          cached: false
        },
        true
      )
    }
  )

/**
 * One GET under the idle watchdog: the verified body in the temp object, or a hand-over. Fails only when the
 * store refused a chunk (a local failure: no other attempt would do better).
 */
const oneRequest = (attempt: Attempt, transfer: Transfer): Effect.Effect<Fetched | HandOver, DownloadError> =>
  Effect.suspend(() => {
    const { spec, settings, services, host } = attempt
    const guard = new RequestGuard(transfer, Duration.toMillis(settings.idleTimeout))
    transfer.touch("response")
    watch(guard)
    transfer.attemptStarts()
    const sentAt = Date.now()
    const identity = requestIdentity(spec, settings)
    const headers = requestHeaders(identity, identity.origin, { "accept-encoding": "identity" })
    return attempt.exchange.send({ url: spec.url, headers, signal: guard.controller().signal }).pipe(
      Effect.matchEffect({
        onFailure: () => {
          services.declined.add(host)
          // a timeout is the attempt's; another failure before any answer goes to the pipeline's own attempt,
          // which can tell a TLS refusal from a lost connection
          const timeout = timedOut(guard, transfer)
          return Effect.succeed(handOver(timeout === undefined ? undefined : { url: spec.url, error: timeout }))
        },
        onSuccess: (response) => answered(attempt, transfer, response, guard, sentAt)
      }),
      Effect.ensuring(Effect.sync(() => release(guard)))
    )
  })

/** The typed timeout when the watchdog aborted the attempt. */
const timedOut = (guard: RequestGuard, transfer: Transfer): TimeoutError | undefined =>
  guard.timedOut === undefined ? undefined : new TimeoutError({ url: transfer.finalUrl, phase: guard.timedOut, timeoutMs: guard.idleMs })

/** What the answer means for the lane: the body when it is the whole body of the promised size, else a hand-over. */
const answered = (
  attempt: Attempt,
  transfer: Transfer,
  response: ExchangeResponse,
  guard: RequestGuard,
  sentAt: number
): Effect.Effect<Fetched | HandOver, DownloadError> => {
  const { spec, services, host } = attempt
  const { limiter } = services
  const status = response.status
  const dropped = Effect.zipRight(response.discard(discardLimit), Effect.sync(() => guard.consumed()))
  if (status !== 200) {
    services.declined.add(host)
    // a redirect is the pipeline's to follow (hop by hop, under its rules): nothing of the attempt is counted
    if (redirectStatuses.has(status)) return Effect.as(dropped, handOver())
    const retryAfterMs = parseRetryAfter(response.header("retry-after"), Date.now())
    const refused = { url: spec.url, error: refusal(spec.url, status, retryAfterMs, proxyOf(spec)) }
    const backedOff = status === 429 || status === 503 ? backoff(transfer, host, limiter, status, retryAfterMs) : Effect.void
    return Effect.as(Effect.zipRight(dropped, backedOff), handOver(refused))
  }
  const lengthHeader = response.header("content-length")
  const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined
  const size = spec.size ?? 0
  if (length !== undefined && length !== size) {
    // announced too long will be long again (not retried); too short is a broken transfer (retried)
    const error = new SizeMismatch({ url: spec.url, expected: size, actual: length })
    return Effect.as(dropped, handOver({ url: spec.url, error }))
  }
  const etag = response.header("etag")
  const lastModified = response.header("last-modified")
  transfer.answeredFrom(spec.url)
  transfer.answeredWhole(etag, lastModified)
  transfer.bodyStarts(response.peer, length)
  const firstByteMs = Date.now() - sentAt
  transfer.touch("idle-read")
  const body = Effect.matchEffect(response.pipe(transfer.sink), {
    onFailure: (failure): Effect.Effect<HandOver, DownloadError> => {
      if (failure._tag === "Sink" && isLocalFailure(failure.error)) return Effect.fail(failure.error)
      services.declined.add(host)
      const error =
        failure._tag === "Sink"
          ? failure.error
          : (timedOut(guard, transfer) ??
            classifyTransportError(
              spec.url,
              failure.cause,
              transfer.received,
              Duration.toMillis(attempt.settings.connectTimeout),
              proxyOf(spec)
            ))
      return Effect.succeed(handOver({ url: spec.url, error }))
    },
    onSuccess: () => {
      guard.consumed()
      let servedSha256: string | undefined
      return Effect.matchEffect(
        checkDigests(transfer, (sha) => {
          servedSha256 = sha
        }),
        {
          // wrong bytes (or a body that ended short of its size): the pipeline's retry policy decides what follows
          onFailure: (error) => Effect.succeed(handOver({ url: spec.url, error, servedSha256 })),
          onSuccess: (digests) =>
            Effect.zipRight(
              Effect.zipRight(limiter.host(host).sample(firstByteMs), recovered(transfer, host, limiter)),
              Effect.as(transfer.bytesEvent, {
                sha256: digests.sha256,
                size: ByteSize.make(transfer.received),
                digests,
                url: spec.url,
                finalUrl: transfer.finalUrl,
                remote: spec.remote?.name,
                priority: attempt.priority,
                etag,
                lastModified,
                peer: transfer.peer
              } satisfies Fetched)
            )
        }
      )
    }
  })
  return body
}

/** How errors name the remote's proxy, when it has one. */
const proxyOf = (spec: DownloadSpec): string | undefined =>
  spec.remote?.proxy === undefined ? undefined : proxyLabel(spec.remote.proxy.url)
