/**
 * What a finished download is.
 */
import { Schema } from "effect"
import { ByteSize, ComputedDigests, Sha256 } from "./digest.js"

/** Where a backend keeps one artifact. */
export const StoredObject = Schema.Struct({
  /** The backend's id, e.g. `file:///var/lib/cargohold/store` or `memory:`. */
  store: Schema.String,
  /** The object's key inside that backend. */
  key: Schema.String,
  size: ByteSize
})
export type StoredObject = typeof StoredObject.Type

/** A verified, stored, catalogued artifact. */
export class Artifact extends Schema.Class<Artifact>("Artifact")({
  sha256: Sha256,
  size: ByteSize,
  digests: ComputedDigests,
  /** The URL that was asked for. */
  url: Schema.String,
  /** The URL the bytes finally came from (after redirects). */
  finalUrl: Schema.String,
  location: StoredObject,
  /** True when the artifact was already stored and no body was read (no request, or a 304). */
  cached: Schema.Boolean,
  /**
   * True when the source answered 304 Not Modified to a conditional request (If-None-Match / If-Modified-Since
   * from the catalog's last download of this URL): the stored artifact is still what it serves.
   */
  notModified: Schema.optional(Schema.Boolean)
}) {}
