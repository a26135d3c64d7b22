/**
 * Choosing a catalog by URL. `memory:` is the in-memory catalog; everything else (`sqlite:///…`, `postgresql://…`)
 * goes to @cargohold/catalog-sql, loaded only when needed so a program that never opens SQL pays nothing for it.
 */
import { type Catalog, CatalogError, layerMemoryCatalog } from "@cargohold/core"
import { Effect, Layer } from "effect"
import { describe } from "./fs/readStream.js"

/** The default catalog URL of a home folder. */
export const defaultCatalogUrl = (home: string): string => `sqlite://${home}/catalog.db`

/** The Catalog layer for `url` (`memory:`, `sqlite:///abs/path.db`, `postgresql://…`). */
export const layerCatalogFromUrl = (
  url: string,
  options: { readonly home?: string; readonly sqliteCacheMiB?: number | undefined } = {}
): Layer.Layer<Catalog, CatalogError> =>
  url === "memory:"
    ? layerMemoryCatalog
    : Layer.unwrapEffect(
        Effect.tryPromise({
          try: () => import("@cargohold/catalog-sql"),
          catch: (cause) =>
            new CatalogError({ operation: "configure", reason: `cannot load @cargohold/catalog-sql: ${describe(cause)}` })
        }).pipe(Effect.map((sql) => sql.layerSqlCatalogFromUrl(url, options)))
      )
