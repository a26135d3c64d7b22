/**
 * On-demand fetches for the server: the first request for an artifact that is not stored starts one fetch (the
 * pipeline's `download`: best sources first, verified, stored, catalogued); every request for it meanwhile
 * follows the same fetch's bytes (see live.ts). A fetch runs to its end even when every client has gone (a Range
 * request on a miss still stores the whole artifact). A fetch that failed makes the artifact fail fast for
 * `cooldownMs` (clients get a clear error at once instead of another upstream attempt per request; the sources'
 * own health is kept by the pipeline and the catalog). Across processes on one store, a lease per artifact
 * (lease.ts) lets one of them fetch while the others wait for it in the store.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect, Exit, Option, type Scope } from "effect"
import { makeBatchRecorder } from "../batch/recorder.js"
import { Catalog } from "../catalog/Catalog.js"
import type { Artifact } from "../domain/artifact.js"
import type { ComputedDigests, Sha256 } from "../domain/digest.js"
import { type DownloadError, TransferError } from "../domain/errors.js"
import { downloadWith } from "../pipeline/download.js"
import type { Progress } from "../progress/Progress.js"
import type { Remotes } from "../remote/Remotes.js"
import { type OpenedTemp, Storage, type StorageService, type TempObject } from "../storage/Storage.js"
import { type FetchLeases, soleLeases } from "./lease.js"
import { LiveBody } from "./live.js"

export interface OnDemandSettings {
  /** Who fetches an artifact among the processes on one store (default: this one always, `soleLeases`). */
  readonly leases?: FetchLeases | undefined
  /** Waiting on another process's fetch: the store is looked at after this many ms at first (default 50)… */
  readonly pollMinMs: number
  /** …and at most this far apart (default 1000). */
  readonly pollMaxMs: number
  /** Bytes of a running fetch kept in memory for its readers (default 16 MiB). */
  readonly windowBytes: number
  /** How long a failed artifact answers with its error before it is tried again (default 30 s). */
  readonly cooldownMs: number
}

export const defaultOnDemandSettings: OnDemandSettings = {
  windowBytes: 16 * 1024 * 1024,
  cooldownMs: 30_000,
  pollMinMs: 50,
  pollMaxMs: 1000
}

/** What an on-demand fetch needs: the artifact's identity, size and digests (its sources are in the catalog). */
export interface OnDemandTarget {
  readonly sha256: Sha256
  readonly size: number | undefined
  readonly digests: Partial<ComputedDigests> | undefined
}

export type OnDemandStart =
  | { readonly _tag: "Live"; readonly live: LiveBody }
  /** No source is known for it. */
  | { readonly _tag: "NoSource" }
  /** It failed recently: the error, until when. */
  | { readonly _tag: "CoolingDown"; readonly error: DownloadError; readonly untilMs: number }

export interface OnDemandFetches {
  /** Joins the fetch in flight for this artifact, or starts one. */
  readonly fetch: (target: OnDemandTarget) => Effect.Effect<OnDemandStart, DownloadError>
  /** Fetches in flight (diagnostics and tests). */
  readonly inFlight: () => number
}

/**
 * The store seen by one fetch: its temporary object's writes and restarts also go to the fetch's readers. Every way
 * bytes reach a temporary object is either passed on here or hidden: the lean transfer appends through `append`
 * (no `write` at all), so an `append` not passed on would leave the readers waiting for the end of the fetch; the
 * positional `writeAt` is hidden, since the readers follow one stream in order (the pipeline then fetches in one).
 */
const teeStorage = (storage: StorageService, live: LiveBody): StorageService => {
  const tee = (temp: TempObject): TempObject => {
    const append = temp.append
    return {
      ...temp,
      write: (chunks) => Effect.zipRight(temp.write(chunks), Effect.sync(() => live.publish(chunks))),
      // the lean path hands over fresh buffers it never reuses (undici's parsed chunks), so readers may hold them
      append:
        append === undefined
          ? undefined
          : (chunk) => {
              const pending = append(chunk)
              live.publish([chunk])
              return pending
            },
      writeAt: undefined,
      readAt: undefined,
      reset: Effect.zipRight(temp.reset, Effect.sync(() => live.reset()))
    }
  }
  const open = storage.open
  return {
    ...storage,
    begin: Effect.map(storage.begin, tee),
    // both ways to a temporary object go through the tee: the pipeline takes `open` when there is one
    open: open === undefined ? undefined : Effect.map(open, ({ temp, release }): OpenedTemp => ({ temp: tee(temp), release }))
  }
}

/**
 * On-demand fetches running in `scope` (closing it interrupts those in flight; their temporary objects go with them).
 */
export const makeOnDemandFetches = (
  scope: Scope.Scope,
  settings: OnDemandSettings = defaultOnDemandSettings
): Effect.Effect<OnDemandFetches, never, HttpClient.HttpClient | Storage | Catalog | Remotes | Progress> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<HttpClient.HttpClient | Storage | Catalog | Remotes | Progress>()
    const storage = yield* Storage
    const catalog = yield* Catalog
    // finished fetches are catalogued in groups: concurrent cold misses share transactions (and their fsyncs)
    const recorder = makeBatchRecorder(catalog, { lingerMs: 0 })
    const running = new Map<string, LiveBody>()
    const failed = new Map<string, { readonly error: DownloadError; readonly untilMs: number }>()
    const leases = settings.leases ?? soleLeases

    const settle = (target: OnDemandTarget, live: LiveBody, exit: Exit.Exit<Artifact, DownloadError>) =>
      Effect.sync(() => {
        running.delete(target.sha256)
        if (Exit.isSuccess(exit)) live.finish({ _tag: "Verified", artifact: exit.value })
        else {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          if (error !== undefined) failed.set(target.sha256, { error, untilMs: Date.now() + settings.cooldownMs })
          live.finish({ _tag: "Failed", error: error ?? interrupted(target.sha256) })
        }
      })

    /** This process fetches it: best source first, verified, stored, catalogued; the lease goes at the end. */
    const own = (target: OnDemandTarget, live: LiveBody, url: string, release: Effect.Effect<void>) =>
      downloadWith({ url, sha256: target.sha256, size: target.size, digests: target.digests }, { record: recorder.record }).pipe(
        Effect.provideService(Storage, teeStorage(storage, live)),
        Effect.provide(context),
        Effect.ensuring(release),
        Effect.exit,
        Effect.flatMap((exit) => settle(target, live, exit))
      )

    /** The artifact, when the store holds it whole (another process committed it). */
    const storedNow = (target: OnDemandTarget) =>
      storage.stat(target.sha256).pipe(
        Effect.map((found) => Option.isSome(found) && (target.size === undefined || found.value.size === target.size)),
        Effect.orElseSucceed(() => false)
      )

    /**
     * Another process fetches it: wait (polling the store, backing off to `pollMaxMs`) until it is stored, or the
     * lease is free again (that fetch failed or its process died) and this process takes it.
     */
    const awaitOther = (target: OnDemandTarget, live: LiveBody, url: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        let delay = settings.pollMinMs
        for (;;) {
          yield* Effect.sleep(delay)
          delay = Math.min(settings.pollMaxMs, delay * 2)
          if (yield* storedNow(target)) {
            running.delete(target.sha256)
            live.finish({ _tag: "Verified", artifact: undefined })
            return
          }
          const claim = yield* leases.claim(target.sha256)
          if (claim._tag === "Owned") {
            // it may have been committed between the look and the claim
            if (yield* storedNow(target)) {
              yield* claim.release
              running.delete(target.sha256)
              live.finish({ _tag: "Verified", artifact: undefined })
              return
            }
            return yield* own(target, live, url, claim.release)
          }
        }
      })

    const start = (target: OnDemandTarget) =>
      Effect.gen(function* () {
        const sources = yield* catalog.sourcesFor(target.sha256)
        const again = running.get(target.sha256)
        if (again !== undefined) return { _tag: "Live", live: again } as const
        if (sources.length === 0) return { _tag: "NoSource" } as const
        const live = new LiveBody(target.sha256, target.size, settings.windowBytes)
        running.set(target.sha256, live)
        const url = sources[0]!.url
        yield* leases.claim(target.sha256).pipe(
          Effect.flatMap((claim) => (claim._tag === "Owned" ? own(target, live, url, claim.release) : awaitOther(target, live, url))),
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              running.delete(target.sha256)
              live.finish({ _tag: "Failed", error: interrupted(target.sha256) })
            })
          ),
          Effect.forkIn(scope)
        )
        return { _tag: "Live", live } as const
      })

    return {
      fetch: (target) =>
        Effect.suspend((): Effect.Effect<OnDemandStart, DownloadError> => {
          const live = running.get(target.sha256)
          if (live !== undefined) return Effect.succeed({ _tag: "Live", live })
          const recent = failed.get(target.sha256)
          if (recent !== undefined) {
            if (recent.untilMs > Date.now()) return Effect.succeed({ _tag: "CoolingDown", ...recent })
            failed.delete(target.sha256)
          }
          return start(target)
        }),
      inFlight: () => running.size
    }
  })

const interrupted = (sha256: string): DownloadError =>
  new TransferError({ url: `sha256:${sha256}`, received: 0, reason: "the fetch was stopped (the server is shutting down)" })
