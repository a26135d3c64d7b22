/**
 * Repository rows as the databases return them (BIGINT may be a string from PostgreSQL, digests are bytes), and
 * the content units they make.
 */
import { type ContentUnit, type JsonValue, type RepositoryName, type RepositoryVersion, VersionNumber } from "@cargohold/core"
import { hexOfBytes } from "../rows.js"

export interface UnitSql {
  readonly path: string
  readonly sha256: Uint8Array
  readonly size: number | string
  readonly digests: string | null
  readonly metadata: string | null
}

export interface VersionSql {
  readonly number: number | string
  readonly created_at: number | string
  readonly units: number | string
  readonly added: number | string
  readonly removed: number | string
}

export interface RepositorySql {
  readonly id: number | string
  readonly name: string
  readonly created_at: number | string
  readonly latest: number | string
}

/** Columns of a unit row, in `SELECT` order. */
export const unitColumns = "path, sha256, size, digests, metadata"

/** Rows written by this module only, so their JSON is trusted to be what `unitRow` wrote. */
export const toUnit = (row: UnitSql): ContentUnit => {
  const sha256 = hexOfBytes(row.sha256)
  const others = row.digests === null ? {} : (JSON.parse(row.digests) as Record<string, string>)
  const unit = {
    path: row.path,
    sha256,
    size: Number(row.size),
    digests: { ...others, sha256 },
    ...(row.metadata === null ? {} : { metadata: JSON.parse(row.metadata) as JsonValue })
  }
  return unit as ContentUnit
}

export const toVersion = (name: RepositoryName, row: VersionSql): RepositoryVersion => ({
  repository: name,
  number: VersionNumber.make(Number(row.number)),
  createdAt: new Date(Number(row.created_at)),
  units: Number(row.units),
  added: Number(row.added),
  removed: Number(row.removed)
})

/** The other digests of a unit as the `digests` column holds them. */
export const digestsText = (unit: ContentUnit): string | null => {
  const others: Record<string, string> = {}
  for (const [algorithm, hex] of Object.entries(unit.digests)) if (algorithm !== "sha256" && hex !== undefined) others[algorithm] = hex
  return Object.keys(others).length === 0 ? null : JSON.stringify(others)
}
