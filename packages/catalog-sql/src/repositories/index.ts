/**
 * Repositories in the catalog's SQL database.
 */
export { layerSqlRepositories, makeSqlRepositories } from "./SqlRepositories.js"
export { layerCatalogWithRepositoriesFromUrl } from "./fromUrl.js"
