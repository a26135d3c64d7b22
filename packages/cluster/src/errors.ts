/**
 * The cluster's own failures: its database cannot be reached or its URL is wrong. Messages name the host, never a
 * password.
 */
import { Schema } from "effect"

export class ClusterError extends Schema.TaggedError<ClusterError>()("ClusterError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cluster ${this.operation} failed: ${this.reason}`
  }
}
