/**
 * Typed progress events. `id` identifies one download within a process.
 */
import { Schema } from "effect"

export const Queued = Schema.TaggedStruct("Queued", { id: Schema.Number, url: Schema.String })
export const Started = Schema.TaggedStruct("Started", {
  id: Schema.Number,
  url: Schema.String,
  /** Total size when known (Content-Length, expected size or file size). */
  size: Schema.optional(Schema.Number)
})
export const Bytes = Schema.TaggedStruct("Bytes", {
  id: Schema.Number,
  url: Schema.String,
  /** Bytes received so far in this attempt, counting a resumed prefix. */
  received: Schema.Number,
  size: Schema.optional(Schema.Number)
})
export const Retrying = Schema.TaggedStruct("Retrying", {
  id: Schema.Number,
  url: Schema.String,
  /** The attempt about to start (2 for the first retry). */
  attempt: Schema.Number,
  /** The error tag and message that caused the retry. */
  reason: Schema.String,
  delayMs: Schema.Number
})
export const Done = Schema.TaggedStruct("Done", {
  id: Schema.Number,
  url: Schema.String,
  sha256: Schema.String,
  size: Schema.Number,
  /** True when nothing was fetched because the artifact was already stored. */
  cached: Schema.Boolean
})
export const Failed = Schema.TaggedStruct("Failed", {
  id: Schema.Number,
  url: Schema.String,
  error: Schema.Struct({ _tag: Schema.String, message: Schema.String })
})

/** A host answered 429/503: its connections shrank and, with `Retry-After`, new requests to it pause. */
export const HostBackoff = Schema.TaggedStruct("HostBackoff", {
  id: Schema.Number,
  url: Schema.String,
  host: Schema.String,
  status: Schema.Number,
  /** Connections the host may use now. */
  concurrency: Schema.Number,
  /** How long new requests to the host wait (0: no pause). */
  pauseMs: Schema.Number
})
/** A throttled host won a connection back after successes. */
export const HostRecovered = Schema.TaggedStruct("HostRecovered", {
  id: Schema.Number,
  url: Schema.String,
  host: Schema.String,
  concurrency: Schema.Number
})

export const ProgressEvent = Schema.Union(Queued, Started, Bytes, Retrying, Done, Failed, HostBackoff, HostRecovered)
export type ProgressEvent = typeof ProgressEvent.Type
