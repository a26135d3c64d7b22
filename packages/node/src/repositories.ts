/**
 * The Node layer with Repositories beside the Catalog, in the same database (`memory:` keeps both in memory).
 */
import {
  type Catalog,
  type CatalogError,
  layerMemoryCatalog,
  layerMemoryRepositories,
  type Remotes,
  type Repositories
} from "@cargohold/core"
import { Effect, Layer } from "effect"
import { loadCatalogSql } from "./catalogSql.js"
import { type NodeLayerError, type NodeLayerOptions, type NodeServices, layerNodeWith } from "./layer.js"

/** Catalog and Repositories for `url` (`memory:`, `sqlite:///abs/path.db`, `postgresql://…`), on one connection. */
export const layerCatalogAndRepositoriesFromUrl = (
  url: string,
  options: { readonly home?: string; readonly sqliteCacheMiB?: number | undefined } = {}
): Layer.Layer<Catalog | Remotes | Repositories, CatalogError> =>
  url === "memory:"
    ? Layer.merge(layerMemoryCatalog, layerMemoryRepositories)
    : Layer.unwrapEffect(Effect.map(loadCatalogSql, (sql) => sql.layerSqlCatalogWithRepositoriesFromUrl(url, options)))

/** `layerNode` plus `Repositories`. */
export const layerNodeRepositories = (
  options: NodeLayerOptions = {}
): Layer.Layer<NodeServices | Repositories, NodeLayerError> => layerNodeWith(options, layerCatalogAndRepositoriesFromUrl)
