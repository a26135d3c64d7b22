/**
 * One HTTP attempt: request (following redirects), status checks, and the body into the transfer.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Chunk, Duration, Effect, type Scope, Stream } from "effect"
import { type DownloadError, HttpStatusError, SizeMismatch, TransferError } from "../domain/errors.js"
import { classifyTransportError, parseRetryAfter } from "../http/classify.js"
import { credentialHeaders, nextHop, redirectStatuses } from "../http/redirects.js"
import type { DownloadSettings } from "./config.js"
import type { ConnectionLimiter } from "./limits.js"
import type { Transfer } from "./transfer.js"

const constTrue = () => true

const header = (response: HttpClientResponse.HttpClientResponse, name: string): string | undefined => {
  const value = response.headers[name]
  return typeof value === "string" ? value : undefined
}

const withoutCredentials = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (!(credentialHeaders as ReadonlyArray<string>).includes(name.toLowerCase())) kept[name] = value
  }
  return kept
}

const transportError =
  (url: string, transfer: Transfer, settings: DownloadSettings, inBody: boolean) =>
  (error: HttpClientError.HttpClientError): DownloadError =>
    classifyTransportError(
      url,
      error.cause ?? error,
      inBody ? transfer.received : undefined,
      Duration.toMillis(settings.connectTimeout)
    )

/** Sends the request and follows redirects; returns the final response (status not yet checked). */
const sendFollowing = (
  client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>,
  transfer: Transfer,
  settings: DownloadSettings
): Effect.Effect<HttpClientResponse.HttpClientResponse, DownloadError, Scope.Scope> =>
  Effect.gen(function* () {
    const origin = new URL(transfer.spec.url).origin
    const visited = new Set<string>([transfer.spec.url])
    let url = transfer.spec.url
    for (;;) {
      const sameOrigin = new URL(url).origin === origin
      const headers = sameOrigin ? transfer.spec.headers : withoutCredentials(transfer.spec.headers)
      const request = HttpClientRequest.get(url).pipe(
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.setHeaders({ "accept-encoding": "identity", "user-agent": settings.userAgent })
      )
      transfer.touch("response")
      const response = yield* client.execute(request).pipe(Effect.mapError(transportError(url, transfer, settings, false)))
      if (!redirectStatuses.has(response.status)) {
        transfer.finalUrl = url
        return response
      }
      const next = nextHop(url, header(response, "location"), visited, { allowHttpsToHttp: false })
      if (next instanceof Error) return yield* next
      visited.add(next.href)
      url = next.href
    }
  })

/** Runs one HTTP attempt into `transfer`. The request is aborted when the enclosing scope closes. */
export const fetchHttp = (
  transfer: Transfer,
  settings: DownloadSettings,
  limiter: ConnectionLimiter
): Effect.Effect<void, DownloadError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withScope, HttpClient.withTracerDisabledWhen(constTrue))
    const attempt = Effect.gen(function* () {
      const response = yield* sendFollowing(client, transfer, settings)
      const url = transfer.finalUrl
      if (response.status !== 200) {
        return yield* new HttpStatusError({
          url,
          status: response.status,
          retryAfterMs: parseRetryAfter(header(response, "retry-after"), Date.now())
        })
      }
      const lengthHeader = header(response, "content-length")
      const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined
      const expected = transfer.spec.size
      if (length !== undefined && expected !== undefined && length !== expected) {
        return yield* new SizeMismatch({ url, expected, actual: length })
      }
      transfer.total = length
      transfer.etag = header(response, "etag")
      transfer.lastModified = header(response, "last-modified")
      transfer.touch("idle-read")
      const bodyError = transportError(url, transfer, settings, true)
      if (length !== undefined && length <= settings.smallBodyBytes) {
        const buffer = yield* response.arrayBuffer.pipe(Effect.mapError(bodyError))
        yield* transfer.accept([new Uint8Array(buffer)])
      } else {
        yield* response.stream.pipe(
          Stream.mapError(bodyError),
          Stream.runForEachChunk((chunk) => transfer.accept(Chunk.toReadonlyArray(chunk)))
        )
      }
      if (length !== undefined && transfer.received !== length) {
        return yield* new TransferError({
          url,
          received: transfer.received,
          reason: `body ended after ${transfer.received} of ${length} bytes`
        })
      }
      yield* transfer.bytesEvent
    })
    const host = new URL(transfer.spec.url).host
    yield* limiter.withPermit(
      host,
      Effect.scoped(transfer.withIdleTimeout(attempt, Duration.toMillis(settings.idleTimeout)))
    )
  })
