/**
 * The cluster's PostgreSQL connection (`--cluster postgresql://…`): message and runner storage, shard locks,
 * host connection slots, progress notifications and the stats tables all go through it.
 */
import { scrub } from "@cargohold/catalog-sql"
import { urlPassword } from "@cargohold/catalog-sql/pg"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Effect, Layer, Redacted } from "effect"
import { ClusterError } from "./errors.js"

/** Checks that `url` is a PostgreSQL URL; the error never repeats the URL (it may hold a password). */
export const checkClusterUrl = (url: string): Effect.Effect<string, ClusterError> =>
  Effect.suspend(() => {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase()
    if ((scheme === "postgresql" || scheme === "postgres") && URL.canParse(url)) return Effect.succeed(url)
    return Effect.fail(
      new ClusterError({ operation: "configure", reason: "--cluster must be a postgresql://user@host:port/database URL" })
    )
  })

/** Where the URL points, for messages: `host:port/database`, no user or password. */
export const describeClusterUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}${parsed.port === "" ? "" : `:${parsed.port}`}${parsed.pathname}`
  } catch {
    return "<malformed URL>"
  }
}

export interface ClusterSqlOptions {
  readonly url: string | Redacted.Redacted<string>
  /** Shown in `pg_stat_activity` (e.g. `cargohold runner 10.0.0.2:34431`). */
  readonly applicationName: string
  readonly maxConnections?: number | undefined
}

/** A PgClient on the cluster database; failing to connect is a ClusterError naming the host only. */
export const layerClusterSql = (
  options: ClusterSqlOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, ClusterError> => {
  const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
  const secrets = urlPassword(Redacted.value(url))
  return PgClient.layer({
    url,
    maxConnections: options.maxConnections ?? 16,
    connectTimeout: Duration.seconds(10),
    applicationName: options.applicationName
  }).pipe(
    Layer.mapError(
      (error) =>
        new ClusterError({
          operation: "connect",
          reason: `${describeClusterUrl(Redacted.value(url))}: ${scrub(String(error.message), secrets)}`
        })
    )
  )
}
