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
  /** True when the artifact was already stored and no request was made. */
  cached: Schema.Boolean
}) {}
