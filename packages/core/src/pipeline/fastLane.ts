/**
 * A batch's fast lane: the common small download in a few dozen Effect steps instead of the pipeline's several
 * hundred. A repository sync is thousands of small files whose sha256 and size the metadata pins down, from one
 * URL, new to the catalog; for each of them the full pipeline (download.ts) pays for source planning, failover,
 * a retry schedule, redirects, segments and revalidation it does not use — measured in instructions per artifact
 * with `npx tsx bench/pipeline.ts 20000 16384 fetchMany ops`.
 *
 * The lane takes what the batch looked up (`known`: nothing stored or catalogued, no other sources) and the
 * services read once per batch, and makes one attempt (laneAttempt.ts): a GET through the lean exchange under the
 * same connection limits, request rate and idle watchdog, the body hashed and written by the transfer's sink, size
 * and every digest checked, then the same commit-and-record step as the pipeline (commit.ts: group commit, nothing
 * reported before it is durable).
 * When the attempt fails, the lane drops what it has (the temp object goes) and hands the request to the full
 * pipeline with the attempt's typed error — an error status (a 429/503 backs the host off first, as the pipeline's
 * own attempt would), a Content-Length other than the size, no connection, a broken body, a timeout, wrong bytes.
 * The pipeline counts that attempt as its first at the URL (failover.ts, PriorFailure), so its retry policy allows
 * exactly the requests it would have made alone: a 404 or a body announced too long is one request, wrong bytes
 * two. Only a redirect hands over with no attempt counted (one request more). A host that redirected, failed at
 * the transport, answered 5xx or 429 or refused the credentials sends the rest of the batch's requests straight
 * to the pipeline. A new attempt starts from the first byte: the lane only takes bodies small enough
 * (`laneMaxBytes`) that resuming would save little, and none the pipeline would fetch in segments.
 *
 * Requests the lane does not take at all: telemetry on (spans belong to the pipeline), a store without `open`,
 * no lean exchange for the connection, a byte rate on the remote, no declared size or one above `laneMaxBytes`,
 * mirrors, pieces, `file://`.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type Exit, Effect, Option } from "effect"
import type { ArtifactKnowledge, Catalog } from "../catalog/Catalog.js"
import type { Artifact } from "../domain/artifact.js"
import type { DownloadError } from "../domain/errors.js"
import { type DownloadRequestInput, requestedSha256, validateRequest } from "../domain/request.js"
import { Hasher } from "../hash/Hasher.js"
import { type Exchange, HttpExchange, type HttpExchangeService } from "../http/exchange.js"
import { redactUrl } from "../http/userinfo.js"
import type { Progress, ProgressService } from "../progress/Progress.js"
import type { Remote } from "../remote/Remote.js"
import type { Remotes } from "../remote/Remotes.js"
import { NetworkPolicy, type NetworkPolicyService, type RemoteConnection } from "../remote/policy.js"
import { Storage } from "../storage/Storage.js"
import { Telemetry } from "../telemetry/telemetry.js"
import { type Claim, claim } from "./coalesce.js"
import { DownloadConfig, type DownloadSettings, settingsForRemote } from "./config.js"
import { downloadWith, nextDownloadId, type RecordDownload } from "./download.js"
import type { PriorFailure } from "./failover.js"
import { attemptInLane, isHandOver, type LaneServices } from "./laneAttempt.js"
import { ConnectionLimits } from "./limits.js"
import { defaultSegments, defaultSegmentThreshold } from "./segments/plan.js"
import { OriginHealth } from "./sources.js"

/**
 * The largest body the lane takes. A failed attempt's successor starts from the first byte (the lane keeps no
 * partial body for a resume), which for a body this small costs less than the pipeline's work per download.
 */
export const laneMaxBytes = 256 * 1024

/** One remote's transport: its connection, and the lean exchange over it (undefined: none, the HttpClient). */
interface Route {
  readonly connection: RemoteConnection
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

interface Services extends LaneServices {
  readonly settings: DownloadSettings
  readonly network: NetworkPolicyService
  readonly exchanges: HttpExchangeService
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

/**
 * Whether the lane takes a body of `size` (at most `laneMaxBytes`, checked before the claim) under `settings`:
 * within the download's size limit, and one the pipeline would fetch in one stream (the lane never makes segments).
 */
const laneSize = (settings: DownloadSettings, size: number): boolean =>
  size <= (settings.maxSize ?? Number.POSITIVE_INFINITY) &&
  ((settings.segments ?? defaultSegments) <= 1 || size < (settings.segmentThreshold ?? defaultSegmentThreshold))

const laneOver = (services: Services): FastLane => {
  const { storage, progress, record } = services
  const routes = new WeakMap<Remote, Route>()
  let direct: Route | undefined

  const routeFor = (remote: Remote | undefined): Effect.Effect<Route, DownloadError> => {
    const known = remote === undefined ? direct : routes.get(remote)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.map(services.network.forRemote(remote), (connection) => {
      const route: Route = { connection, exchange: services.exchanges.forConnection(connection) }
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
          // the remote's connection cannot be made: the pipeline's attempt fails with it and records the failure
          onFailure: () => pipeline(request, known, id),
          onSuccess: ({ connection, exchange }) =>
            exchange === undefined
              ? pipeline(request, known, id)
              : Effect.flatMap(
                  announced(
                    attemptInLane({ services, spec, priority: request.priority, settings, host, connection, exchange, id })
                  ),
                  (outcome) => (isHandOver(outcome) ? pipeline(request, known, id, outcome) : done(outcome))
                )
        })
      })
    )
  }

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
        return settled(restore(laneRun(request, known, nextDownloadId())), held)
      })
    )
  }
  return { download }
}

/** Settles the claim with whatever ends `run`. */
const settled = <R>(run: Effect.Effect<Artifact, DownloadError, R>, held: Claim) =>
  Effect.onExit(run, (exit: Exit.Exit<Artifact, DownloadError>) => Effect.sync(() => held.settle(exit)))
