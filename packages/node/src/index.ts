/**
 * @cargohold/node — the Node layers (node:crypto hashing, file:// sources, filesystem and temp stores, store and
 * catalog selection by URL, the default layer) and the Promise facade.
 */
export * from "./catalogFromUrl.js"
export * from "./facade.js"
export { makeDirectories } from "./fs/directories.js"
export * from "./hash.js"
export * from "./heap.js"
export * from "./tiering.js"
export * from "./home.js"
export * from "./http/index.js"
export * from "./layer.js"
export * from "./repositories.js"
export * from "./source/fileSource.js"
export * from "./storage/fileStorage.js"
export * from "./storage/fromUrl.js"
export { processTempOwners } from "./storage/tempOwners.js"
export * from "./storage/tempStorage.js"
