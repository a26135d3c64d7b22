/**
 * Sending one HTTP attempt's request: its headers (the remote's, the request's, credentials for their own origin
 * only), the two transports (the lean exchange, or the platform HttpClient), redirects followed hop by hop within
 * the host limits, and typed errors for what fails before an answer.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Headers from "@effect/platform/Headers"
import { Chunk, Duration, Effect, Redacted, type Scope, Stream } from "effect"
import { type DownloadError, TimeoutError } from "../domain/errors.js"
import { classifyTransportError, isCloseBeforeAnswer, proxyLabel } from "../http/classify.js"
import type { BodyFailure, Exchange, Peer } from "../http/exchange.js"
import type { HostPermit } from "../http/hostGate.js"
import { headersForOrigin, nextHop, redirectStatuses } from "../http/redirects.js"
import type { RequestGuard } from "../http/requestGuard.js"
import type { DownloadSpec } from "../domain/request.js"
import { originOf } from "../http/origin.js"
import { authorizationHeader, type RemoteConnection } from "../remote/policy.js"
import { recordHost } from "../telemetry/telemetry.js"
import type { DownloadSettings } from "./config.js"
import type { ConnectionLimiter, RemoteLimiter } from "./limits.js"
import type { Transfer } from "./transfer.js"

/** One header of a response's headers (the platform builds a fresh headers object on every `response.headers`). */
const header = (headers: Headers.Headers, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : undefined
}

/** Bodies of error and redirect answers up to this size are read and dropped, so the connection can be reused. */
export const discardLimit = 64 * 1024

/**
 * Reads a small unwanted body to its end (keeps the connection alive); larger ones are aborted when the attempt
 * ends.
 */
const discard = (
  response: HttpClientResponse.HttpClientResponse,
  headers: Headers.Headers,
  guard: RequestGuard | undefined
): Effect.Effect<void> => {
  const length = header(headers, "content-length")
  if (length === undefined || !/^\d+$/.test(length) || Number(length) > discardLimit) return Effect.void
  const consumed = Effect.sync(() => guard?.consumed())
  return Number(length) === 0 ? consumed : Effect.zipRight(Effect.ignore(response.arrayBuffer), consumed)
}

/** Everything one attempt needs besides the transfer. */
export interface AttemptContext {
  readonly client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>
  /** The lean path for this remote's transport (see http/exchange.ts); undefined: through `client`. */
  readonly exchange: Exchange | undefined
  /** Aborts this attempt's requests (idle timeout, end of attempt); undefined on the fiber-watchdog fallback. */
  readonly guard: RequestGuard | undefined
  readonly settings: DownloadSettings
  readonly connection: RemoteConnection
  readonly limits: RemoteLimiter
  readonly proxy: string | undefined
  /** Headers sent to the first origin: the remote's, the request's, then auth. */
  readonly headers: Readonly<Record<string, string>>
  readonly authorization: Redacted.Redacted<string> | undefined
  /** The origin the remote's credentials belong to (its base URL's). */
  readonly authOrigin: string | undefined
  /** Origin and host of the requested URL. */
  readonly origin: string
  readonly host: string
}

/** What classifying a failure needs of an attempt (the fast lane makes its own, fastLane/laneAttempt.ts). */
export type FailureContext = Pick<AttemptContext, "guard" | "settings" | "proxy" | "connection">

/** The typed error of a transport failure: `cause` is the platform's (an HttpClientError's cause, or undici's). */
export const transportError =
  (url: string, transfer: Transfer, ctx: FailureContext, inBody: boolean) =>
  (cause: unknown): DownloadError =>
    timedOut(transfer, ctx) ??
    classifyTransportError(
      url,
      cause,
      inBody ? transfer.received : undefined,
      Duration.toMillis(ctx.settings.connectTimeout),
      ctx.proxy
    )

/**
 * A request that failed before any response. When an https server closed the connection, the connection's probe
 * may explain it at the TLS level (a client certificate refused, an alert the close overtook): then the error is
 * that `TlsError`, which is not retried, instead of a `ConnectError`.
 */
export const failBeforeAnswer = (
  url: string,
  transfer: Transfer,
  ctx: FailureContext,
  cause: unknown
): Effect.Effect<never, DownloadError> => {
  const typed = transportError(url, transfer, ctx, false)(cause)
  const diagnose = ctx.connection.diagnoseClose
  if (typed._tag !== "ConnectError" || diagnose === undefined || !url.startsWith("https:")) return Effect.fail(typed)
  if (!isCloseBeforeAnswer(cause)) return Effect.fail(typed)
  return Effect.flatMap(diagnose(url), (finding) => {
    if (finding === undefined) return Effect.fail(typed)
    const connectTimeoutMs = Duration.toMillis(ctx.settings.connectTimeout)
    const explained = classifyTransportError(url, finding, undefined, connectTimeoutMs, ctx.proxy)
    return Effect.fail(explained._tag === "TlsError" ? explained : typed)
  })
}

/** The typed timeout when the watchdog aborted this attempt. */
export const timedOut = (transfer: Transfer, ctx: Pick<AttemptContext, "guard">): TimeoutError | undefined =>
  ctx.guard?.timedOut === undefined
    ? undefined
    : new TimeoutError({ url: transfer.finalUrl, phase: ctx.guard.timedOut, timeoutMs: ctx.guard.idleMs })

/** An answer's head, and what can be done with its body, whichever path sent the request. */
export interface Answer {
  readonly status: number
  readonly header: (name: string) => string | undefined
  /** The connection that carried it (provenance), when the layer knows. */
  readonly peer: Peer | undefined
  /** Drops the body (read when small, so the connection is reused). */
  readonly discard: Effect.Effect<void>
  /** Reads the body into the transfer; `length` as announced. */
  readonly readBody: (length: number | undefined) => Effect.Effect<void, DownloadError>
}

/** A request and the peer that answered it, when the connection can tell. */
const observed = <A, E, R>(ctx: AttemptContext, request: Effect.Effect<A, E, R>) =>
  ctx.connection.observePeer === undefined
    ? Effect.map(request, (a) => [a, undefined] as const)
    : ctx.connection.observePeer(request)

/** Through the platform HttpClient (stub layers, other platforms, connections the lean path does not own). */
const sendGeneric = (
  transfer: Transfer,
  ctx: AttemptContext,
  url: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<Answer, DownloadError, Scope.Scope> =>
  ctx.connection.provide(observed(ctx, ctx.client.execute(HttpClientRequest.get(url).pipe(HttpClientRequest.setHeaders(headers))))).pipe(
    Effect.catchAll((error) => failBeforeAnswer(url, transfer, ctx, error.cause ?? error)),
    Effect.map(([response, peer]): Answer => {
      const responseHeaders = response.headers
      return {
        status: response.status,
        header: (name) => header(responseHeaders, name),
        peer,
        discard: discard(response, responseHeaders, ctx.guard),
        readBody: (length) => readBody(transfer, response, ctx, length)
      }
    })
  )

/** The typed error of a body that stopped before its end: the store's refusal, or the transport's failure. */
export const bodyFailure =
  (url: string, transfer: Transfer, ctx: FailureContext) =>
  (failure: BodyFailure): DownloadError =>
    failure._tag === "Sink" ? failure.error : transportError(url, transfer, ctx, true)(failure.cause)

/** Through the lean exchange: one effect for the head, one for the whole body, none per chunk. */
const sendLean = (
  transfer: Transfer,
  ctx: AttemptContext,
  exchange: Exchange,
  url: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<Answer, DownloadError> => {
  const guard = ctx.guard!
  return exchange.send({ url, headers, signal: guard.controller().signal }).pipe(
    Effect.catchAll((cause) => failBeforeAnswer(url, transfer, ctx, cause)),
    Effect.map(
      (response): Answer => ({
        status: response.status,
        header: response.header,
        peer: response.peer,
        discard: Effect.zipRight(
          response.discard(discardLimit),
          Effect.sync(() => guard.consumed())
        ),
        readBody: () =>
          response.pipe(transfer.sink).pipe(
            Effect.mapError(bodyFailure(url, transfer, ctx)),
            Effect.zipRight(Effect.sync(() => guard.consumed()))
          )
      })
    )
  )
}

/** Who a download's requests speak as: the headers for its first origin, and credentials for their own origin. */
export type RequestIdentity = Pick<AttemptContext, "headers" | "authorization" | "authOrigin" | "origin">

/** How errors name the remote's proxy, when it has one (its URL without credentials). */
export const proxyOf = (spec: DownloadSpec): string | undefined =>
  spec.remote?.proxy === undefined ? undefined : proxyLabel(spec.remote.proxy.url)

/** The identity of `spec`'s requests under `settings` (the remote's already applied). */
export const requestIdentity = (spec: DownloadSpec, settings: DownloadSettings): RequestIdentity => {
  const remote = spec.remote
  const origin = new URL(spec.url).origin
  return {
    headers: { "user-agent": settings.userAgent, ...remote?.headers, ...spec.headers },
    // credentials written into the URL are for its own origin; else the remote's, for the remote's origin
    authorization: spec.urlAuthorization ?? authorizationHeader(remote),
    authOrigin: spec.urlAuthorization !== undefined ? origin : remote === undefined ? undefined : originOf(remote.url),
    origin
  }
}

/** The request's headers for `url`: lower-case names, the later source winning (as the platform's setHeaders). */
export const requestHeaders = (
  ctx: RequestIdentity,
  urlOrigin: string,
  extra: Readonly<Record<string, string>>
): Record<string, string> => {
  const sameOrigin = urlOrigin === ctx.origin
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headersForOrigin(ctx.headers, sameOrigin))) {
    out[name.toLowerCase()] = value
  }
  for (const [name, value] of Object.entries(extra)) out[name.toLowerCase()] = value
  // the remote's credentials go to the remote's own origin only, never to a URL elsewhere or a redirect target
  if (sameOrigin && ctx.authorization !== undefined && ctx.authOrigin === urlOrigin) {
    out.authorization = Redacted.value(ctx.authorization)
  }
  return out
}

/** Sends the request and follows redirects; returns the final answer (status not yet checked). */
export const sendFollowing = (
  transfer: Transfer,
  ctx: AttemptContext,
  extra: Readonly<Record<string, string>>,
  limiter: ConnectionLimiter,
  permit: HostPermit
): Effect.Effect<Answer, DownloadError, Scope.Scope> =>
  Effect.gen(function* () {
    const visited = new Set<string>([transfer.spec.url])
    const allowHttpsToHttp = transfer.spec.remote?.allowHttpsToHttp ?? false
    let url = transfer.spec.url
    for (;;) {
      const urlOrigin = url === transfer.spec.url ? ctx.origin : new URL(url).origin
      const headers = requestHeaders(ctx, urlOrigin, extra)
      yield* ctx.limits.requestToken
      transfer.touch("response")
      const sentAt = Date.now()
      const answer =
        ctx.exchange === undefined
          ? yield* sendGeneric(transfer, ctx, url, headers)
          : yield* sendLean(transfer, ctx, ctx.exchange, url, headers)
      if (!redirectStatuses.has(answer.status)) {
        transfer.answeredFrom(url)
        // time to first byte of a served answer: the host's latency controller (http/latencyLimit.ts). Not a
        // segment's: its ranges are bounded by the download's `segments`, and their answers' times under this
        // process's own load are its event loop (measured on loopback: 30 ms at rest, 100–300 ms at 15% of a
        // core), which took the host's connections away from the segments one sample at a time
        if (answer.status >= 200 && answer.status < 300 && transfer.window === undefined) {
          const changed = yield* limiter.host(hostOf(transfer, ctx)).sample(Date.now() - sentAt)
          if (changed !== undefined) yield* recordHost(changed.host, changed.concurrency)
        }
        return answer
      }
      yield* answer.discard
      const next = nextHop(url, answer.header("location"), visited, { allowHttpsToHttp })
      if (next instanceof Error) return yield* next
      visited.add(next.href)
      url = next.href
      // the next hop counts against its own host's connections (the previous host's are given back first)
      if (next.host !== permit.host) yield* permit.moveTo(limiter.host(next.host))
    }
  })

export const hostOf = (transfer: Transfer, ctx: AttemptContext) =>
  transfer.finalUrl === transfer.spec.url ? ctx.host : new URL(transfer.finalUrl).host

/**
 * Streams the body into the transfer. Every body is streamed, whatever its size: each chunk is activity for the
 * idle timeout (a small body read in one piece showed none until its end, so a live server trickling one always
 * timed out). A small body's chunks emit no progress events of their own; the caller emits the count at the end.
 */
const readBody = (
  transfer: Transfer,
  response: HttpClientResponse.HttpClientResponse,
  ctx: AttemptContext,
  length: number | undefined
): Effect.Effect<void, DownloadError> => {
  const bodyError = transportError(transfer.finalUrl, transfer, ctx, true)
  const small = length !== undefined && length <= ctx.settings.smallBodyBytes
  return response.stream.pipe(
    Stream.mapError(bodyError),
    Stream.runForEachChunk((chunk) => transfer.accept(Chunk.toReadonlyArray(chunk), small)),
    Effect.zipLeft(Effect.sync(() => ctx.guard?.consumed()))
  )
}
