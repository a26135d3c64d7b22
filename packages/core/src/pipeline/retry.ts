/**
 * The retry schedule: exponential with jitter, capped, a fixed number of attempts, `Retry-After` honoured.
 */
import { Duration, Effect, Schedule } from "effect"
import type { DownloadError } from "../domain/errors.js"
import type { DownloadSettings } from "./config.js"

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
