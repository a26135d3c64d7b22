/**
 * `cargohold cluster status`: the runners (alive when their row was written in the last few seconds), the shards
 * each holds, what each has done, and the batches with what is left of them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Schema } from "effect"
import { shardsPerGroup } from "../config.js"
import { ClusterError } from "../errors.js"
import { batchesTable, batchRunsTable, ensureTables, runnersTable } from "./tables.js"

/** A runner whose row is older than this is taken for gone (they write every second). */
export const aliveWithinMs = 5000

export const RunnerStatus = Schema.Struct({
  address: Schema.String,
  hostname: Schema.String,
  pid: Schema.Number,
  state: Schema.Literal("alive", "stopped", "gone"),
  lastSeenMs: Schema.Number,
  startedAt: Schema.String,
  concurrency: Schema.Number,
  shards: Schema.Number,
  active: Schema.Number,
  done: Schema.Number,
  cached: Schema.Number,
  failed: Schema.Number,
  bytes: Schema.Number
})
export type RunnerStatus = typeof RunnerStatus.Type

export const BatchStatus = Schema.Struct({
  batch: Schema.String,
  origin: Schema.String,
  submittedAt: Schema.String,
  finished: Schema.Boolean,
  total: Schema.optional(Schema.Number),
  done: Schema.Number,
  cached: Schema.Number,
  failed: Schema.Number,
  bytes: Schema.Number
})
export type BatchStatus = typeof BatchStatus.Type

export const ClusterStatus = Schema.Struct({
  shards: Schema.Number,
  runners: Schema.Array(RunnerStatus),
  batches: Schema.Array(BatchStatus)
})
export type ClusterStatus = typeof ClusterStatus.Type

const iso = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value))

/** The status, `batches` most recent batches included (default 10). */
export const readStatus = (options: { readonly batches?: number } = {}): Effect.Effect<ClusterStatus, ClusterError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* ensureTables
    const runners = yield* sql<Record<string, unknown>>`
      SELECT *, (EXTRACT(EPOCH FROM (NOW() - updated_at)) * 1000)::bigint AS age_ms
      FROM ${sql(runnersTable)} ORDER BY address`
    const batches = yield* sql<Record<string, unknown>>`
      SELECT b.batch, b.origin, b.total, b.submitted_at, b.finished_at,
        COALESCE(SUM(r.done), 0) AS done, COALESCE(SUM(r.cached), 0) AS cached,
        COALESCE(SUM(r.failed), 0) AS failed, COALESCE(SUM(r.bytes), 0) AS bytes
      FROM ${sql(batchesTable)} b LEFT JOIN ${sql(batchRunsTable)} r ON r.batch = b.batch
      GROUP BY b.batch ORDER BY b.submitted_at DESC LIMIT ${options.batches ?? 10}`
    return {
      shards: shardsPerGroup,
      runners: runners.map((row): RunnerStatus => {
        const age = Number(row.age_ms)
        return {
          address: String(row.address),
          hostname: String(row.hostname),
          pid: Number(row.pid),
          state: row.stopped === true ? "stopped" : age <= aliveWithinMs ? "alive" : "gone",
          lastSeenMs: age,
          startedAt: iso(row.started_at),
          concurrency: Number(row.concurrency),
          shards: row.stopped === true || age > aliveWithinMs ? 0 : Number(row.shards),
          active: row.stopped === true || age > aliveWithinMs ? 0 : Number(row.active),
          done: Number(row.done),
          cached: Number(row.cached),
          failed: Number(row.failed),
          bytes: Number(row.bytes)
        }
      }),
      batches: batches.map(
        (row): BatchStatus => ({
          batch: String(row.batch),
          origin: String(row.origin),
          submittedAt: iso(row.submitted_at),
          finished: row.finished_at !== null,
          total: row.total === null ? undefined : Number(row.total),
          done: Number(row.done),
          cached: Number(row.cached),
          failed: Number(row.failed),
          bytes: Number(row.bytes)
        })
      )
    }
  }).pipe(Effect.mapError((error) => new ClusterError({ operation: "read status", reason: error.message })))
