/**
 * The layer network tests run downloads under: the real Node HTTP layer (undici pools) with in-memory Storage and
 * Catalog and a collecting Progress, plus optional settings and limits.
 */
import {
  Catalog,
  DownloadConfig,
  type DownloadSettings,
  defaultSettings,
  layerConnectionLimits,
  type LimitOptions,
  Storage
} from "@cargohold/core"
import { CollectedProgress, layerCollecting, makeMemoryCatalog, makeMemoryStorage, MemoryStorageHandle } from "@cargohold/core/testing"
import { type HttpOptions, layerHttp } from "@cargohold/node"
import { Context, Duration, Effect, Layer } from "effect"

export interface NetworkTestOptions {
  readonly settings?: Partial<DownloadSettings> | undefined
  readonly limits?: LimitOptions | undefined
  readonly http?: HttpOptions | undefined
}

/** Fast retries by default, so failure tests do not wait long. */
export const testSettings: DownloadSettings = {
  ...defaultSettings,
  retryBaseDelay: Duration.millis(20),
  retryMaxDelay: Duration.millis(200)
}

export const layerMemoryBackends = Layer.effectContext(
  Effect.gen(function* () {
    const storage = yield* makeMemoryStorage()
    const catalog = yield* makeMemoryCatalog
    return Context.make(Storage, storage as Storage["Type"]).pipe(
      Context.add(Catalog, catalog as Catalog["Type"]),
      Context.add(MemoryStorageHandle, { storage, catalog })
    )
  })
)

/** The HTTP pools get as many connections per origin as the per-host limit allows, as in production. */
export const layerNetworkTest = (options: NetworkTestOptions = {}) =>
  Layer.mergeAll(
    layerHttp({ connectionsPerOrigin: options.limits?.perHost ?? 16, ...options.http }),
    layerCollecting,
    layerMemoryBackends,
    Layer.succeed(DownloadConfig, { ...testSettings, ...options.settings }),
    layerConnectionLimits(options.limits ?? { global: 64, perHost: 16 })
  )

/** Nothing stored, nothing catalogued, no temp object open. */
export const expectNothingLeft = Effect.gen(function* () {
  const { storage, catalog } = yield* MemoryStorageHandle
  return {
    objects: (yield* storage.objects).size,
    temps: yield* storage.openTemps,
    catalogued: (yield* catalog.list()).length
  }
})

export { CollectedProgress, MemoryStorageHandle }
