/**
 * Catalog rows as Schemas. The SQL backends store exactly these.
 */
import { Schema } from "effect"
import { Algorithm, ByteSize, ComputedDigests, HexDigest, Sha256 } from "../domain/digest.js"

/** One artifact: its identity and every digest known. */
export const ArtifactRow = Schema.Struct({
  sha256: Sha256,
  size: ByteSize,
  digests: ComputedDigests,
  firstSeen: Schema.DateFromSelf
})
export type ArtifactRow = typeof ArtifactRow.Type

export const LocationState = Schema.Literal("ok", "corrupt", "missing")
export type LocationState = typeof LocationState.Type

/** One place an artifact is stored. */
export const LocationRow = Schema.Struct({
  sha256: Sha256,
  store: Schema.String,
  key: Schema.String,
  storedAt: Schema.DateFromSelf,
  verifiedAt: Schema.optional(Schema.DateFromSelf),
  state: LocationState
})
export type LocationRow = typeof LocationRow.Type

/** One place an artifact can come from, with its health. */
export const SourceRow = Schema.Struct({
  sha256: Sha256,
  url: Schema.String,
  remote: Schema.optional(Schema.String),
  /** Higher is preferred. */
  priority: Schema.Number,
  lastSuccess: Schema.optional(Schema.DateFromSelf),
  lastFailure: Schema.optional(Schema.DateFromSelf),
  consecutiveFailures: Schema.Number,
  lastErrorTag: Schema.optional(Schema.String),
  etag: Schema.optional(Schema.String),
  lastModified: Schema.optional(Schema.String),
  /** The sha256 this source actually served when it disagreed with the expected digest. */
  servedSha256: Schema.optional(Schema.String)
})
export type SourceRow = typeof SourceRow.Type

/** How one completed download went. */
export const ProvenanceRow = Schema.Struct({
  sha256: Sha256,
  url: Schema.String,
  finalUrl: Schema.String,
  remote: Schema.optional(Schema.String),
  at: Schema.DateFromSelf,
  bytes: Schema.Number,
  etag: Schema.optional(Schema.String),
  peerAddress: Schema.optional(Schema.String),
  tlsFingerprint: Schema.optional(Schema.String),
  /** `http/1.1`, `h2`: how the body came. */
  protocol: Schema.optional(Schema.String)
})
export type ProvenanceRow = typeof ProvenanceRow.Type

/** Everything the catalog knows about one artifact. */
export const CatalogEntry = Schema.Struct({
  artifact: ArtifactRow,
  locations: Schema.Array(LocationRow),
  sources: Schema.Array(SourceRow)
})
export type CatalogEntry = typeof CatalogEntry.Type

/** What a finished download records, in one transaction. */
export const DownloadRecord = Schema.Struct({
  sha256: Sha256,
  size: ByteSize,
  digests: ComputedDigests,
  store: Schema.String,
  key: Schema.String,
  /**
   * True when the store kept the copy it already held (known good) instead of this download's bytes: the location
   * then keeps its state and time of verification, since nothing verified the stored bytes now. Default false: the
   * stored bytes are the ones this download wrote and verified, so the location becomes `ok`, verified now.
   */
  kept: Schema.optional(Schema.Boolean),
  url: Schema.String,
  finalUrl: Schema.String,
  remote: Schema.optional(Schema.String),
  priority: Schema.optional(Schema.Number),
  etag: Schema.optional(Schema.String),
  lastModified: Schema.optional(Schema.String),
  peerAddress: Schema.optional(Schema.String),
  tlsFingerprint: Schema.optional(Schema.String),
  protocol: Schema.optional(Schema.String),
  at: Schema.DateFromSelf
})
export type DownloadRecord = typeof DownloadRecord.Type

/** A source declared without downloading (the lazy / on-demand case). */
export const SourceDeclaration = Schema.Struct({
  url: Schema.String,
  priority: Schema.optional(Schema.Number),
  remote: Schema.optional(Schema.String)
})
export type SourceDeclaration = typeof SourceDeclaration.Type

/** A failed attempt at a source. */
export const SourceFailure = Schema.Struct({
  url: Schema.String,
  sha256: Schema.optional(Sha256),
  errorTag: Schema.String,
  servedSha256: Schema.optional(Schema.String),
  at: Schema.DateFromSelf
})
export type SourceFailure = typeof SourceFailure.Type

/** Which locations `locationsToVerify` returns. */
export const LocationsToVerify = Schema.Struct({
  /** Only this store. */
  store: Schema.optional(Schema.String),
  /** Only locations never verified or last verified before this instant. */
  olderThan: Schema.optional(Schema.DateFromSelf),
  /** At most this many. */
  limit: Schema.optional(Schema.Number)
})
export type LocationsToVerify = typeof LocationsToVerify.Type

export const DigestLookup = Schema.Struct({ algorithm: Algorithm, hex: HexDigest })
export type DigestLookup = typeof DigestLookup.Type

/** Default source priority. */
export const defaultPriority = 100
