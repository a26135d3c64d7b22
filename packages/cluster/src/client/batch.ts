/**
 * The distributed batch: `fetchMany`'s contract with each request sent to its download entity instead of being
 * downloaded here. Results come back in order of completion with the same `BatchResult` shape; progress
 * (`Started`, `Bytes`, `Retrying`…) comes back from the runners over the batch's notification channel and feeds
 * the same `BatchTracker` a local batch uses, so renderers see the same events. `Done` and `Failed` are emitted
 * here, from the results themselves.
 */
import {
  type BatchOptions,
  type BatchRequest,
  type BatchResult,
  BatchTracker,
  CatalogError,
  type DownloadError,
  Progress,
  type ProgressEvent
} from "@cargohold/core"
import { nextDownloadId } from "@cargohold/core/internal/pipeline/download"
import * as Sharding from "@effect/cluster/Sharding"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Effect, Schedule, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { DownloadEntity } from "../entity.js"
import { parseNotes, progressChannel } from "../progress.js"
import { batchesTable, ensureTables, runnersTable } from "../status/tables.js"
import { describeError } from "../storage.js"
import { toWire } from "../wire.js"
import { makeSpread } from "./spread.js"

export interface ClusterBatchOptions {
  /** Requests sent and not answered yet, at most (default 1,024); the runners' concurrency bounds the downloads. */
  readonly window?: number | undefined
}

interface InFlight {
  readonly id: number
  readonly url: string
  started: boolean
}

/**
 * Sending a message again after the message storage failed (a statement cancelled, no pooled connection in time,
 * the database restarting): the message's primary key (`batch/index`) makes the resend find the row the first try
 * may have written and wait for its reply, so a message is never queued twice, and a transient failure never
 * becomes a failed result for a download that will be, or was, done. ≈ 2 minutes of trying before the storage is
 * reported as failed.
 */
const storageRetry = Schedule.exponential("200 millis", 2).pipe(
  Schedule.either(Schedule.spaced("10 seconds")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(16))
)

/** A cluster failure as a result's error: the message storage is a database, as the catalog is. */
const clusterError = (detail: string) => new CatalogError({ operation: "cluster", reason: "Cluster", detail })

/** Which live runner holds which shard, as the runners last wrote it (nothing known: an empty map). */
const shardOwners = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyMap<number, string>> =>
  sql<{ readonly address: string; readonly shard_ids: ReadonlyArray<number> }>`SELECT address, shard_ids FROM ${sql(runnersTable)}
    WHERE NOT stopped AND updated_at > NOW() - INTERVAL '5 seconds'`.pipe(
    Effect.map((rows) => {
      const owners = new Map<number, string>()
      for (const row of rows) for (const shard of row.shard_ids) owners.set(Number(shard), row.address)
      return owners
    }),
    Effect.orElseSucceed(() => new Map<number, string>())
  )

/**
 * Runs a batch on the cluster's runners. `options.concurrency` and `maxInFlightBytes` are the runners' business
 * (their own `--max-connections`); the rest of `BatchOptions` means what it means for a local batch.
 */
export const fetchManyOnCluster = <E, R>(
  requests: Stream.Stream<BatchRequest, E, R>,
  options: BatchOptions = {},
  cluster: ClusterBatchOptions = {}
): Stream.Stream<BatchResult, E, R | Progress | Sharding.Sharding | PgClient.PgClient | SqlClient.SqlClient> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const clientFor = yield* DownloadEntity.client
      const pg = yield* PgClient.PgClient
      const sql = yield* SqlClient.SqlClient
      const batch = randomBytes(8).toString("hex")
      const tracker = new BatchTracker(yield* Progress, {
        total: options.total,
        bytesExpected: options.bytesExpected,
        intervalMs: options.progressIntervalMs
      })
      const inflight = new Map<number, InFlight>()

      yield* ensureTables.pipe(Effect.ignore)
      const entityFor = makeSpread(yield* Sharding.Sharding, yield* shardOwners(sql))
      yield* sql`INSERT INTO ${sql(batchesTable)} ${sql.insert({ batch, origin: `${hostname()}:${process.pid}`, total: options.total ?? null })}`.pipe(
        Effect.ignore
      )
      yield* Effect.addFinalizer(() => sql`UPDATE ${sql(batchesTable)} SET finished_at = NOW() WHERE batch = ${batch}`.pipe(Effect.ignore))

      const forward = (index: number, event: unknown): Effect.Effect<void> => {
        const entry = inflight.get(index)
        // a note that arrives after its result (or is not ours) is dropped
        if (entry === undefined || typeof event !== "object" || event === null || !("_tag" in event)) return Effect.void
        if (event._tag === "Started" && !entry.started) {
          entry.started = true
          tracker.active += 1
        }
        return tracker.progress.emit({ ...(event as ProgressEvent), id: entry.id } as ProgressEvent)
      }
      yield* pg.listen(progressChannel(batch)).pipe(
        Stream.runForEach((payload) => Effect.forEach(parseNotes(payload), (note) => forward(note.index, note.event), { discard: true })),
        Effect.ignore,
        Effect.forkScoped
      )

      const settle = (index: number, request: BatchRequest, outcome: { readonly ok: true; readonly result: BatchResult } | { readonly ok: false; readonly error: DownloadError }) =>
        Effect.suspend(() => {
          const entry = inflight.get(index)
          inflight.delete(index)
          if (entry?.started === true) tracker.active -= 1
          const id = entry?.id ?? nextDownloadId()
          const url = String(request.url)
          if (outcome.ok) {
            const result = outcome.result as Extract<BatchResult, { _tag: "Ok" }>
            const artifact = result.artifact
            return tracker.progress
              .emit({ _tag: "Done", id, url, sha256: artifact.sha256, size: artifact.size, cached: artifact.cached })
              .pipe(Effect.zipRight(tracker.finished(true, artifact.cached)), Effect.as(outcome.result))
          }
          const error = outcome.error
          const failed: BatchResult = { _tag: "Failed", index, request, error }
          return tracker.progress
            .emit({ _tag: "Failed", id, url, error: { _tag: error._tag, message: error.message } })
            .pipe(Effect.zipRight(tracker.finished(false, false)), Effect.as(failed))
        })

      const one = ([request, index]: readonly [BatchRequest, number]): Effect.Effect<BatchResult> =>
        Effect.suspend(() => {
          inflight.set(index, { id: nextDownloadId(), url: String(request.url), started: false })
          const entity = entityFor(request)
          return toWire(request).pipe(
            Effect.flatMap((wire) =>
              clientFor(entity)
                .Download({ batch, index, request: wire })
                .pipe(Effect.retry({ while: (e) => e._tag === "PersistenceError", schedule: storageRetry }))
            ),
            Effect.catchTags({
              MailboxFull: (e) => Effect.fail(clusterError(`the runner's mailbox for ${e.address.entityId} is full`)),
              AlreadyProcessingMessage: () => Effect.fail(clusterError("the request is already being processed")),
              PersistenceError: (e) => Effect.fail(clusterError(`the cluster's message storage failed: ${describeError(e.cause)}`))
            }),
            Effect.catchAllDefect((defect) => Effect.fail(clusterError(`the runner failed: ${Cause.pretty(Cause.die(defect)).split("\n")[0]}`))),
            Effect.matchEffect({
              onSuccess: (artifact) => settle(index, request, { ok: true, result: { _tag: "Ok", index, request, artifact } }),
              onFailure: (error) => settle(index, request, { ok: false, error })
            })
          )
        })

      let aborted = true
      const counted = requests.pipe(
        Stream.mapChunks((chunk) => {
          tracker.seen += chunk.length
          return chunk
        }),
        Stream.onEnd(
          Effect.sync(() => {
            tracker.total ??= tracker.seen
          })
        ),
        Stream.zipWithIndex
      )
      let results = counted.pipe(Stream.mapEffect(one, { concurrency: Math.max(1, cluster.window ?? 1024), unordered: true }))
      if (options.failFast) results = results.pipe(Stream.takeUntil((r) => r._tag === "Failed"))
      return results.pipe(
        Stream.onEnd(Effect.sync(() => void (aborted = tracker.failed > 0 && options.failFast === true))),
        Stream.ensuring(Effect.suspend(() => tracker.final(aborted)))
      )
    })
  )
