/**
 * The Catalog on PostgreSQL. The connection URL is kept Redacted; its password never reaches an error or a log.
 */
import { type Catalog, CatalogError, type Remotes } from "@cargohold/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Layer, Redacted } from "effect"
import { catalogError, scrub } from "./errors.js"
import { layerSecretBoxDefault, type SecretBox } from "./SecretBox.js"
import { layerSqlCatalog } from "./SqlCatalog.js"

export interface PgCatalogOptions {
  /** `postgresql://user[:password]@host[:port]/database` (or `postgres://`). */
  readonly url: string | Redacted.Redacted<string>
  /** `$CARGOHOLD_HOME`, where `secret.key` lives unless `CARGOHOLD_SECRET_KEY` is set. */
  readonly home?: string
  /** Replaces the default secret box (tests, embedding programs). */
  readonly secretBox?: Layer.Layer<SecretBox>
  /** Pool size (default 10). */
  readonly maxConnections?: number
}

/** The password in a connection URL, if any (to scrub from messages). */
export const urlPassword = (url: string): ReadonlyArray<string> => {
  try {
    const password = new URL(url).password
    return password.length === 0 ? [] : [password, decodeURIComponent(password)]
  } catch {
    return []
  }
}

/** An SqlClient on PostgreSQL; connection failures are CatalogErrors naming the host, never the password. */
export const layerPgClient = (
  options: Pick<PgCatalogOptions, "url" | "maxConnections">
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, CatalogError> => {
  const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
  const secrets = urlPassword(Redacted.value(url))
  return PgClient.layer({
    url,
    maxConnections: options.maxConnections ?? 10,
    connectTimeout: Duration.seconds(10),
    applicationName: "cargohold"
  }).pipe(
    Layer.mapError((error) => {
      const said = catalogError("connect", error, secrets).explanation
      return new CatalogError({
        operation: "connect to postgresql",
        reason: "Unreachable",
        detail: `${scrub(Redacted.value(url), secrets)}: ${said}`
      })
    })
  )
}

/** The Catalog (with its Remotes) in a PostgreSQL database. */
export const layerPgCatalog = (options: PgCatalogOptions): Layer.Layer<Catalog | Remotes, CatalogError> => {
  const url = typeof options.url === "string" ? options.url : Redacted.value(options.url)
  return layerSqlCatalog({ secrets: urlPassword(url) }).pipe(
    Layer.provide(Layer.merge(layerPgClient(options), options.secretBox ?? layerSecretBoxDefault({ home: options.home })))
  )
}
