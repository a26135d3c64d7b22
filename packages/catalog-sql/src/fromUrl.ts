/**
 * Chooses the catalog backend by URL: `sqlite:///abs/path.db` (or `sqlite::memory:`), `postgresql://…` / `postgres://…`.
 * Backends load on demand, so a SQLite user never loads the PostgreSQL driver and the other way round.
 */
import { type Catalog, CatalogError, type Remotes } from "@cargohold/core"
import { Effect, Layer } from "effect"
import type { SecretBox } from "./SecretBox.js"

export interface CatalogUrlOptions {
  /** `$CARGOHOLD_HOME`, where `secret.key` lives unless `CARGOHOLD_SECRET_KEY` is set. */
  readonly home?: string
  /** Replaces the default secret box. */
  readonly secretBox?: Layer.Layer<SecretBox>
  /** SQLite only: the page cache's most (default 16 MiB; see `SqliteCatalogOptions.cacheSizeMiB`). */
  readonly sqliteCacheMiB?: number | undefined
}

export type CatalogTarget =
  | { readonly _tag: "Sqlite"; readonly filename: string }
  | { readonly _tag: "Pg"; readonly url: string }

const invalid = (detail: string) => new CatalogError({ operation: "open catalog", reason: "InvalidConfig", detail })

/** Parses a catalog URL. Errors name the scheme, never the whole URL (it may hold a password). */
export const parseCatalogUrl = (url: string): Effect.Effect<CatalogTarget, CatalogError> =>
  Effect.suspend((): Effect.Effect<CatalogTarget, CatalogError> => {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase()
    if (scheme === "postgresql" || scheme === "postgres") {
      return URL.canParse(url)
        ? Effect.succeed({ _tag: "Pg" as const, url })
        : Effect.fail(invalid(`malformed ${scheme}:// catalog URL (expected postgresql://user@host:port/database)`))
    }
    if (scheme === "sqlite") {
      if (url === "sqlite::memory:") return Effect.succeed({ _tag: "Sqlite" as const, filename: ":memory:" })
      const parsed = URL.canParse(url) ? new URL(url) : undefined
      if (parsed === undefined || parsed.host !== "" || !parsed.pathname.startsWith("/") || parsed.pathname === "/") {
        return Effect.fail(invalid("a sqlite catalog URL must name an absolute path: sqlite:///absolute/path/catalog.db"))
      }
      return Effect.succeed({ _tag: "Sqlite" as const, filename: decodeURIComponent(parsed.pathname) })
    }
    return Effect.fail(
      invalid(
        scheme === undefined
          ? "the catalog URL has no scheme (expected sqlite:///path/catalog.db or postgresql://user@host:port/database)"
          : `unsupported catalog URL scheme "${scheme}:" (expected sqlite:///path/catalog.db or postgresql://user@host:port/database)`
      )
    )
  })

/** The Catalog named by `url`. */
export const layerSqlCatalogFromUrl = (url: string, options?: CatalogUrlOptions): Layer.Layer<Catalog | Remotes, CatalogError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const target = yield* parseCatalogUrl(url)
      const common = { ...(options?.home === undefined ? {} : { home: options.home }), ...(options?.secretBox === undefined ? {} : { secretBox: options.secretBox }) }
      if (target._tag === "Sqlite") {
        const { layerSqliteCatalog } = yield* Effect.promise(() => import("./sqlite.js"))
        const cache = options?.sqliteCacheMiB === undefined ? {} : { cacheSizeMiB: options.sqliteCacheMiB }
        return layerSqliteCatalog({ filename: target.filename, ...common, ...cache })
      }
      const { layerPgCatalog } = yield* Effect.promise(() => import("./pg.js"))
      return layerPgCatalog({ url: target.url, ...common })
    })
  )
