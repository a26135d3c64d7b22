/**
 * One HTTP attempt: the remote's transport, auth and limits; the request (following redirects), status checks,
 * resume with Range + If-Range, and the body into the transfer.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Headers from "@effect/platform/Headers"
import { Chunk, Duration, Effect, Redacted, type Scope, Stream } from "effect"
import {
  type DownloadError,
  HttpStatusError,
  ProxyError,
  SizeMismatch,
  TimeoutError,
  TransferError
} from "../domain/errors.js"
import { classifyTransportError, isCloseBeforeAnswer, parseRetryAfter, proxyLabel } from "../http/classify.js"
import { type Exchange, HttpExchange, type Peer } from "../http/exchange.js"
import { originOf } from "../http/origin.js"
import type { HostPermit } from "../http/hostGate.js"
import { headersForOrigin, nextHop, redirectStatuses } from "../http/redirects.js"
import { RequestGuard, release, watch } from "../http/requestGuard.js"
import { ifRangeValidator, parseContentRange, partialProblem } from "../http/resume.js"
import { authorizationHeader, NetworkPolicy, type RemoteConnection } from "../remote/policy.js"
import { recordHost } from "../telemetry/telemetry.js"
import { type DownloadSettings, settingsForRemote } from "./config.js"
import type { ConnectionLimiter, RemoteLimiter } from "./limits.js"
import type { Transfer } from "./transfer.js"

const constTrue = () => true

/** One header of a response's headers (the platform builds a fresh headers object on every `response.headers`). */
const header = (headers: Headers.Headers, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : undefined
}

/** Bodies of error and redirect answers up to this size are read and dropped, so the connection can be reused. */
const discardLimit = 64 * 1024

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
interface AttemptContext {
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

/** The typed error of a transport failure: `cause` is the platform's (an HttpClientError's cause, or undici's). */
const transportError =
  (url: string, transfer: Transfer, ctx: AttemptContext, inBody: boolean) =>
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
const failBeforeAnswer = (
  url: string,
  transfer: Transfer,
  ctx: AttemptContext,
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
const timedOut = (transfer: Transfer, ctx: AttemptContext): TimeoutError | undefined =>
  ctx.guard?.timedOut === undefined
    ? undefined
    : new TimeoutError({ url: transfer.finalUrl, phase: ctx.guard.timedOut, timeoutMs: ctx.guard.idleMs })

/** An answer's head, and what can be done with its body, whichever path sent the request. */
interface Answer {
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
            Effect.mapError((failure) =>
              failure._tag === "Sink" ? failure.error : transportError(url, transfer, ctx, true)(failure.cause)
            ),
            Effect.zipRight(Effect.sync(() => guard.consumed()))
          )
      })
    )
  )
}

/** The request's headers for `url`: lower-case names, the later source winning (as the platform's setHeaders). */
const requestHeaders = (
  ctx: AttemptContext,
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
const sendFollowing = (
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
        transfer.finalUrl = url
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

const hostOf = (transfer: Transfer, ctx: AttemptContext) =>
  transfer.finalUrl === transfer.spec.url ? ctx.host : new URL(transfer.finalUrl).host

/** Reports a 429/503 to the host's adaptive gate and emits the backoff event. */
const backoff = (
  transfer: Transfer,
  ctx: AttemptContext,
  limiter: ConnectionLimiter,
  status: number,
  retryAfterMs: number | undefined
) =>
  Effect.flatMap(limiter.host(hostOf(transfer, ctx)).backoff(retryAfterMs), (signal) =>
    Effect.zipRight(recordHost(signal.host, signal.concurrency, status), transfer.progress.emit({
      _tag: "HostBackoff",
      id: transfer.id,
      url: transfer.spec.url,
      host: signal.host,
      status,
      concurrency: signal.concurrency,
      pauseMs: signal.pauseMs
    }))
  )

const recovered = (transfer: Transfer, ctx: AttemptContext, limiter: ConnectionLimiter) =>
  Effect.flatMap(limiter.host(hostOf(transfer, ctx)).success(), (signal) =>
    signal === undefined
      ? Effect.void
      : Effect.zipRight(recordHost(signal.host, signal.concurrency), transfer.progress.emit({
          _tag: "HostRecovered",
          id: transfer.id,
          url: transfer.spec.url,
          host: signal.host,
          concurrency: signal.concurrency
        }))
  )

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

const oneAttempt = (transfer: Transfer, ctx: AttemptContext, limiter: ConnectionLimiter, permit: HostPermit) =>
  Effect.gen(function* () {
    const from = transfer.received
    // a segment (pipeline/segments) always asks for its range, with If-Range once a validator is known
    const window = transfer.window
    const validator = from > 0 || window !== undefined ? ifRangeValidator(transfer.etag, transfer.lastModified) : undefined
    transfer.resumable = false
    if (window === undefined && from > 0 && validator === undefined) yield* transfer.reset
    const resuming = window !== undefined || (from > 0 && validator !== undefined)
    const extra: Record<string, string> = { "accept-encoding": "identity" }
    if (!resuming && transfer.conditional !== undefined) Object.assign(extra, transfer.conditional)
    if (resuming) {
      extra.range = window === undefined ? `bytes=${from}-` : `bytes=${window.start + from}-${window.end - 1}`
      if (validator !== undefined) extra["if-range"] = validator
    }
    const answer = yield* sendFollowing(transfer, ctx, extra, limiter, permit)
    const url = transfer.finalUrl
    const status = answer.status
    const etag = answer.header("etag")
    const lastModified = answer.header("last-modified")
    if (resuming && status === 206) {
      const problem = partialProblem(
        (window?.start ?? 0) + from,
        answer.header("content-range"),
        { etag: transfer.etag, lastModified: transfer.lastModified },
        { etag, lastModified }
      )
      if (problem !== undefined && window !== undefined) {
        yield* answer.discard
        transfer.rangeRefused = "changed"
        return yield* new TransferError({ url, received: from, reason: `segment: ${problem}` })
      }
      if (problem !== undefined) {
        yield* transfer.reset
        return yield* new TransferError({ url, received: 0, reason: `cannot resume: ${problem}; starting over` })
      }
      if (window !== undefined) {
        // checked and set in one synchronous step: segments of one source share these validators
        transfer.rangeTotal = parseContentRange(answer.header("content-range"))?.total
        transfer.etag ??= etag
        transfer.lastModified ??= lastModified
      }
    } else if (window !== undefined && (status === 200 || status === 416)) {
      // a whole body (or a refusal) for a range: with If-Range the file changed; without, ranges are not served
      yield* answer.discard
      transfer.rangeRefused = validator !== undefined ? "changed" : "unsupported"
      return yield* new TransferError({ url, received: from, reason: `segment: the server answered ${status} to a range` })
    } else if (status === 200) {
      // a full body: a server that ignores Range, or a changed validator (If-Range) — start over cleanly
      if (transfer.received > 0) yield* transfer.reset
      transfer.etag = etag
      transfer.lastModified = lastModified
    } else if (status === 304 && transfer.conditional !== undefined && !resuming) {
      // not modified: what the catalog holds for this URL is current (revalidate.ts); there is no body to read
      yield* answer.discard
      transfer.notModified = true
      yield* recovered(transfer, ctx, limiter)
      return
    } else if (resuming && status === 416) {
      yield* transfer.reset
      return yield* new TransferError({ url, received: 0, reason: "range not satisfiable; starting over" })
    } else {
      yield* answer.discard
      const retryAfterMs = parseRetryAfter(answer.header("retry-after"), Date.now())
      if (status === 429 || status === 503) yield* backoff(transfer, ctx, limiter, status, retryAfterMs)
      if (status === 407 && ctx.proxy !== undefined) {
        return yield* new ProxyError({
          url,
          proxy: ctx.proxy,
          status,
          reason: "407 Proxy Authentication Required (proxy credentials missing or refused)"
        })
      }
      return yield* new HttpStatusError({ url, status, retryAfterMs })
    }
    // the body comes over this connection: its peer is the download's provenance (the last one, when resumed)
    transfer.peer = answer.peer
    const lengthHeader = answer.header("content-length")
    const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined
    const start = transfer.received
    const total = length === undefined ? undefined : start + length
    // a segment's length is its range's: the whole size is checked against its Content-Range (segments/)
    const expected = window === undefined ? transfer.spec.size : undefined
    if (total !== undefined && expected !== undefined && total !== expected) {
      return yield* new SizeMismatch({ url, expected, actual: total })
    }
    transfer.total = total
    transfer.watch = undefined
    if (transfer.divert !== undefined && status === 200 && total !== undefined) {
      const head = { total, acceptRanges: /\bbytes\b/i.test(answer.header("accept-ranges") ?? ""), etag, lastModified }
      const decision = transfer.divert(head)
      if (decision === "now") {
        // the download goes on in segments: this body is dropped (aborted with the attempt)
        transfer.diverted = { ...head, received: 0 }
        yield* answer.discard
        return yield* new TransferError({ url, received: 0, reason: "large body: fetched in segments instead" })
      }
      // one stream while it is fast; the transfer stops it if it is not (transfer.ts `watchMs`)
      if (typeof decision === "object") {
        const fastBytesPerMs = decision.watchBelowBytesPerSecond / 1000
        transfer.watch = { head, since: Date.now(), sinceBytes: transfer.received, fastBytesPerMs }
      }
    }
    transfer.touch("idle-read")
    yield* answer.readBody(length)
    if (total !== undefined && transfer.received !== total) {
      return yield* new TransferError({
        url,
        received: transfer.received,
        reason: `body ended after ${transfer.received} of ${total} bytes`
      })
    }
    yield* recovered(transfer, ctx, limiter)
    yield* transfer.bytesEvent
  })

/**
 * Runs one attempt under the idle timeout. With request guards (the usual case): the shared watchdog aborts the
 * attempt's requests when it idles, requests whose bodies were not consumed are aborted when it ends, and no
 * fiber or scope is made per attempt. Without: a watchdog fiber and the HttpClient's scope, as before.
 */
const guarded = (
  transfer: Transfer,
  ctx: AttemptContext,
  attempt: Effect.Effect<void, DownloadError, Scope.Scope>
): Effect.Effect<void, DownloadError> => {
  const guard = ctx.guard
  if (guard === undefined) {
    return Effect.scoped(transfer.withIdleTimeout(attempt, Duration.toMillis(ctx.settings.idleTimeout)))
  }
  return Effect.suspend(() => {
    // idleness counts from the start of this attempt, not from the end of the previous one
    transfer.touch("response")
    watch(guard)
    // the guarded client needs no scope: nothing is added to it (the guard aborts what is left open)
    return (attempt as Effect.Effect<void, DownloadError>).pipe(
      Effect.mapError((error) => timedOut(transfer, ctx) ?? error),
      Effect.ensuring(Effect.sync(() => release(guard)))
    )
  })
}

/** After a broken body, remember whether the next attempt can ask for the rest. */
const markResumable = (transfer: Transfer) => (error: DownloadError) =>
  Effect.sync(() => {
    const broken = error._tag === "TransferError" || (error._tag === "TimeoutError" && error.phase === "idle-read")
    transfer.resumable =
      broken && transfer.received > 0 && ifRangeValidator(transfer.etag, transfer.lastModified) !== undefined
  })

/** Runs one HTTP attempt into `transfer`. The request is aborted when the enclosing scope closes. */
export const fetchHttp = (
  transfer: Transfer,
  baseSettings: DownloadSettings,
  limiter: ConnectionLimiter
): Effect.Effect<void, DownloadError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const remote = transfer.spec.remote
    const settings = settingsForRemote(baseSettings, remote)
    const url = new URL(transfer.spec.url)
    const connection = yield* Effect.flatMap(NetworkPolicy, (policy) => policy.forRemote(remote))
    const limits = limiter.forRemote(remote)
    transfer.throttle = limits.throttle
    const idleMs = Duration.toMillis(settings.idleTimeout)
    const exchange = (yield* HttpExchange)?.forConnection(connection)
    // the lean exchange takes the guard's controllers; the platform HttpClient (no public way to hand it a
    // controller) has its requests tied to the attempt's scope and a watchdog fiber instead
    const guard = exchange !== undefined ? new RequestGuard(transfer, idleMs) : undefined
    const ctx: AttemptContext = {
      client: HttpClient.withScope(yield* HttpClient.HttpClient).pipe(HttpClient.withTracerDisabledWhen(constTrue)),
      exchange,
      guard,
      settings,
      connection,
      limits,
      proxy: remote?.proxy !== undefined ? proxyLabel(remote.proxy.url) : undefined,
      headers: { "user-agent": settings.userAgent, ...remote?.headers, ...transfer.spec.headers },
      // credentials written into the URL are for its own origin; else the remote's, for the remote's origin
      authorization: transfer.spec.urlAuthorization ?? authorizationHeader(remote),
      authOrigin: transfer.spec.urlAuthorization !== undefined ? url.origin : remote === undefined ? undefined : originOf(remote.url),
      origin: url.origin,
      host: url.host
    }
    yield* limits
      .withPermit(ctx.host, (permit) => guarded(transfer, ctx, oneAttempt(transfer, ctx, limiter, permit)))
      .pipe(Effect.tapError(markResumable(transfer)))
  })
