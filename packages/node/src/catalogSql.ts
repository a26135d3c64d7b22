/**
 * @cargohold/catalog-sql, loaded on first use: a program that never names a SQL catalog never loads it, nor the
 * SQL drivers with it. It is an optional peer dependency of @cargohold/node, so it may be missing: then the error
 * says what to install. (Machinery of catalogFromUrl.ts and repositories.ts; not exported.)
 */
import { CatalogError } from "@cargohold/core"
import { Effect } from "effect"
import { describe, errorCode } from "./fs/readStream.js"

const packageName = "@cargohold/catalog-sql"

/** Why the package could not be loaded: not installed (what to install), or broken (what the loader said). */
export const catalogSqlLoadError = (cause: unknown): CatalogError =>
  errorCode(cause) === "ERR_MODULE_NOT_FOUND" && describe(cause).includes(packageName)
    ? new CatalogError({
        operation: "configure",
        reason: "NotInstalled",
        detail: `sqlite:// and postgresql:// catalogs need ${packageName}, which is not installed: npm install ${packageName} (or use a memory: catalog)`
      })
    : new CatalogError({ operation: "configure", reason: "NotInstalled", detail: `cannot load ${packageName}: ${describe(cause)}` })

export const loadCatalogSql: Effect.Effect<typeof import("@cargohold/catalog-sql"), CatalogError> = Effect.tryPromise({
  try: () => import("@cargohold/catalog-sql"),
  catch: catalogSqlLoadError
})
