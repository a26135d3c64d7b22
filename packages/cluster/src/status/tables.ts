/**
 * cargohold's own tables beside the cluster's (same prefix): what each runner has done, and the batches
 * submitted. Runners write their counters as absolute values every second or so (one row per runner, one per
 * runner and batch), never per download, so the counters cost the database a few writes a second in all.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { tablePrefix } from "../config.js"

export const runnersTable = `${tablePrefix}_stats`
export const batchesTable = `${tablePrefix}_batches`
export const batchRunsTable = `${tablePrefix}_batch_runs`

/** Serializes concurrent creators (a single-key advisory lock of its own; the catalog's migrations use another). */
const migrationLock = 7431289004513n

/** Creates the tables when missing; safe when several runners start at once. */
export const ensureTables: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(${sql.literal(String(migrationLock))})`
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(runnersTable)} (
        address TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        stopped BOOLEAN NOT NULL DEFAULT FALSE,
        concurrency INTEGER NOT NULL,
        shards INTEGER NOT NULL,
        active INTEGER NOT NULL,
        done BIGINT NOT NULL,
        cached BIGINT NOT NULL,
        failed BIGINT NOT NULL,
        bytes BIGINT NOT NULL
      )`
      // the shard numbers the runner holds (the client spreads a batch by them: client/spread.ts); added later
      yield* sql`ALTER TABLE ${sql(runnersTable)} ADD COLUMN IF NOT EXISTS shard_ids INTEGER[] NOT NULL DEFAULT '{}'`
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(batchesTable)} (
        batch TEXT PRIMARY KEY,
        origin TEXT NOT NULL,
        total INTEGER,
        submitted_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        finished_at TIMESTAMPTZ
      )`
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(batchRunsTable)} (
        batch TEXT NOT NULL,
        address TEXT NOT NULL,
        done BIGINT NOT NULL,
        cached BIGINT NOT NULL,
        failed BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (batch, address)
      )`
    })
  )
})

/** What a runner has done since it started (or for one batch). */
export interface Counters {
  done: number
  cached: number
  failed: number
  bytes: number
}

export const emptyCounters = (): Counters => ({ done: 0, cached: 0, failed: 0, bytes: 0 })
