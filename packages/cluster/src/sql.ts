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

/** How long joining waits for the database to answer. */
const joinTimeout = Duration.seconds(10)

/**
 * How long a statement may wait for a connection of the pool (node-postgres's `connectionTimeoutMillis`, which
 * PgClient also uses as the timeout of opening one). Waiting is queueing, not failing: at 10 s a loaded runner's
 * reply to a finished download failed now and then ("timeout exceeded when trying to connect"), the library
 * retried it for a second, gave up, and the download ran again. A database that is really gone refuses
 * connections at once; this bounds only one that does not answer at all.
 */
const poolWaitTimeout = Duration.minutes(1)

/** A PgClient on the cluster database; failing to connect is a ClusterError naming the host only. */
export const layerClusterSql = (
  options: ClusterSqlOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, ClusterError> => {
  const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
  const secrets = urlPassword(Redacted.value(url))
  const client = PgClient.layer({
    url,
    maxConnections: options.maxConnections ?? 16,
    connectTimeout: poolWaitTimeout,
    applicationName: options.applicationName
  })
  // the first connection still has to come within joinTimeout
  const joined = Layer.scopedContext(
    Layer.build(client).pipe(
      Effect.timeoutFail({ duration: joinTimeout, onTimeout: () => new Error(`no answer within ${Duration.format(joinTimeout)}`) })
    )
  )
  return joined.pipe(
    Layer.mapError(
      (error) =>
        new ClusterError({
          operation: "connect",
          reason: `${describeClusterUrl(Redacted.value(url))}: ${scrub(String(error.message), secrets)}`
        })
    )
  )
}
