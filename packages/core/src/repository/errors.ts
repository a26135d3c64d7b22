/**
 * Typed errors of the Repositories service. Backend failures stay `CatalogError` (repositories live in the catalog).
 */
import { Schema } from "effect"

/** No repository has this name. */
export class RepositoryNotFound extends Schema.TaggedError<RepositoryNotFound>()("RepositoryNotFound", {
  name: Schema.String
}) {
  override get message() {
    return `no repository named '${this.name}'`
  }
}

/** `create` of a name already taken. */
export class RepositoryExists extends Schema.TaggedError<RepositoryExists>()("RepositoryExists", {
  name: Schema.String
}) {
  override get message() {
    return `a repository named '${this.name}' already exists`
  }
}

/** The repository has no such version. */
export class VersionNotFound extends Schema.TaggedError<VersionNotFound>()("VersionNotFound", {
  name: Schema.String,
  version: Schema.Number,
  latest: Schema.Number
}) {
  override get message() {
    return `repository '${this.name}' has no version ${this.version} (latest is ${this.latest})`
  }
}

/** A unit (or a repository name) that cannot be added: bad path, digest, size or metadata, or a path conflict. */
export class InvalidUnit extends Schema.TaggedError<InvalidUnit>()("InvalidUnit", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `unit '${this.path}': ${this.reason}`
  }
}

/** `remove` of a path the latest version does not have. */
export class UnitNotFound extends Schema.TaggedError<UnitNotFound>()("UnitNotFound", {
  name: Schema.String,
  paths: Schema.Array(Schema.String)
}) {
  override get message() {
    return `repository '${this.name}' has no unit at ${this.paths.map((p) => `'${p}'`).join(", ")}`
  }
}

/** Everything a Repositories call can fail with besides `CatalogError`. */
export type RepositoryError = RepositoryNotFound | RepositoryExists | VersionNotFound | InvalidUnit | UnitNotFound
