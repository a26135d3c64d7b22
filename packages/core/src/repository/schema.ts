/**
 * Repositories and content units as Schemas: names, relative paths and version numbers are branded values, checked
 * where they enter (a manifest, the command line, a request path), so the backends and the server only ever see
 * well-formed ones.
 */
import { Schema } from "effect"
import { ByteSize, ComputedDigests, Sha256 } from "../domain/digest.js"

/**
 * A repository's name: letters, digits, `.`, `_`, `-` (not first), at most 128 characters. `sha256` is reserved
 * (the server's by-address route is `/sha256/HEX`); `@` and `/` cannot occur (`NAME@VERSION/PATH`).
 */
export const RepositoryName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
    message: () => "a repository name is 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.filter((name) => (name.toLowerCase() === "sha256" ? "'sha256' is reserved (the /sha256/HEX route)" : undefined)),
  Schema.brand("RepositoryName")
)
export type RepositoryName = typeof RepositoryName.Type

/** Why a relative path is not acceptable as a unit's path, or undefined when it is. */
export const unitPathProblem = (path: string): string | undefined => {
  if (path.length === 0) return "the path is empty"
  if (path.length > 1024) return "the path is longer than 1024 characters"
  if (path.startsWith("/")) return "the path must be relative (it starts with '/')"
  if (path.includes("\\")) return "the path contains a backslash"
  // control characters (NUL among them) have no place in a served path and break log lines
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
  if (/[\u0000-\u001f\u007f]/.test(path)) return "the path contains a control character"
  for (const segment of path.split("/")) {
    if (segment === "") return "the path has an empty segment ('//' or a trailing '/')"
    if (segment === "." || segment === "..") return `the path has a '${segment}' segment`
  }
  return undefined
}

/** A unit's path inside a repository: relative, `/`-separated, no empty, `.` or `..` segment, no backslash or NUL. */
export const UnitPath = Schema.String.pipe(Schema.filter((path) => unitPathProblem(path)), Schema.brand("UnitPath"))
export type UnitPath = typeof UnitPath.Type

/** A repository version: 0 is the empty version `create` makes; each change makes the next one. */
export const VersionNumber = Schema.Number.pipe(Schema.int(), Schema.nonNegative(), Schema.brand("VersionNumber"))
export type VersionNumber = typeof VersionNumber.Type

/** Metadata as stored: any JSON value (the caller describes it with its own Schema, see metadata.ts). */
export type JsonValue = string | number | boolean | null | ReadonlyArray<JsonValue> | { readonly [key: string]: JsonValue }

const isJson = (value: unknown, depth = 0): boolean => {
  if (depth > 64) return false
  if (value === null || typeof value === "string" || typeof value === "boolean") return true
  if (typeof value === "number") return Number.isFinite(value)
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1))
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value)
    return (proto === Object.prototype || proto === null) && Object.values(value).every((v) => isJson(v, depth + 1))
  }
  return false
}

/** A JSON value (plain objects, arrays, finite numbers, strings, booleans, null; at most 64 levels deep). */
export const Json: Schema.Schema<JsonValue> = Schema.declare((value): value is JsonValue => isJson(value), {
  identifier: "Json",
  description: "a JSON value"
})

/** One content unit of a repository version: a path, the artifact at it, and the caller's metadata. */
export const ContentUnit = Schema.Struct({
  path: UnitPath,
  sha256: Sha256,
  size: ByteSize,
  /** Every digest the unit was declared or fetched with (sha256 always). */
  digests: ComputedDigests,
  metadata: Schema.optional(Json)
})
export type ContentUnit = typeof ContentUnit.Type

/** A unit as callers add it (the same fields; validated by `Repositories.addUnits`). */
export interface UnitInput {
  readonly path: string
  readonly sha256: string
  readonly size: number
  readonly digests?: Readonly<Record<string, string | undefined>> | undefined
  readonly metadata?: JsonValue | undefined
}

/** One version of a repository and what it changed. */
export const RepositoryVersion = Schema.Struct({
  repository: RepositoryName,
  number: VersionNumber,
  createdAt: Schema.DateFromSelf,
  /** Units in this version. */
  units: Schema.Number,
  /** Units this version added and removed relative to the previous one (a replaced path counts in both). */
  added: Schema.Number,
  removed: Schema.Number
})
export type RepositoryVersion = typeof RepositoryVersion.Type

/** A repository and its latest version. */
export const RepositoryInfo = Schema.Struct({
  name: RepositoryName,
  createdAt: Schema.DateFromSelf,
  latest: VersionNumber
})
export type RepositoryInfo = typeof RepositoryInfo.Type

/** What a change did: the version it made (or the latest, unchanged, when it changed nothing). */
export const VersionChange = Schema.Struct({
  version: RepositoryVersion,
  changed: Schema.Boolean
})
export type VersionChange = typeof VersionChange.Type

/** Differences from version `from` to version `to`, by path. */
export const VersionDiff = Schema.Struct({
  repository: RepositoryName,
  from: VersionNumber,
  to: VersionNumber,
  added: Schema.Array(ContentUnit),
  removed: Schema.Array(ContentUnit),
  /** Paths present in both with another artifact or other metadata. */
  changed: Schema.Array(Schema.Struct({ path: UnitPath, from: ContentUnit, to: ContentUnit }))
})
export type VersionDiff = typeof VersionDiff.Type

/** Which version of a repository to read: a number, or the latest. */
export type VersionSelector = VersionNumber | "latest"
