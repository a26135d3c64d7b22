/**
 * Request coalescing: within one process, concurrent downloads of the same sha256 into the same store share one
 * download, and every requester gets its result.
 *
 * The shared download runs in its own (daemon) fiber, so one requester's interruption does not cut it off for the
 * others; when the last requester leaves, it is interrupted (and cleans up as any interrupted download does).
 * The entry leaves the map as soon as the download ends, so the map only ever holds downloads in flight.
 */
import { Cause, Deferred, Effect, Exit, Fiber, FiberId } from "effect"
import type { Artifact } from "../domain/artifact.js"
import type { DownloadError } from "../domain/errors.js"

interface Shared {
  readonly deferred: Deferred.Deferred<Artifact, DownloadError>
  waiters: number
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** Per store object (stores with the same id in one process, e.g. two in-memory stores in tests, stay apart). */
const inFlight = new WeakMap<object, Map<string, Shared>>()

const tableFor = (store: object): Map<string, Shared> => {
  let table = inFlight.get(store)
  if (table === undefined) {
    table = new Map()
    inFlight.set(store, table)
  }
  return table
}

/** Downloads in flight for `store` (for tests and diagnostics). */
export const inFlightCount = (store: object): number => inFlight.get(store)?.size ?? 0

/**
 * Runs `download` for `sha256`, or joins the run already in flight for it. `joined` tells whether this requester
 * joined another's download.
 */
export const coalesce = <R>(
  store: object,
  sha256: string,
  download: Effect.Effect<Artifact, DownloadError, R>
): Effect.Effect<{ readonly artifact: Artifact; readonly joined: boolean }, DownloadError, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const table = tableFor(store)
      let shared = table.get(sha256)
      const joined = shared !== undefined
      if (shared === undefined) {
        const entry: Shared = { deferred: yield* Deferred.make<Artifact, DownloadError>(), waiters: 0, fiber: undefined }
        table.set(sha256, entry)
        const release = Effect.sync(() => {
          if (table.get(sha256) === entry) table.delete(sha256)
        })
        entry.fiber = yield* Effect.forkDaemon(
          restore(download).pipe(
            Effect.exit,
            Effect.flatMap((exit) => Effect.zipRight(release, Deferred.done(entry.deferred, exit))),
            Effect.onInterrupt(() => Effect.zipRight(release, Deferred.interrupt(entry.deferred))),
            Effect.asVoid
          )
        )
        shared = entry
      }
      const entry = shared
      entry.waiters += 1
      const leave = Effect.suspend(() => {
        entry.waiters -= 1
        if (entry.waiters > 0 || entry.fiber === undefined) return Effect.void
        if (table.get(sha256) === entry) table.delete(sha256)
        return Fiber.interrupt(entry.fiber)
      })
      const exit = yield* Effect.exit(restore(Deferred.await(entry.deferred)))
      const settled = yield* Deferred.isDone(entry.deferred)
      if (Exit.isInterrupted(exit) && !settled) yield* leave
      else entry.waiters -= 1
      // a claimed download (no shared run) that its owner's interruption alone ended: this requester was not
      // interrupted itself (the deferred was settled), so it starts over (running it, or joining whoever did first)
      if (joined && entry.fiber === undefined && settled && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) {
        return yield* restore(coalesce(store, sha256, download))
      }
      const artifact = yield* exit
      return { artifact, joined }
    })
  )

/** A caller's hold on a sha256 it downloads on its own fiber (see `claim`). */
export interface Claim {
  /** Hands the outcome to every requester that joined meanwhile and frees the sha256. */
  readonly settle: (exit: Exit.Exit<Artifact, DownloadError>) => void
}

/**
 * Claims `sha256` for a download the caller runs on its own fiber, with no shared run forked (a batch's fast lane,
 * fastLane.ts): undefined when a download of it is in flight already (the caller then joins it through
 * `coalesce`). Requesters arriving meanwhile join as they would join a shared run. The difference: the download
 * dies with its caller; a requester that joined and was not interrupted itself then starts over (runs the download,
 * or joins whoever did first), so it is never handed another's interruption. `settle` must run whatever ends the
 * download: take the claim and register its settling in one uninterruptible step.
 */
export const claim = (store: object, sha256: string): Claim | undefined => {
  const table = tableFor(store)
  if (table.has(sha256)) return undefined
  const entry: Shared = { deferred: Deferred.unsafeMake<Artifact, DownloadError>(FiberId.none), waiters: 0, fiber: undefined }
  table.set(sha256, entry)
  return {
    settle: (exit) => {
      if (table.get(sha256) === entry) table.delete(sha256)
      Deferred.unsafeDone(entry.deferred, exit)
    }
  }
}
