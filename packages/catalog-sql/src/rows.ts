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

/** A digest as the databases hold it (bytes) in lowercase hex, as the catalog speaks it. */
export const hexOfBytes = (bytes: Uint8Array): string =>
  (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString("hex")

/** A hex digest as the bytes the databases hold (a parameter of a query). */
export const bytesOfHex = (hex: string): Buffer => Buffer.from(hex, "hex")

/** Whether a text is a digest in hex (either case), so that `bytesOfHex` reads all of it. */
export const isHex = (text: string): boolean => text.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(text)

/** A digest column: bytes in the database, lowercase hex in the row. */
const Digest = Schema.transform(Schema.Uint8ArrayFromSelf, Schema.String, {
  strict: true,
  decode: hexOfBytes,
  encode: bytesOfHex
})

export const ArtifactSql = Schema.Struct({
  sha256: Digest,
  size: Num,
  sha384: opt(Digest),
  sha512: opt(Digest),
  sha1: opt(Digest),
  md5: opt(Digest),
  first_seen: Millis
})

export const LocationSql = Schema.Struct({
  sha256: Digest,
  store: Schema.String,
  key: Schema.String,
  stored_at: Millis,
  verified_at: opt(Millis),
  state: Schema.String
})

export const SourceSql = Schema.Struct({
  sha256: Digest,
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
