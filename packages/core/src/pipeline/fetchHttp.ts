/**
 * One HTTP attempt: the remote's transport, auth and limits, under the idle timeout. Sending is httpRequest.ts,
 * what the answer means and the body httpAnswer.ts.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Duration, Effect, type Scope } from "effect"
import type { DownloadError } from "../domain/errors.js"
import { HttpExchange } from "../http/exchange.js"
import { RequestGuard, release, watch } from "../http/requestGuard.js"
import { ifRangeValidator } from "../http/resume.js"
import { NetworkPolicy } from "../remote/policy.js"
import { type DownloadSettings, settingsForRemote } from "./config.js"
import type { ConnectionLimiter } from "./limits.js"
import type { Transfer } from "./transfer.js"
import { oneAttempt } from "./httpAnswer.js"
import { type AttemptContext, proxyOf, requestIdentity, timedOut } from "./httpRequest.js"

const constTrue = () => true

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
    transfer.attemptFailed(broken && transfer.received > 0 && ifRangeValidator(transfer.etag, transfer.lastModified) !== undefined)
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
    transfer.limitedBy(limits.throttle)
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
      proxy: proxyOf(transfer.spec),
      ...requestIdentity(transfer.spec, settings),
      host: url.host
    }
    yield* limits
      .withPermit(ctx.host, (permit) => guarded(transfer, ctx, oneAttempt(transfer, ctx, limiter, permit)))
      .pipe(Effect.tapError(markResumable(transfer)))
  })
