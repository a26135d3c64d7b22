/**
 * The retry policy, whole: which failures are worth another attempt (at this source, at another source, at none),
 * how many times a source that served wrong bytes is asked again, and the schedule between attempts — exponential
 * with jitter, capped, a fixed number of attempts, `Retry-After` honoured. failover.ts and segments/run.ts apply it.
 */
import { Duration, Effect, Schedule } from "effect"
import type { DownloadError } from "../domain/errors.js"
import type { DownloadSettings } from "./config.js"

/** Errors worth another attempt: the network or the server may do better next time. */
export const isRetryable = (error: DownloadError): boolean => {
  switch (error._tag) {
    case "ConnectError":
    case "TimeoutError":
    case "TransferError":
    case "ProtocolError":
    case "DigestMismatch":
      return true
    case "SizeMismatch":
      // a short body is a broken transfer; a body longer than promised will be long again
      return error.actual < error.expected
    case "HttpStatusError":
      return error.status >= 500 || error.status === 408 || error.status === 429
    default:
      return false
  }
}

/** Failures that say something about the whole origin, not just this artifact at it: the origin cools down. */
export const isOriginFailure = (error: DownloadError): boolean => {
  switch (error._tag) {
    case "ConnectError":
    case "TlsError":
    case "ProxyError":
      return true
    case "TimeoutError":
      return error.phase !== "idle-read"
    case "ProtocolError":
      // no HTTP at all from the origin (another service on the port, a broken proxy), not one bad body
      return error.received === 0
    case "HttpStatusError":
      return error.status >= 500 || error.status === 429
    default:
      return false
  }
}

/** Failures of the local side (store, catalog): no other source would do better, so the download ends. */
export const isLocalFailure = (error: DownloadError): boolean =>
  error._tag === "StorageError" || error._tag === "CatalogError"

/**
 * Whether to try the same source again after `error`. With several sources, another source is the better retry:
 * only the last one left (or the only one) gets the schedule. A source that served wrong bytes is asked again at
 * most once: a mistyped digest or a bad mirror gives the same wrong bytes every time, and each time is the whole
 * file.
 */
export const retryAtSameSource = (
  error: DownloadError,
  at: { readonly lastSource: boolean; readonly mismatches: number }
): boolean => at.lastSource && isRetryable(error) && (error._tag !== "DigestMismatch" || at.mismatches < 2)

/** The delay a failure asks for on its own (a server's Retry-After), capped. */
const requestedDelay = (error: DownloadError, cap: Duration.Duration): Duration.Duration =>
  error._tag === "HttpStatusError" && error.retryAfterMs !== undefined
    ? Duration.min(Duration.millis(error.retryAfterMs), cap)
    : Duration.zero

/**
 * Builds the schedule. `onRetry` runs before each wait with the attempt about to start (2 for the first retry),
 * the error and the delay.
 */
export const retrySchedule = <R>(
  settings: DownloadSettings,
  onRetry: (attempt: number, error: DownloadError, delay: Duration.Duration) => Effect.Effect<void, never, R>
): Schedule.Schedule<DownloadError, DownloadError, R> => {
  const backoff: Schedule.Schedule<unknown, DownloadError> = Schedule.exponential(settings.retryBaseDelay, 2).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, settings.attempts - 1)))
  )
  let attempt = 1
  return Schedule.passthrough(backoff).pipe(
    Schedule.modifyDelayEffect((error, delay) => {
      const wait = Duration.max(Duration.min(delay, settings.retryMaxDelay), requestedDelay(error, settings.retryAfterCap))
      attempt += 1
      return Effect.as(onRetry(attempt, error, wait), wait)
    })
  )
}

/**
 * `Effect.retry(effect, { schedule, while: shouldRetry })`, with the same attempts and delays, but the schedule is
 * built (and its driver started) only after a first failure that `shouldRetry` accepts: a download that succeeds
 * on its first attempt, the usual case, pays for no schedule at all.
 */
export const retryAfterFirstFailure = <A, R, R2>(
  effect: Effect.Effect<A, DownloadError, R>,
  schedule: () => Schedule.Schedule<DownloadError, DownloadError, R2>,
  shouldRetry: (error: DownloadError) => boolean
): Effect.Effect<A, DownloadError, R | R2> =>
  Effect.catchAll(effect, (first) => {
    if (!shouldRetry(first)) return Effect.fail(first)
    // the first failure is replayed once into the schedule, so it counts exactly as under Effect.retry
    let replay: DownloadError | undefined = first
    const again = Effect.suspend(() => {
      if (replay === undefined) return effect
      const error = replay
      replay = undefined
      return Effect.fail(error)
    })
    return Effect.retry(again, { schedule: schedule(), while: shouldRetry })
  })
