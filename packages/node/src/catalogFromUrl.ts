/**
 * Choosing a catalog by URL. `memory:` is the in-memory catalog; everything else (`sqlite:///…`, `postgresql://…`)
 * goes to @cargohold/catalog-sql, loaded only when needed so a program that never opens SQL pays nothing for it.
 */
import { type Catalog, type CatalogError, layerMemoryCatalog, type Remotes } from "@cargohold/core"
import { Effect, Layer } from "effect"
import { loadCatalogSql } from "./catalogSql.js"

/** The default catalog URL of a home folder. */
export const defaultCatalogUrl = (home: string): string => `sqlite://${home}/catalog.db`

/** The Catalog and Remotes layer for `url` (`memory:`, `sqlite:///abs/path.db`, `postgresql://…`). */
export const layerCatalogFromUrl = (
  url: string,
  options: { readonly home?: string; readonly sqliteCacheMiB?: number | undefined } = {}
): Layer.Layer<Catalog | Remotes, CatalogError> =>
  url === "memory:"
    ? layerMemoryCatalog
    : Layer.unwrapEffect(Effect.map(loadCatalogSql, (sql) => sql.layerSqlCatalogFromUrl(url, options)))
