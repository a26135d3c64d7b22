/**
 * Errors of reading artifacts back: no healthy copy anywhere, or a copy found corrupt while it was being read.
 */
import { Schema } from "effect"

/** No location could supply the artifact (unknown, or every copy missing, corrupt or unreachable). */
export class ArtifactUnavailable extends Schema.TaggedError<ArtifactUnavailable>()("ArtifactUnavailable", {
  sha256: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `artifact ${this.sha256} is not available: ${this.reason}`
  }
}

/** A stored copy did not hash to its sha256 while it was streamed out (the bytes already emitted are wrong). */
export class CorruptArtifact extends Schema.TaggedError<CorruptArtifact>()("CorruptArtifact", {
  sha256: Schema.String,
  store: Schema.String,
  key: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `stored copy of ${this.sha256} in ${this.store} (${this.key}) is corrupt: ${this.reason}`
  }
}
