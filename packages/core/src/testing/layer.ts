/**
 * Everything a pipeline unit test needs in one layer.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Context, Effect, Layer } from "effect"
import type { Catalog } from "../catalog/Catalog.js"
import { type MemoryCatalog, makeMemoryCatalog, memoryCatalogContext } from "../catalog/memory.js"
import type { Remotes } from "../remote/Remotes.js"
import { CollectedProgress, layerCollecting, type Progress } from "../progress/Progress.js"
import { makeMemoryStorage, type MemoryStorage } from "../storage/memory.js"
import { Storage } from "../storage/Storage.js"
import { layerScriptedHttp, type ScriptedHttpLog, type ScriptStep } from "./scriptedHttp.js"

/** The in-memory backends behind `Storage` and `Catalog` of `layerMemoryBackends`, with their inspection methods. */
export class MemoryBackends extends Context.Tag("@cargohold/core/testing/MemoryBackends")<
  MemoryBackends,
  { readonly storage: MemoryStorage; readonly catalog: MemoryCatalog }
>() {}

/** In-memory `Storage`, `Catalog` and `Remotes`, fresh per build, plus `MemoryBackends` to inspect them. */
export const layerMemoryBackends: Layer.Layer<Storage | Catalog | Remotes | MemoryBackends> = Layer.effectContext(
  Effect.gen(function* () {
    const storage = yield* makeMemoryStorage()
    const catalog = yield* makeMemoryCatalog
    return Context.make(Storage, storage).pipe(
      Context.merge(memoryCatalogContext(catalog)),
      Context.add(MemoryBackends, { storage, catalog })
    )
  })
)

/** Scripted HTTP, in-memory Storage and Catalog, collecting Progress. */
export const layerTest = (
  script: Readonly<Record<string, ReadonlyArray<ScriptStep>>> = {}
): Layer.Layer<
  HttpClient.HttpClient | ScriptedHttpLog | Storage | Catalog | Remotes | Progress | CollectedProgress | MemoryBackends
> =>
  Layer.mergeAll(
    layerScriptedHttp(script),
    layerCollecting,
    layerMemoryBackends
  )

export { CollectedProgress }
