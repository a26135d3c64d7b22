/**
 * The layer network tests run downloads under: the real Node HTTP layer (undici pools) with in-memory Storage and
 * Catalog and a collecting Progress, plus optional settings and limits.
 */
import {
  DownloadConfig,
  type DownloadSettings,
  defaultSettings,
  layerConnectionLimits,
  type LimitOptions
} from "@cargohold/core"
import { CollectedProgress, layerCollecting, layerMemoryBackends, MemoryBackends } from "@cargohold/core/testing"
import { type HttpOptions, layerHttp } from "@cargohold/node"
import { Duration, Effect, Layer } from "effect"

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


/**
 * The transfer path under test: the lean exchange (default), or the platform HttpClient when the suite runs as
 * the "generic-transfer" project (vitest.config.ts) — the same network tests hold over both.
 */
export const transferPath: "lean" | "generic" = process.env.CARGOHOLD_TEST_TRANSFER === "generic" ? "generic" : "lean"

/** The HTTP pools get as many connections per origin as the per-host limit allows, as in production. */
export const layerNetworkTest = (options: NetworkTestOptions = {}) =>
  Layer.mergeAll(
    layerHttp({ connectionsPerOrigin: options.limits?.perHost ?? 16, transfer: transferPath, ...options.http }),
    layerCollecting,
    layerMemoryBackends,
    Layer.succeed(DownloadConfig, { ...testSettings, ...options.settings }),
    layerConnectionLimits(options.limits ?? { global: 64, perHost: 16 })
  )

/** Nothing stored, nothing catalogued, no temp object open. */
export const expectNothingLeft = Effect.gen(function* () {
  const { storage, catalog } = yield* MemoryBackends
  return {
    objects: (yield* storage.objects).size,
    temps: yield* storage.openTemps,
    catalogued: (yield* catalog.list()).length
  }
})

export { CollectedProgress, MemoryBackends }
export { layerMemoryBackends }
