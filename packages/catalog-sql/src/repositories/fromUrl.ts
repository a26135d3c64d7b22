/**
 * The Catalog and Repositories of one database URL, on one SqlClient: in one process, a second SQLite connection
 * to the same file could wait on the first one's write lock while blocking the thread that would release it.
 */
import type { Catalog, CatalogError, Remotes, Repositories } from "@cargohold/core"
import { Effect, Layer } from "effect"
import type { CatalogUrlOptions } from "../fromUrl.js"
import { parseCatalogUrl } from "../fromUrl.js"
import { layerSecretBoxDefault } from "../SecretBox.js"
import { layerSqlCatalog } from "../SqlCatalog.js"
import { layerSqlRepositories } from "./SqlRepositories.js"

/** `Catalog` and `Repositories` in the database `url` names (`sqlite:///…`, `postgresql://…`). */
export const layerSqlCatalogWithRepositoriesFromUrl = (
  url: string,
  options?: CatalogUrlOptions
): Layer.Layer<Catalog | Remotes | Repositories, CatalogError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const target = yield* parseCatalogUrl(url)
      const box = options?.secretBox ?? layerSecretBoxDefault({ home: options?.home })
      if (target._tag === "Sqlite") {
        const { layerSqliteClient } = yield* Effect.promise(() => import("../sqlite.js"))
        const client = layerSqliteClient({
          filename: target.filename,
          ...(options?.sqliteCacheMiB === undefined ? {} : { cacheSizeMiB: options.sqliteCacheMiB })
        })
        return Layer.merge(layerSqlCatalog(), layerSqlRepositories).pipe(
          Layer.provide(Layer.merge(client, box))
        )
      }
      const { layerPgClient, urlPassword } = yield* Effect.promise(() => import("../pg.js"))
      return Layer.merge(layerSqlCatalog({ secrets: urlPassword(target.url) }), layerSqlRepositories).pipe(
        Layer.provide(Layer.merge(layerPgClient({ url: target.url }), box))
      )
    })
  )
