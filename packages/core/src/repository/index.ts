/**
 * Repositories of content units with immutable versions (see Repositories.ts): the service, its schemas and errors,
 * the operations on it, and the unit rules a backend shares (canonical JSON, unit checks, diffs, folders).
 */
export {
  addFetched,
  addOnDemand,
  type FetchAndAddResult,
  type FetchedUnit,
  fetchAndAdd,
  type OnDemandUnit,
  onDemandOfEntry
} from "./add.js"
export {
  InvalidUnit,
  type RepositoryError,
  RepositoryExists,
  RepositoryNotFound,
  UnitNotFound,
  VersionNotFound
} from "./errors.js"
export { parseRepositoryManifest, type RepositoryManifestEntry } from "./manifest.js"
export { type UnitMetadataCodec, unitMetadata } from "./metadata.js"
export { Repositories, type RepositoriesService } from "./Repositories.js"
export {
  ContentUnit,
  Json,
  type JsonValue,
  RepositoryInfo,
  RepositoryName,
  RepositoryVersion,
  type UnitInput,
  UnitPath,
  VersionChange,
  VersionDiff,
  VersionNumber,
  type VersionSelector
} from "./schema.js"
export { canonicalJson, checkUnits, diffUnits, foldersOf, repositoryName, sameUnit, unitPath } from "./units.js"
