/**
 * The Repositories service: named repositories of content units, with immutable numbered versions. A unit is a
 * relative path, an artifact (sha256, size, digests) and optional JSON metadata. Adding or removing units makes a
 * new version; version 0 is the empty one `create` makes. Units refer to artifacts by sha256 only: whether the
 * bytes are stored is the catalog's business (an on-demand unit's artifact has sources but no location yet).
 */
import { Context, type Effect, type Option } from "effect"
import type { CatalogError } from "../domain/errors.js"
import type { InvalidUnit, RepositoryExists, RepositoryNotFound, UnitNotFound, VersionNotFound } from "./errors.js"
import type {
  ContentUnit,
  RepositoryInfo,
  RepositoryName,
  RepositoryVersion,
  UnitInput,
  UnitPath,
  VersionChange,
  VersionDiff,
  VersionSelector
} from "./schema.js"

export interface RepositoriesService {
  /** Creates an empty repository (its version 0). */
  readonly create: (name: RepositoryName) => Effect.Effect<RepositoryVersion, RepositoryExists | CatalogError>
  /** Every repository, by name. */
  readonly list: () => Effect.Effect<ReadonlyArray<RepositoryInfo>, CatalogError>
  /** Every version of a repository, oldest first. */
  readonly versions: (
    name: RepositoryName
  ) => Effect.Effect<ReadonlyArray<RepositoryVersion>, RepositoryNotFound | CatalogError>
  /** One version's description. */
  readonly version: (
    name: RepositoryName,
    version: VersionSelector
  ) => Effect.Effect<RepositoryVersion, RepositoryNotFound | VersionNotFound | CatalogError>
  /**
   * Adds units to the latest version, making a new one (a unit at a path already taken replaces it). Units that are
   * already there, identical, change nothing; when nothing changes, no version is made (`changed: false`).
   * Fails with `InvalidUnit` for a malformed unit, two different units at one path, or a path that is a folder of
   * another unit's path (or the other way round) — nothing is added then.
   */
  readonly addUnits: (
    name: RepositoryName,
    units: ReadonlyArray<UnitInput>
  ) => Effect.Effect<VersionChange, RepositoryNotFound | InvalidUnit | CatalogError>
  /** Removes the units at these paths, making a new version; `UnitNotFound` (nothing removed) names absent paths. */
  readonly removeUnits: (
    name: RepositoryName,
    paths: ReadonlyArray<UnitPath>
  ) => Effect.Effect<VersionChange, RepositoryNotFound | UnitNotFound | CatalogError>
  /** The units of a version, by path. */
  readonly listUnits: (
    name: RepositoryName,
    version: VersionSelector
  ) => Effect.Effect<ReadonlyArray<ContentUnit>, RepositoryNotFound | VersionNotFound | CatalogError>
  /** The units of a version under a folder (`""` for the root), by path: what a directory listing shows. */
  readonly listUnder: (
    name: RepositoryName,
    version: VersionSelector,
    folder: string
  ) => Effect.Effect<ReadonlyArray<ContentUnit>, RepositoryNotFound | VersionNotFound | CatalogError>
  /** What changed from version `from` to version `to`. */
  readonly diff: (
    name: RepositoryName,
    from: VersionSelector,
    to: VersionSelector
  ) => Effect.Effect<VersionDiff, RepositoryNotFound | VersionNotFound | CatalogError>
  /** The unit at a path in a version, with the version's number (none when the version has no unit there). */
  readonly resolve: (
    name: RepositoryName,
    version: VersionSelector,
    path: UnitPath
  ) => Effect.Effect<
    { readonly version: RepositoryVersion; readonly unit: Option.Option<ContentUnit> },
    RepositoryNotFound | VersionNotFound | CatalogError
  >
}

export class Repositories extends Context.Tag("@cargohold/core/Repositories")<Repositories, RepositoriesService>() {}
