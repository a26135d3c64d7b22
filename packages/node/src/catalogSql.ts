/**
 * @cargohold/catalog-sql, loaded on first use: a program that never names a SQL catalog never loads it, nor the
 * SQL drivers with it. (Machinery of catalogFromUrl.ts and repositories.ts; not exported.)
 */
import { CatalogError } from "@cargohold/core"
import { Effect } from "effect"
import { describe } from "./fs/readStream.js"

export const loadCatalogSql: Effect.Effect<typeof import("@cargohold/catalog-sql"), CatalogError> = Effect.tryPromise({
  try: () => import("@cargohold/catalog-sql"),
  catch: (cause) => new CatalogError({
      operation: "configure",
      reason: "NotInstalled",
      detail: `cannot load @cargohold/catalog-sql: ${describe(cause)}`
    })
})
