/**
 * Repositories in the catalog's SQL database.
 */
export { layerSqlRepositories, makeSqlRepositories } from "./SqlRepositories.js"
export { layerSqlCatalogWithRepositoriesFromUrl } from "./fromUrl.js"
