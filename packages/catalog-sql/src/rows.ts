/**
 * Rows as the databases return them (snake_case; BIGINT may come back as a string from PostgreSQL, NULL for
 * missing), decoded into the catalog's row Schemas.
 */
import { ArtifactRow, LocationRow, type ProvenanceRow, SourceRow } from "@cargohold/core"
import { Schema } from "effect"

/** A number from SQLite (number) or PostgreSQL (BIGINT as string). */
const Num = Schema.Union(Schema.Number, Schema.NumberFromString)
/** Milliseconds since the epoch as a Date. */
const Millis = Schema.transform(Num, Schema.DateFromSelf, {
  strict: true,
  decode: (ms) => new Date(ms),
  encode: (date) => date.getTime()
})
const opt = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { nullable: true })

export const ArtifactSql = Schema.Struct({
  sha256: Schema.String,
  size: Num,
  sha384: opt(Schema.String),
  sha512: opt(Schema.String),
  sha1: opt(Schema.String),
  md5: opt(Schema.String),
  first_seen: Millis
})

export const LocationSql = Schema.Struct({
  sha256: Schema.String,
  store: Schema.String,
  key: Schema.String,
  stored_at: Millis,
  verified_at: opt(Millis),
  state: Schema.String
})

export const SourceSql = Schema.Struct({
  sha256: Schema.String,
  url: Schema.String,
  remote: opt(Schema.String),
  effective_priority: Num,
  last_success: opt(Millis),
  last_failure: opt(Millis),
  consecutive_failures: Num,
  last_error_tag: opt(Schema.String),
  etag: opt(Schema.String),
  last_modified: opt(Schema.String),
  served_sha256: opt(Schema.String)
})

const decodeArtifact = Schema.decodeUnknownSync(ArtifactRow)
const decodeLocation = Schema.decodeUnknownSync(LocationRow)
const decodeSource = Schema.decodeUnknownSync(SourceRow)

export const toArtifact = (r: typeof ArtifactSql.Type): ArtifactRow =>
  decodeArtifact(compact({
    sha256: r.sha256,
    size: r.size,
    digests: compact({ sha256: r.sha256, sha384: r.sha384, sha512: r.sha512, sha1: r.sha1, md5: r.md5 }),
    firstSeen: r.first_seen
  }))

export const toLocation = (r: typeof LocationSql.Type): LocationRow =>
  decodeLocation(compact({
    sha256: r.sha256,
    store: r.store,
    key: r.key,
    storedAt: r.stored_at,
    verifiedAt: r.verified_at,
    state: r.state
  }))

export const toSource = (r: typeof SourceSql.Type): SourceRow =>
  decodeSource(compact({
    sha256: r.sha256,
    url: r.url,
    remote: r.remote,
    priority: r.effective_priority,
    lastSuccess: r.last_success,
    lastFailure: r.last_failure,
    consecutiveFailures: r.consecutive_failures,
    lastErrorTag: r.last_error_tag,
    etag: r.etag,
    lastModified: r.last_modified,
    servedSha256: r.served_sha256
  }))

/** Drops keys whose value is undefined, so optional fields stay absent rather than present-and-undefined. */
export const compact = <A extends object>(value: A): A =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as A

export type { ProvenanceRow }
