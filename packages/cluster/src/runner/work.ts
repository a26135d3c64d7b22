/**
 * What a runner does with one `Download` message: turn the wire request back into a download request (remotes
 * looked up by name in the shared catalog), wait for one of the runner's download slots, run cargohold's
 * `download` on the runner's own services (HTTP pools, store, catalog), count it, and report progress to the
 * batch's channel.
 */
import {
  type Artifact,
  type DownloadError,
  type DownloadRequestInput,
  download,
  InvalidRequest,
  Progress,
  type Remote,
  Remotes
} from "@cargohold/core"
import type { NodeServices } from "@cargohold/node"
import { Context, Effect, Exit, Option, Schedule } from "effect"
import type { ProgressPublisher } from "../progress.js"
import type { WireRequest } from "../wire.js"
import type { RunnerCounters } from "./counters.js"

export interface DownloadJob {
  readonly batch: string
  readonly index: number
  readonly request: WireRequest
}

export interface RunnerWorkService {
  readonly run: (job: DownloadJob) => Effect.Effect<Artifact, DownloadError>
}

export class RunnerWork extends Context.Tag("@cargohold/cluster/RunnerWork")<RunnerWork, RunnerWorkService>() {}

export interface RunnerWorkOptions {
  /** Downloads running at once on this runner. */
  readonly concurrency: number
  /** The remote of requests that name none (the runner's network flags), if any. */
  readonly defaultRemote?: Remote | undefined
  /** How long a remote looked up in the catalog is reused (default 10 s). */
  readonly remoteTtlMs?: number | undefined
}

/**
 * The catalog is the database every runner shares: its failures on a runner are mostly passing ones (PostgreSQL
 * out of connections, a connection cut, a statement cancelled under load), and a download is idempotent (content
 * addressing, the catalog's upserts), so a runner runs it again for ≈ 30 s before the batch sees the failure.
 */
const catalogRetry = Schedule.exponential("250 millis", 2).pipe(
  Schedule.either(Schedule.spaced("5 seconds")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(9))
)
const isCatalogError = (error: DownloadError): boolean => error._tag === "CatalogError"

export const makeRunnerWork = (
  options: RunnerWorkOptions,
  counters: RunnerCounters,
  publisher: ProgressPublisher
): Effect.Effect<RunnerWorkService, never, NodeServices> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<NodeServices>()
    const remoteStore = yield* Remotes
    const slots = yield* Effect.makeSemaphore(Math.max(1, options.concurrency))
    const ttl = options.remoteTtlMs ?? 10_000
    const remotes = new Map<string, { readonly remote: Remote; readonly at: number }>()

    const remoteNamed = (url: string, name: string | undefined): Effect.Effect<Remote | undefined, DownloadError> => {
      if (name === undefined) return Effect.succeed(options.defaultRemote)
      const cached = remotes.get(name)
      if (cached !== undefined && Date.now() - cached.at < ttl) return Effect.succeed(cached.remote)
      return Effect.flatMap(remoteStore.get(name), (found) =>
        Option.match(found, {
          onNone: () =>
            Effect.fail(new InvalidRequest({ url, reason: `no remote named '${name}' in the shared catalog of the runners` })),
          onSome: (remote) =>
            Effect.sync(() => {
              remotes.set(name, { remote, at: Date.now() })
              return remote
            })
        })
      )
    }

    const fromWire = (wire: WireRequest): Effect.Effect<DownloadRequestInput, DownloadError> =>
      Effect.gen(function* () {
        const remote = yield* remoteNamed(wire.url, wire.remote)
        const sources =
          wire.sources === undefined
            ? undefined
            : yield* Effect.forEach(wire.sources, (source) =>
                Effect.map(remoteNamed(source.url, source.remote), (sourceRemote) => ({
                  url: source.url,
                  priority: source.priority,
                  weight: source.weight,
                  remote: sourceRemote
                }))
              )
        return { url: wire.url, size: wire.size, digests: wire.digests, priority: wire.priority, remote, sources }
      })

    const run = (job: DownloadJob): Effect.Effect<Artifact, DownloadError> =>
      slots.withPermits(1)(
        Effect.suspend(() => {
          counters.started()
          return fromWire(job.request).pipe(
            Effect.flatMap((request) => download(request).pipe(Effect.retry({ while: isCatalogError, schedule: catalogRetry }))),
            Effect.provideService(Progress, publisher.forDownload(job.batch, job.index)),
            Effect.onExit((exit) =>
              Effect.sync(() =>
                counters.finished(
                  job.batch,
                  Exit.isSuccess(exit)
                    ? { ok: true, cached: exit.value.cached, bytes: exit.value.size }
                    : // interrupted (the runner is stopping, or its shard moved): it runs again elsewhere, no outcome here
                      Exit.isInterrupted(exit)
                      ? undefined
                      : { ok: false, cached: false, bytes: 0 }
                )
              )
            )
          )
        })
      ).pipe(Effect.provide(context))
    return { run }
  })
