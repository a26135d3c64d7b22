/**
 * @cargohold/catalog-sql — the Catalog on @effect/sql: SQLite (embedded default) and PostgreSQL, chosen by URL.
 * Backend layers: `@cargohold/catalog-sql/sqlite` (`layerSqliteCatalog`), `@cargohold/catalog-sql/pg` (`layerPgCatalog`).
 */
export { asCatalogError, catalogError, scrub } from "./errors.js"
export { type CatalogTarget, type CatalogUrlOptions, layerSqlCatalogFromUrl, parseCatalogUrl } from "./fromUrl.js"
export { type Dialect, dialectOf } from "./dialect.js"
export { latestVersion, type Migration, migrate, migrations } from "./migrations.js"
export {
  layerSecretBoxDefault,
  layerSecretBoxKey,
  makeSecretBox,
  parseSecretKey,
  resolveHome,
  SecretBox,
  type SecretBoxService
} from "./SecretBox.js"
export { layerSqlCatalog, makeSqlCatalog, type SqlCatalogOptions } from "./SqlCatalog.js"
export { makeSqlRemotes } from "./SqlRemotes.js"
export { layerSqlCatalogWithRepositoriesFromUrl, layerSqlRepositories, makeSqlRepositories } from "./repositories/index.js"
