/**
 * The cluster's message and runner storage (@effect/cluster's SQL storage with cargohold's table prefix), created
 * under a PostgreSQL advisory lock: the library creates its tables with plain `CREATE TABLE IF NOT EXISTS`, and
 * runners started together on a fresh database would otherwise race on them.
 */
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import type * as RunnerStorage from "@effect/cluster/RunnerStorage"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Exit, Layer, Scope } from "effect"
import { tablePrefix } from "./config.js"
import { ClusterError } from "./errors.js"

/** A single-key advisory lock of its own (the catalog's migrations and the stats tables use others). */
const storageLock = "7431289004514"

export const describeError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as { cause?: unknown }).cause
  const inner = cause instanceof Error ? cause.message : cause === undefined ? "" : String(cause)
  return inner.length > 0 && !error.message.includes(inner) ? `${error.message}: ${inner}` : error.message
}

export const layerClusterStorage: Layer.Layer<
  MessageStorage.MessageStorage | RunnerStorage.RunnerStorage,
  ClusterError,
  SqlClient.SqlClient | ShardingConfig.ShardingConfig
> = Layer.scopedContext(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const storage = Layer.merge(
      SqlMessageStorage.layerWith({ prefix: tablePrefix }),
      SqlRunnerStorage.layerWith({ prefix: tablePrefix })
    )
    // the lock lives on a connection of its own, given back (unlocked first) once the storage is built
    const lockScope = yield* Scope.make()
    return yield* Effect.gen(function* () {
      const conn = yield* Scope.extend(sql.reserve, lockScope)
      yield* Scope.addFinalizer(lockScope, Effect.ignore(conn.executeRaw(`SELECT pg_advisory_unlock(${storageLock})`, [])))
      yield* conn.executeRaw(`SELECT pg_advisory_lock(${storageLock})`, [])
      return yield* Layer.build(storage)
    }).pipe(Effect.ensuring(Scope.close(lockScope, Exit.void)))
  }).pipe(Effect.mapError((error) => new ClusterError({ operation: "open the message storage", reason: describeError(error) })))
)
