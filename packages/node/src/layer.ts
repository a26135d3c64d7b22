/**
 * The default Node layer: everything `download` needs, on the embedded default unless told otherwise.
 */
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import type * as HttpClient from "@effect/platform/HttpClient"
import {
  type Catalog,
  type CatalogError,
  DownloadConfig,
  type DownloadSettings,
  defaultSettings,
  type InvalidRequest,
  layerConnectionLimits,
  layerSilent,
  type Progress,
  type Remotes,
  type Storage,
  type StorageError
} from "@cargohold/core"
import { Effect, Layer } from "effect"
import { defaultCatalogUrl, layerCatalogFromUrl } from "./catalogFromUrl.js"
import { layerNodeHasher } from "./hash.js"
import { resolveHome } from "./home.js"
import { layerHttp } from "./http/index.js"
import { layerFileSource } from "./source/fileSource.js"
import { layerStorageFromUrl, type StoreSchemes } from "./storage/fromUrl.js"

export interface NodeLayerOptions {
  /** The home folder (default: `$CARGOHOLD_HOME`, `$XDG_DATA_HOME/cargohold`, `~/.local/share/cargohold`). */
  readonly home?: string | undefined
  /** Catalog URL: `sqlite:///abs/path.db`, `postgresql://…`, `memory:` (default `sqlite://<home>/catalog.db`). */
  readonly catalog?: string | undefined
  /** Store URL: `file:///path`, `temp:`, `memory:` or a plugged-in scheme (default `file://<home>/store`). */
  readonly store?: string | undefined
  /**
   * A filesystem store refuses writes that would leave less than this many bytes free on its filesystem
   * (default max(1 GiB, 2 % of the filesystem); 0: no reserve).
   */
  readonly minFreeBytes?: number | undefined
  /** Extra store schemes, e.g. `{ "s3:": layerS3StorageFromUrl }`. */
  readonly storeSchemes?: StoreSchemes | undefined
  /** Connection limits for everything under this layer (default: the process-wide 64 / 16). */
  readonly limits?: { readonly global: number; readonly perHost: number } | undefined
  readonly settings?: Partial<DownloadSettings> | undefined
  /** Where progress events go (default: nowhere). */
  readonly progress?: Layer.Layer<Progress> | undefined
  /**
   * The HttpClient (default: `layerHttp`, the undici pools with the per-remote NetworkPolicy, connect timeout
   * and connections per origin taken from `settings` and `limits`).
   */
  readonly http?: Layer.Layer<HttpClient.HttpClient, InvalidRequest> | undefined
  /**
   * The default `layerHttp`'s pools: "shared" (default) with every other layer of the process, or "private" to this
   * layer (see `HttpOptions.pool`).
   */
  readonly httpPool?: "shared" | "private" | undefined
  /**
   * Folders `file://` URLs from data (manifests, catalog sources, remotes: requests not marked `chosenBy: "user"`)
   * may be read from; default none. `"any"` trusts every request without a remote like a typed one. Nothing under
   * /proc, /sys or /dev is read, whatever this says.
   */
  readonly fileRoots?: ReadonlyArray<string> | "any" | undefined
  /**
   * The SQLite catalog's page cache at most, in MiB (default 32; see `SqliteCatalogOptions.cacheSizeMiB` in
   * @cargohold/catalog-sql for why more buys nothing measurable).
   */
  readonly sqliteCacheMiB?: number | undefined
}

/**
 * What `layerNode` provides; Hasher, FileSource, NetworkPolicy, DownloadConfig and ConnectionLimits ride along as
 * references.
 */
export type NodeServices = HttpClient.HttpClient | Storage | Catalog | Remotes | Progress

/** Why `layerNode` may fail to build: an unusable home, store or catalog URL, or bad transport settings. */
export type NodeLayerError = StorageError | CatalogError | InvalidRequest

/** Store URL of a home folder. */
export const defaultStoreUrl = (home: string): string => pathToFileURL(join(home, "store")).href

/**
 * Everything a download needs on Node: undici HttpClient, the store and catalog named by URL (default: the
 * embedded SQLite catalog and filesystem store under the home folder), node:crypto hashing, file:// sources.
 */
export const layerNode = (options: NodeLayerOptions = {}): Layer.Layer<NodeServices, NodeLayerError> =>
  layerNodeWith(options, layerCatalogFromUrl)

/** `layerNode` with the catalog's services built by `catalogFromUrl` (e.g. Catalog and Repositories on one database). */
export const layerNodeWith = <C>(
  options: NodeLayerOptions,
  catalogFromUrl: (
    url: string,
    options: { readonly home?: string; readonly sqliteCacheMiB?: number | undefined }
  ) => Layer.Layer<C, CatalogError>
): Layer.Layer<HttpClient.HttpClient | Storage | C | Progress, NodeLayerError> => {
  const needsHome = options.catalog === undefined || options.store === undefined
  const backends = Layer.unwrapEffect(
    Effect.gen(function* () {
      const home = needsHome ? yield* resolveHome({ home: options.home }) : options.home
      const store = layerStorageFromUrl(options.store ?? defaultStoreUrl(home!), {
        schemes: options.storeSchemes,
        minFreeBytes: options.minFreeBytes
      })
      const catalog = catalogFromUrl(options.catalog ?? defaultCatalogUrl(home!), {
        ...(home === undefined ? {} : { home }),
        sqliteCacheMiB: options.sqliteCacheMiB
      })
      return Layer.merge(store, catalog)
    })
  )
  // references: provided only when asked for, so the process-wide defaults stay shared otherwise
  const extras: Array<Layer.Layer<never>> = [
    layerNodeHasher,
    layerFileSource({ roots: options.fileRoots ?? [] })
  ]
  if (options.settings !== undefined) {
    extras.push(Layer.succeed(DownloadConfig, { ...defaultSettings, ...options.settings }))
  }
  if (options.limits !== undefined) extras.push(layerConnectionLimits(options.limits))
  return Layer.mergeAll(
    backends,
    options.http ??
      layerHttp({
        connectTimeout: options.settings?.connectTimeout,
        connectionsPerOrigin: options.limits?.perHost,
        pool: options.httpPool
      }),
    options.progress ?? layerSilent,
    ...extras
  )
}
