/**
 * What an answer means for the transfer: resume with Range + If-Range (and a segment's range), a changed or
 * refused range, a whole body, a 304, a refusal (429/503 backoff, 407, other statuses); then the body into the
 * transfer, its length checked.
 */
import { Effect } from "effect"
import { HttpStatusError, ProxyError, SizeMismatch, TransferError } from "../domain/errors.js"
import { parseRetryAfter } from "../http/classify.js"
import type { HostPermit } from "../http/hostGate.js"
import { ifRangeValidator, parseContentRange, partialProblem } from "../http/resume.js"
import { recordHost } from "../telemetry/telemetry.js"
import type { ConnectionLimiter } from "./limits.js"
import type { Transfer } from "./transfer.js"
import { type AttemptContext, hostOf, sendFollowing } from "./httpRequest.js"

/** Reports a 429/503 from `host` to its adaptive gate and emits the backoff event. */
const backoff = (
  transfer: Transfer,
  host: string,
  limiter: ConnectionLimiter,
  status: number,
  retryAfterMs: number | undefined
) =>
  Effect.flatMap(limiter.host(host).backoff(retryAfterMs), (signal) =>
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

/** A served answer from `host` counts towards its recovery after a backoff. */
export const recovered = (transfer: Transfer, host: string, limiter: ConnectionLimiter) =>
  Effect.flatMap(limiter.host(host).success(), (signal) =>
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

/** The body's length as its Content-Length announces it (undefined: none, or not a number). */
export const announcedLength = (header: (name: string) => string | undefined): number | undefined => {
  const value = header("content-length")
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined
}

/**
 * An answer that refuses the request (any status the transfer cannot use), from `host`: a 429/503 backs the host
 * off (its Retry-After honoured), then the typed error (a 407 through a proxy is the proxy's).
 */
export const refused = (
  transfer: Transfer,
  host: string,
  limiter: ConnectionLimiter,
  answer: { readonly status: number; readonly header: (name: string) => string | undefined },
  proxy: string | undefined
): Effect.Effect<never, HttpStatusError | ProxyError> => {
  const { status } = answer
  const url = transfer.finalUrl
  const retryAfterMs = parseRetryAfter(answer.header("retry-after"), Date.now())
  const error =
    status === 407 && proxy !== undefined
      ? new ProxyError({ url, proxy, status, reason: "407 Proxy Authentication Required (proxy credentials missing or refused)" })
      : new HttpStatusError({ url, status, retryAfterMs })
  return status === 429 || status === 503
    ? Effect.zipRight(backoff(transfer, host, limiter, status, retryAfterMs), Effect.fail(error))
    : Effect.fail(error)
}

export const oneAttempt = (transfer: Transfer, ctx: AttemptContext, limiter: ConnectionLimiter, permit: HostPermit) =>
  Effect.gen(function* () {
    const from = transfer.received
    // a segment (pipeline/segments) always asks for its range, with If-Range once a validator is known
    const window = transfer.window
    const validator = from > 0 || window !== undefined ? ifRangeValidator(transfer.etag, transfer.lastModified) : undefined
    transfer.attemptStarts()
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
        transfer.rangeNotServed("changed")
        return yield* new TransferError({ url, received: from, reason: `segment: ${problem}` })
      }
      if (problem !== undefined) {
        yield* transfer.reset
        return yield* new TransferError({ url, received: 0, reason: `cannot resume: ${problem}; starting over` })
      }
      if (window !== undefined) {
        // checked and set in one synchronous step: segments of one source share these validators
        transfer.rangeAccepted(parseContentRange(answer.header("content-range"))?.total, etag, lastModified)
      }
    } else if (window !== undefined && (status === 200 || status === 416)) {
      // a whole body (or a refusal) for a range: with If-Range the file changed; without, ranges are not served
      yield* answer.discard
      transfer.rangeNotServed(validator !== undefined ? "changed" : "unsupported")
      return yield* new TransferError({ url, received: from, reason: `segment: the server answered ${status} to a range` })
    } else if (status === 200) {
      // a full body: a server that ignores Range, or a changed validator (If-Range) — start over cleanly
      if (transfer.received > 0) yield* transfer.reset
      transfer.answeredWhole(etag, lastModified)
    } else if (status === 304 && transfer.conditional !== undefined && !resuming) {
      // not modified: what the catalog holds for this URL is current (revalidate.ts); there is no body to read
      yield* answer.discard
      transfer.answeredNotModified()
      yield* recovered(transfer, hostOf(transfer, ctx), limiter)
      return
    } else if (resuming && status === 416) {
      yield* transfer.reset
      return yield* new TransferError({ url, received: 0, reason: "range not satisfiable; starting over" })
    } else {
      yield* answer.discard
      return yield* refused(transfer, hostOf(transfer, ctx), limiter, { status, header: answer.header }, ctx.proxy)
    }
    const length = announcedLength(answer.header)
    const start = transfer.received
    const total = length === undefined ? undefined : start + length
    // the body comes over this connection: its peer is the download's provenance (the last one, when resumed)
    transfer.bodyStarts(answer.peer, total)
    // a segment's length is its range's: the whole size is checked against its Content-Range (segments/)
    const expected = window === undefined ? transfer.spec.size : undefined
    if (total !== undefined && expected !== undefined && total !== expected) {
      return yield* new SizeMismatch({ url, expected, actual: total })
    }
    if (transfer.divert !== undefined && status === 200 && total !== undefined) {
      const head = { total, acceptRanges: /\bbytes\b/i.test(answer.header("accept-ranges") ?? ""), etag, lastModified }
      const decision = transfer.divert(head)
      if (decision === "now") {
        // the download goes on in segments: this body is dropped (aborted with the attempt)
        const stop = transfer.divertedAtHead(head)
        yield* answer.discard
        return yield* stop
      }
      // one stream while it is fast; the transfer stops it once it is not (segments/watch.ts)
      if (typeof decision === "object") transfer.watchedFrom(head, decision.watchBelowBytesPerSecond)
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
    yield* recovered(transfer, hostOf(transfer, ctx), limiter)
    yield* transfer.bytesEvent
  })
