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
 * Anything else — another status than 200 (a redirect, an error, a backoff), no or another Content-Length, a
 * transport failure, a timeout, wrong bytes — is not the lane's business: it drops what it has (the temp object
 * goes) and hands the request to the full pipeline, which starts over with its own attempts, typed errors and
 * failure records. So a failing source sees at most one request more than the retry schedule allows. A host that
 * answered the lane with anything but a plain 200 and its length sends the rest of the batch's requests straight
 * to the pipeline.
 *
 * Requests the lane does not take at all: telemetry on (spans belong to the pipeline), a store without `open`,
 * no lean exchange for the connection, a byte rate on the remote, no declared size or one large enough for
 * segments, mirrors, pieces, `file://`.
 */
import { Duration, Effect, type Exit, Option, Redacted } from "effect"
import type { ArtifactKnowledge } from "../catalog/Catalog.js"
import { Artifact } from "../domain/artifact.js"
import { ByteSize } from "../domain/digest.js"
import type { DownloadError } from "../domain/errors.js"
import { type DownloadRequestInput, type DownloadSpec, requestedSha256, validateRequest } from "../domain/request.js"
import { Hasher, type HasherService } from "../hash/Hasher.js"
import { type Exchange, type ExchangeResponse, HttpExchange, type HttpExchangeService } from "../http/exchange.js"
import { originOf } from "../http/origin.js"
import { RequestGuard, release, watch } from "../http/requestGuard.js"
import { redactUrl } from "../http/userinfo.js"
import type { ProgressService } from "../progress/Progress.js"
import type { Remote } from "../remote/Remote.js"
import { authorizationHeader, NetworkPolicy, type NetworkPolicyService } from "../remote/policy.js"
import { Storage, type StorageService, type TempObject } from "../storage/Storage.js"
import { Telemetry } from "../telemetry/telemetry.js"
import { type Claim, claim } from "./coalesce.js"
import { commitAndRecord, type Fetched } from "./commit.js"
import { DownloadConfig, type DownloadSettings, settingsForRemote } from "./config.js"
import { checkDigests } from "./digestCheck.js"
import { downloadWith, nextDownloadId, type RecordDownload } from "./download.js"
import { ConnectionLimits, type ConnectionLimiter } from "./limits.js"
import { defaultSegments, defaultSegmentThreshold } from "./segments/plan.js"
import { OriginHealth, type OriginHealthService, originOfSpec } from "./sources.js"
import { Transfer } from "./transfer.js"
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Catalog } from "../catalog/Catalog.js"
import type { Progress } from "../progress/Progress.js"
import type { Remotes } from "../remote/Remotes.js"

/** Bodies of answers the lane does not take are read and dropped up to this size (the connection stays usable). */
const discardLimit = 64 * 1024

/** The lane's answer when a request is not its business: the pipeline takes it over. */
const handOver: unique symbol = Symbol("handOver")
type HandOver = typeof handOver

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
  ) => Effect.Effect<Artifact, DownloadError, HttpClient.HttpClient | Storage | Catalog | Remotes | Progress> | undefined
}

interface Services {
  readonly storage: StorageService
  readonly settings: DownloadSettings
  readonly limiter: ConnectionLimiter
  readonly network: NetworkPolicyService
  readonly exchanges: HttpExchangeService
  readonly hasher: HasherService
  readonly health: OriginHealthService
  readonly progress: ProgressService
  readonly record: RecordDownload
}

/**
 * The fast lane of one batch, over the services in scope now; `undefined` when none of its requests could take it
 * (telemetry on, no lean exchange, a store without `open`). `progress` and `record` are the batch's.
 */
export const makeFastLane = (
  progress: ProgressService,
  record: RecordDownload
): Effect.Effect<FastLane | undefined, never, Storage> =>
  Effect.gen(function* () {
    const telemetry = yield* Telemetry
    const exchanges = yield* HttpExchange
    const storage = yield* Storage
    if (telemetry.enabled || exchanges === undefined || storage.open === undefined) return undefined
    const services: Services = {
      storage,
      settings: yield* DownloadConfig,
      limiter: yield* ConnectionLimits,
      network: yield* NetworkPolicy,
      exchanges,
      hasher: yield* Hasher,
      health: yield* OriginHealth,
      progress,
      record
    }
    return laneOver(services)
  })

/** Whether the pipeline would fetch a body of `size` in one stream (the lane never makes segments). */
const oneStream = (settings: DownloadSettings, size: number): boolean =>
  size <= (settings.maxSize ?? Number.POSITIVE_INFINITY) &&
  ((settings.segments ?? defaultSegments) <= 1 || size < (settings.segmentThreshold ?? defaultSegmentThreshold))

const laneOver = (services: Services): FastLane => {
  const { storage, progress, record } = services
  /** Hosts that answered the lane with something it does not take: their requests go to the pipeline. */
  const declined = new Set<string>()
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
  const pipeline = (request: DownloadRequestInput, known: ArtifactKnowledge | undefined, id: number) =>
    downloadWith(request, { record, known, id, claimed: true })

  const download: FastLane["download"] = (request, known) => {
    const sha256 = requestedSha256(request)
    if (
      sha256 === undefined ||
      known === undefined ||
      Option.isSome(known.entry) ||
      known.sources.length > 0 ||
      typeof request.size !== "number" ||
      (request.sources !== undefined && request.sources.length > 0) ||
      request.pieces !== undefined
    ) {
      return undefined
    }
    return Effect.suspend(() => {
      const held = claim(storage, sha256)
      // a download of these bytes is in flight: join it as the pipeline does
      if (held === undefined) return downloadWith(request, { record, known })
      const id = nextDownloadId()
      const url = redactUrl(request.url)
      /** What fails in the lane itself (validation, the commit, the record) is announced as the pipeline does. */
      const announced = <A>(effect: Effect.Effect<A, DownloadError>) =>
        Effect.tapError(effect, (error) =>
          progress.emit({ _tag: "Failed", id, url, error: { _tag: error._tag, message: error.message } })
        )
      const done = (artifact: Artifact) =>
        Effect.as(
          progress.emit({ _tag: "Done", id, url, sha256: artifact.sha256, size: artifact.size, cached: false }),
          artifact
        )
      const run = Effect.zipRight(
        progress.emit({ _tag: "Queued", id, url }),
        Effect.flatMap(announced(validateRequest(request)), (spec) => {
          const settings = settingsForRemote(services.settings, spec.remote)
          const host = new URL(spec.url).host
          if (
            (spec.scheme !== "http:" && spec.scheme !== "https:") ||
            spec.size === undefined ||
            !oneStream(settings, spec.size) ||
            declined.has(host) ||
            services.limiter.forRemote(spec.remote).throttle !== undefined
          ) {
            return pipeline(request, known, id)
          }
          return Effect.flatMap(routeFor(spec.remote), (route) =>
            route.exchange === undefined
              ? pipeline(request, known, id)
              : Effect.flatMap(
                  announced(inLane(services, spec, request.priority, settings, host, route.exchange, id, declined)),
                  (artifact) => (artifact === handOver ? pipeline(request, known, id) : done(artifact))
                )
          )
        })
      )
      return settled(run, held)
    })
  }
  return { download }
}

/** Settles the claim with whatever ends `run`. */
const settled = <R>(run: Effect.Effect<Artifact, DownloadError, R>, held: Claim) =>
  Effect.onExit(run, (exit: Exit.Exit<Artifact, DownloadError>) => Effect.sync(() => held.settle(exit)))

/** The request headers of the lane's one request: as the pipeline's first request to the URL's own origin. */
const headersFor = (spec: DownloadSpec, settings: DownloadSettings): Record<string, string> => {
  const remote = spec.remote
  const out: Record<string, string> = {}
  const sources = [{ "user-agent": settings.userAgent }, remote?.headers, spec.headers, { "accept-encoding": "identity" }]
  for (const source of sources) {
    if (source === undefined) continue
    for (const [name, value] of Object.entries(source)) out[name.toLowerCase()] = value
  }
  // credentials written into the URL are for its own origin; the remote's for the remote's origin only
  const authorization = spec.urlAuthorization ?? authorizationHeader(remote)
  const authOrigin = spec.urlAuthorization !== undefined ? originOf(spec.url) : remote === undefined ? undefined : originOf(remote.url)
  if (authorization !== undefined && authOrigin === originOf(spec.url)) out.authorization = Redacted.value(authorization)
  return out
}

/**
 * The lane's attempt: the artifact, stored and recorded, or `handOver` when the pipeline must take the request
 * (nothing of this attempt is left then). Fails only with what the pipeline would fail with at the same step
 * (the commit or the record).
 */
const inLane = (
  services: Services,
  spec: DownloadSpec,
  priority: number | undefined,
  settings: DownloadSettings,
  host: string,
  exchange: Exchange,
  id: number,
  declined: Set<string>
): Effect.Effect<Artifact | HandOver, DownloadError> => {
  const { storage, progress } = services
  const open = storage.open!
  return Effect.acquireUseRelease(
    open,
    ({ temp }) => {
      const transfer = new Transfer(id, spec, temp, services.hasher, progress, settings.maxSize)
      const fetched = services.limiter
        .forRemote(spec.remote)
        .withPermit(host, () => oneRequest(services, transfer, priority, settings, host, exchange, declined))
      return Effect.zipRight(
        progress.emit({ _tag: "Started", id, url: spec.url, size: spec.size }),
        Effect.flatMap(
          fetched,
          (outcome): Effect.Effect<Artifact | HandOver, DownloadError> =>
            outcome === handOver ? Effect.succeed(handOver) : stored(services, spec, temp, outcome)
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

/** One GET under the idle watchdog: the verified body in the temp object, or `handOver`. */
const oneRequest = (
  services: Services,
  transfer: Transfer,
  priority: number | undefined,
  settings: DownloadSettings,
  host: string,
  exchange: Exchange,
  declined: Set<string>
): Effect.Effect<Fetched | HandOver> =>
  Effect.suspend(() => {
    const spec = transfer.spec
    const guard = new RequestGuard(transfer, Duration.toMillis(settings.idleTimeout))
    transfer.touch("response")
    watch(guard)
    transfer.attemptStarts()
    const sentAt = Date.now()
    return exchange.send({ url: spec.url, headers: headersFor(spec, settings), signal: guard.controller().signal }).pipe(
      Effect.flatMap((response) => answered(services, transfer, priority, host, response, guard, sentAt, declined)),
      // a transport failure, a timeout, a body that broke off or ran long: the pipeline's attempts take over
      Effect.catchAll(() => Effect.succeed(handOver)),
      Effect.ensuring(Effect.sync(() => release(guard)))
    )
  })

const answered = (
  services: Services,
  transfer: Transfer,
  priority: number | undefined,
  host: string,
  response: ExchangeResponse,
  guard: RequestGuard,
  sentAt: number,
  declined: Set<string>
): Effect.Effect<Fetched | HandOver, unknown> => {
  const spec = transfer.spec
  const length = response.header("content-length")
  if (response.status !== 200 || length !== String(spec.size)) {
    declined.add(host)
    return Effect.as(Effect.zipRight(response.discard(discardLimit), Effect.sync(() => guard.consumed())), handOver)
  }
  const etag = response.header("etag")
  const lastModified = response.header("last-modified")
  transfer.answeredFrom(spec.url)
  transfer.answeredWhole(etag, lastModified)
  transfer.bodyStarts(response.peer, spec.size)
  const gate = services.limiter.host(host)
  const firstByteMs = Date.now() - sentAt
  transfer.touch("idle-read")
  return Effect.flatMap(response.pipe(transfer.sink), () => {
    guard.consumed()
    return Effect.matchEffect(checkDigests(transfer, () => undefined), {
      // wrong bytes: the pipeline fetches them again and reports the mismatch with the source's record
      onFailure: () => Effect.succeed(handOver),
      onSuccess: (digests) =>
        Effect.zipRight(
          Effect.zipRight(gate.sample(firstByteMs), recovered(services, transfer, host)),
          Effect.as(transfer.bytesEvent, {
            sha256: digests.sha256,
            size: ByteSize.make(transfer.received),
            digests,
            url: spec.url,
            finalUrl: transfer.finalUrl,
            remote: spec.remote?.name,
            priority,
            etag,
            lastModified,
            peer: transfer.peer
          } satisfies Fetched)
        )
    })
  })
}

/** A success counts towards the host's recovery after a backoff (as the pipeline's attempts do). */
const recovered = (services: Services, transfer: Transfer, host: string): Effect.Effect<void> =>
  Effect.flatMap(services.limiter.host(host).success(), (signal) =>
    signal === undefined
      ? Effect.void
      : services.progress.emit({
          _tag: "HostRecovered",
          id: transfer.id,
          url: transfer.spec.url,
          host: signal.host,
          concurrency: signal.concurrency
        })
  )
