/**
 * The connection limits of a runner: cargohold's own limiter (global, per host, per remote, adaptive backoff)
 * with each host's budget shared by the whole cluster through PostgreSQL slots (hostSlots.ts).
 */
import { ConnectionLimits, makeLimiter } from "@cargohold/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { makePgHostSlots, type PgHostSlotsOptions } from "./hostSlots.js"

export interface ClusterLimitOptions extends Omit<PgHostSlotsOptions, "perHost"> {
  /** Connections of this runner in all. */
  readonly global: number
  /** Connections per host, cluster-wide. */
  readonly perHost: number
}

export const layerClusterLimits = (options: ClusterLimitOptions): Layer.Layer<ConnectionLimits, never, SqlClient.SqlClient> =>
  Layer.scoped(
    ConnectionLimits,
    Effect.map(makePgHostSlots(options), (hostSlots) => makeLimiter({ global: options.global, perHost: options.perHost, hostSlots }))
  )
