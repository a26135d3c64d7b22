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

/** Totals of a batch (`fetchMany`): emitted at most every few hundred ms while it runs, and once at the end. */
export const BatchProgress = Schema.TaggedStruct("BatchProgress", {
  /** Artifacts finished successfully (including those already stored). */
  done: Schema.Number,
  /** Of `done`, those already stored (no request made). */
  cached: Schema.Number,
  failed: Schema.Number,
  /** Requests in the batch, when known (given by the caller, or counted once the input ended). */
  total: Schema.optional(Schema.Number),
  /** Downloads running now. */
  active: Schema.Number,
  /** Bytes of finished artifacts plus bytes received by running downloads. */
  bytesDone: Schema.Number,
  /** Bytes the batch should come to, when known. */
  bytesExpected: Schema.optional(Schema.Number),
  /** Transfer rate, recent (smoothed), bytes per second. */
  bytesPerSecond: Schema.Number,
  /** Estimated time to the end, when it can be estimated. */
  etaMs: Schema.optional(Schema.Number),
  elapsedMs: Schema.Number,
  /** True on the last event of the batch. */
  final: Schema.Boolean,
  /** True when the batch stopped early (fail-fast or interruption). */
  aborted: Schema.Boolean
})

/** Verification of one stored copy began (`id` is process-unique, from the same counter as downloads). */
export const VerifyStarted = Schema.TaggedStruct("VerifyStarted", {
  id: Schema.Number,
  sha256: Schema.String,
  store: Schema.String,
  size: Schema.Number
})
/** Bytes re-read and re-hashed so far (throttled like `Bytes`). */
export const VerifyBytes = Schema.TaggedStruct("VerifyBytes", {
  id: Schema.Number,
  sha256: Schema.String,
  store: Schema.String,
  read: Schema.Number,
  size: Schema.Number
})
/** Verification of one stored copy ended: what was found, and whether a bad copy was repaired. */
export const VerifyDone = Schema.TaggedStruct("VerifyDone", {
  id: Schema.Number,
  sha256: Schema.String,
  store: Schema.String,
  state: Schema.Literal("ok", "corrupt", "missing"),
  repaired: Schema.Boolean
})

/** One source of an artifact failed (the download may still succeed from another): how a bad mirror shows. */
export const SourceFailed = Schema.TaggedStruct("SourceFailed", {
  id: Schema.Number,
  /** The source's URL. */
  url: Schema.String,
  errorTag: Schema.String,
  message: Schema.String,
  /** The sha256 the source served when it disagreed with the expected digest. */
  servedSha256: Schema.optional(Schema.String)
})

export const ProgressEvent = Schema.Union(
  Queued,
  Started,
  Bytes,
  Retrying,
  Done,
  Failed,
  HostBackoff,
  HostRecovered,
  BatchProgress,
  VerifyStarted,
  VerifyBytes,
  VerifyDone,
  SourceFailed
)
export type ProgressEvent = typeof ProgressEvent.Type
