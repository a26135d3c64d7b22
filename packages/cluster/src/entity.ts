/**
 * The download entity: one per sha256 (or per URL without a digest), sharded over the runners. Its one message,
 * `Download`, is persisted (the cluster's message table): a runner that dies mid-download leaves it unprocessed,
 * and the runner that takes over the shard runs it again. A download is idempotent — content addressing and the
 * catalog make a second run find the artifact stored, or store it once.
 */
import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import * as Rpc from "@effect/rpc/Rpc"
import { Artifact, DownloadError } from "@cargohold/core"
import { Schema } from "effect"
import { WireRequest } from "./wire.js"

export const DownloadPayload = {
  /** The batch it belongs to (random hex, also its progress channel). */
  batch: Schema.String,
  /** Its position in the batch, from 0. */
  index: Schema.Number,
  request: WireRequest
}

export const DownloadRpc = Rpc.make("Download", {
  payload: DownloadPayload,
  success: Artifact,
  error: DownloadError,
  // one message per request of a batch: a client resending it (after a reconnect) does not queue it twice
  primaryKey: ({ batch, index }) => `${batch}/${index}`
})

export const DownloadEntity = Entity.make("cargohold/Download", [DownloadRpc]).annotateRpcs(ClusterSchema.Persisted, true)
