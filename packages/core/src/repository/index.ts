/**
 * Repositories of content units with immutable versions (see Repositories.ts).
 */
export * from "./add.js"
export * from "./errors.js"
export * from "./manifest.js"
export * from "./metadata.js"
export * from "./Repositories.js"
export * from "./schema.js"
export { canonicalJson, checkUnit, checkUnits, diffUnits, foldersOf, repositoryName, sameUnit, unitPath } from "./units.js"
