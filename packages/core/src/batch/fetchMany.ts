/**
 * `fetchMany`: a stream of requests in, a stream of per-artifact results out.
 *
 * - One bad artifact never fails the batch: its result carries the typed error (unless `failFast`: then the
 *   stream ends right after the first failure and downloads still running are interrupted and cleaned up).
 * - Bounded: at most `concurrency` downloads run, and at most `maxInFlightBytes` of expected size is in flight
 *   (a request without a size counts as `unknownSizeEstimate`). The input is pulled only as work frees up, results
 *   come out as they finish (not in input order; `index` says which request), and nothing about a request is kept
 *   once its result is emitted — memory stays flat however long the input.
 * - Deduplication by sha256 without a "seen" set: concurrent requests for the same sha256 share one download
 *   (coalescing), and a later duplicate finds the artifact stored and catalogued and returns it without a request.
 *   Artifacts already stored are skipped the same way.
 * - Catalog reads and writes are grouped (see prefetch.ts and recorder.ts).
 * - Progress: every per-download event is forwarded, and `BatchProgress` events carry the totals.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Cause, Context, Effect, Stream } from "effect"
import { workerPool } from "./workerPool.js"
import { ByteBudget } from "./byteBudget.js"
import { Catalog } from "../catalog/Catalog.js"
import type { Artifact } from "../domain/artifact.js"
import type { DownloadError } from "../domain/errors.js"
import type { DownloadRequestInput } from "../domain/request.js"
import { downloadWith } from "../pipeline/download.js"
import { makeFastLane } from "../pipeline/fastLane.js"
import { Progress } from "../progress/Progress.js"
import type { Remotes } from "../remote/Remotes.js"
import type { Storage } from "../storage/Storage.js"
import { makePrefetcher, type Prefetched } from "./prefetch.js"
import { makeBatchRecorder } from "./recorder.js"
import { BatchTracker } from "./tracker.js"

/** One request of a batch: a download request (with any mirrors). */
export type BatchRequest = DownloadRequestInput

export interface BatchOk {
  readonly _tag: "Ok"
  /** Position of the request in the input, from 0. */
  readonly index: number
  readonly request: BatchRequest
  readonly artifact: Artifact
}

export interface BatchFailed {
  readonly _tag: "Failed"
  readonly index: number
  readonly request: BatchRequest
  readonly error: DownloadError
}

export type BatchResult = BatchOk | BatchFailed

export interface BatchOptions {
  /** Downloads running at once (default 32). Connections are limited separately (`ConnectionLimits`). */
  readonly concurrency?: number | undefined
  /** Sum of the expected sizes of downloads running at once (default 256 MiB). */
  readonly maxInFlightBytes?: number | undefined
  /** How much a request without an expected size counts against `maxInFlightBytes` (default 1 MiB). */
  readonly unknownSizeEstimate?: number | undefined
  /** End the stream after the first failure (default false). */
  readonly failFast?: boolean | undefined
  /** Number of requests, when the caller knows it (for progress totals and ETA). */
  readonly total?: number | undefined
  /** Sum of the expected sizes, when the caller knows it (for progress). */
  readonly bytesExpected?: number | undefined
  /** Minimum time between two `BatchProgress` events (default 250 ms). */
  readonly progressIntervalMs?: number | undefined
  /** Most records per catalog write (default 500). */
  readonly maxRecordsPerWrite?: number | undefined
}

/** Runs a batch elsewhere; the contract is `fetchMany`'s (one result per request as each finishes, progress events). */
export interface BatchExecutorService {
  readonly fetchMany: <E, R>(
    requests: Stream.Stream<BatchRequest, E, R>,
    options: BatchOptions
  ) => Stream.Stream<BatchResult, E, R | Progress>
}

/**
 * Where `fetchMany` runs a batch: `undefined` (the default) in this process. A program that provides one (e.g.
 * `layerClusterBatch` of @cargohold/cluster: each request goes to a download entity on a runner) keeps calling the
 * same `fetchMany` and gets the same results.
 */
export class BatchExecutor extends Context.Reference<BatchExecutor>()("@cargohold/core/BatchExecutor", {
  defaultValue: (): BatchExecutorService | undefined => undefined
}) {}

const MiB = 1024 * 1024

/**
 * Fetches every request of `requests`; yields one result per request as each finishes.
 * The stream fails only if the input stream fails. A provided `BatchExecutor` runs the batch instead.
 */
export const fetchMany = <E, R>(
  requests: Stream.Stream<BatchRequest, E, R>,
  options: BatchOptions = {}
): Stream.Stream<BatchResult, E, R | HttpClient.HttpClient | Storage | Catalog | Remotes | Progress> =>
  Stream.unwrap(
    Effect.map(BatchExecutor, (executor) =>
      executor === undefined ? fetchHere(requests, options) : executor.fetchMany(requests, options)
    )
  )

const fetchHere = <E, R>(
  requests: Stream.Stream<BatchRequest, E, R>,
  options: BatchOptions
): Stream.Stream<BatchResult, E, R | HttpClient.HttpClient | Storage | Catalog | Remotes | Progress> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const concurrency = Math.max(1, options.concurrency ?? 32)
      const maxBytes = Math.max(1, options.maxInFlightBytes ?? 256 * MiB)
      const unknownSize = options.unknownSizeEstimate ?? MiB
      const catalog = yield* Catalog
      const tracker = new BatchTracker(yield* Progress, {
        total: options.total,
        bytesExpected: options.bytesExpected,
        intervalMs: options.progressIntervalMs
      })
      yield* tracker.start()
      const recorder = makeBatchRecorder(catalog, { maxBatch: options.maxRecordsPerWrite })
      const prefetcher = makePrefetcher(catalog)
      // the common small download skips the pipeline's machinery (see pipeline/fastLane.ts)
      const lane = yield* makeFastLane(tracker.progress, recorder.record)
      const bytes = new ByteBudget(maxBytes)

      const one = ([item, index]: readonly [Prefetched, number]): Effect.Effect<
        BatchResult,
        never,
        HttpClient.HttpClient | Storage | Catalog | Remotes | Progress
      > => {
        const request = item.request
        const size = typeof request.size === "number" && request.size >= 0 ? request.size : unknownSize
        const permits = Math.max(1, Math.min(maxBytes, Math.ceil(size)))
        const settle = () => {
          tracker.active -= 1
          prefetcher.finished(item)
          bytes.release(permits)
        }
        // One region for the byte permits and the bookkeeping: the permits are taken (waiting for them interruptibly),
        // the download runs interruptibly, and whatever ends it (success, failure, interruption, defect) settles the request and gives
        // the bytes back (a synchronous step of ByteBudget), in that order — what a semaphore's `withPermits` around an
        // `ensuring` did, in fewer steps. The result is counted after the region, as before: not when the batch is
        // interrupted as it ends.
        return Effect.uninterruptibleMask((restore) => {
          const started = () => {
            tracker.active += 1
            const download = lane?.download(request, item.known) ?? downloadWith(request, { record: recorder.record, known: item.known })
            return Effect.matchCauseEffect(restore(download), {
              onSuccess: (artifact): Effect.Effect<BatchResult> => {
                settle()
                return Effect.succeed({ _tag: "Ok", index, request, artifact })
              },
              onFailure: (cause): Effect.Effect<BatchResult> => {
                settle()
                const failure = Cause.failureOrCause(cause)
                return failure._tag === "Left"
                  ? Effect.succeed({ _tag: "Failed", index, request, error: failure.left })
                  : Effect.failCause(failure.right)
              }
            })
          }
          // bytes free now are taken at once; otherwise the wait for them is interruptible (and takes nothing then)
          return bytes.tryTake(permits) ? started() : Effect.flatMap(restore(bytes.take(permits)), started)
        }).pipe(Effect.flatMap(finish))
      }
      /** Counts a result, and emits the progress event it makes due (if any). */
      const finish = (result: BatchResult): Effect.Effect<BatchResult> => {
        const due = result._tag === "Ok" ? tracker.finishedNow(true, result.artifact.cached) : tracker.finishedNow(false, false)
        return due === undefined ? Effect.succeed(result) : Effect.as(due, result)
      }

      let aborted = true
      const counted = requests.pipe(
        // chunk by chunk (a per-element tap would cut the input into chunks of one, and look-ups into groups of one)
        Stream.mapChunks((chunk) => {
          tracker.seen += chunk.length
          return chunk
        }),
        Stream.onEnd(
          Effect.sync(() => {
            tracker.total ??= tracker.seen
          })
        ),
        Stream.mapChunksEffect(prefetcher.prefetch),
        Stream.zipWithIndex
      )
      let results = workerPool(counted, one, concurrency)
      if (options.failFast) results = results.pipe(Stream.takeUntil((r) => r._tag === "Failed"))
      return results.pipe(
        Stream.onEnd(Effect.sync(() => void (aborted = tracker.failed > 0 && options.failFast === true))),
        Stream.ensuring(Effect.suspend(() => tracker.final(aborted))),
        Stream.provideService(Progress, tracker.progress)
      )
    })
  )
