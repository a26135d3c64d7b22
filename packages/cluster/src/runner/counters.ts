/**
 * A runner's counters: in memory as downloads finish, written to the stats tables every `everyMs` (absolute
 * values: each runner owns its rows). Its row also says how many shards it holds, from `Sharding.hasShardId`.
 */
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardId from "@effect/cluster/ShardId"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { hostname } from "node:os"
import { shardsPerGroup } from "../config.js"
import { batchRunsTable, type Counters, emptyCounters, runnersTable } from "../status/tables.js"

export interface RunnerCounters {
  /** A download of `batch` started running here. */
  readonly started: () => void
  /** A download of `batch` ended here (`undefined`: interrupted, it has no outcome here). */
  readonly finished: (
    batch: string,
    outcome: { readonly ok: boolean; readonly cached: boolean; readonly bytes: number } | undefined
  ) => void
}

/** Forgotten after this long without news (its row stays in the table). */
const batchIdleMs = 10 * 60 * 1000

export const makeRunnerCounters = (options: { readonly address: string; readonly concurrency: number; readonly everyMs?: number }) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const sharding = yield* Sharding.Sharding
    const total = emptyCounters()
    let active = 0
    const batches = new Map<string, { counters: Counters; touched: number; dirty: boolean }>()
    const startedAt = new Date()

    const add = (into: Counters, outcome: { ok: boolean; cached: boolean; bytes: number }) => {
      if (outcome.ok) {
        into.done += 1
        if (outcome.cached) into.cached += 1
        else into.bytes += outcome.bytes
      } else into.failed += 1
    }

    const ownedShards = (): Array<number> => {
      const owned: Array<number> = []
      for (let i = 1; i <= shardsPerGroup; i++) if (sharding.hasShardId(ShardId.make("default", i))) owned.push(i)
      return owned
    }

    const write = (stopped: boolean) =>
      Effect.gen(function* () {
        const now = new Date()
        const owned = stopped ? [] : ownedShards()
        yield* sql`INSERT INTO ${sql(runnersTable)} ${sql.insert({
          address: options.address,
          hostname: hostname(),
          pid: process.pid,
          started_at: startedAt,
          updated_at: now,
          stopped,
          concurrency: options.concurrency,
          shards: owned.length,
          // an array literal: its parameter is untyped, so PostgreSQL reads it as the column's integer[]
          shard_ids: `{${owned.join(",")}}`,
          active,
          done: total.done,
          cached: total.cached,
          failed: total.failed,
          bytes: total.bytes
        })} ON CONFLICT (address) DO UPDATE SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
          started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at, stopped = EXCLUDED.stopped,
          concurrency = EXCLUDED.concurrency, shards = EXCLUDED.shards, shard_ids = EXCLUDED.shard_ids, active = EXCLUDED.active, done = EXCLUDED.done,
          cached = EXCLUDED.cached, failed = EXCLUDED.failed, bytes = EXCLUDED.bytes`
        const rows = []
        for (const [batch, entry] of batches) {
          if (entry.dirty) {
            rows.push({ batch, address: options.address, ...entry.counters, updated_at: now })
            entry.dirty = false
          } else if (now.getTime() - entry.touched > batchIdleMs) batches.delete(batch)
        }
        if (rows.length > 0) {
          yield* sql`INSERT INTO ${sql(batchRunsTable)} ${sql.insert(rows)} ON CONFLICT (batch, address) DO UPDATE SET
            done = EXCLUDED.done, cached = EXCLUDED.cached, failed = EXCLUDED.failed, bytes = EXCLUDED.bytes,
            updated_at = EXCLUDED.updated_at`
        }
      })

    // a restarted runner at the same address starts from zero: its row says what this process did
    yield* write(false).pipe(Effect.ignore)
    yield* write(false).pipe(Effect.ignore, Effect.zipRight(Effect.sleep(options.everyMs ?? 1000)), Effect.forever, Effect.forkScoped)
    yield* Effect.addFinalizer(() => write(true).pipe(Effect.ignore))

    const counters: RunnerCounters = {
      started: () => {
        active += 1
      },
      finished: (batch, outcome) => {
        active -= 1
        if (outcome === undefined) return
        add(total, outcome)
        let entry = batches.get(batch)
        if (entry === undefined) {
          entry = { counters: emptyCounters(), touched: 0, dirty: true }
          batches.set(batch, entry)
        }
        add(entry.counters, outcome)
        entry.touched = Date.now()
        entry.dirty = true
      }
    }
    return counters
  })
