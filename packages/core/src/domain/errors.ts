/**
 * Typed errors of cargohold: small tagged unions, each message naming the URL and what went wrong.
 */
import { Schema } from "effect"

/** The request itself is wrong (bad URL, unknown scheme or algorithm, malformed hex); nothing was fetched. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid request for ${this.url}: ${this.reason}`
  }
}

/** The server answered with a status that is not a success. */
export class HttpStatusError extends Schema.TaggedError<HttpStatusError>()("HttpStatusError", {
  url: Schema.String,
  status: Schema.Number,
  /** Seconds the server asked us to wait (Retry-After), when it said. */
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  override get message() {
    return `${this.url} answered HTTP ${this.status}`
  }
}

/** No connection could be made (refused, unreachable, DNS failure, reset before any response). */
export class ConnectError extends Schema.TaggedError<ConnectError>()("ConnectError", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot connect to ${this.url}: ${this.reason}`
  }
}

/** A connect, response or idle-read timeout elapsed. */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  url: Schema.String,
  phase: Schema.Literal("connect", "response", "idle-read"),
  timeoutMs: Schema.Number
}) {
  override get message() {
    return `${this.phase} timeout after ${this.timeoutMs} ms on ${this.url}`
  }
}

/** The TLS handshake failed: unknown CA, hostname mismatch, certificate required, expired… */
export class TlsError extends Schema.TaggedError<TlsError>()("TlsError", {
  url: Schema.String,
  reason: Schema.String,
  code: Schema.optional(Schema.String)
}) {
  override get message() {
    return `TLS failure on ${this.url}: ${this.reason}`
  }
}

/** The body broke off (connection reset or closed early) after some bytes. */
export class TransferError extends Schema.TaggedError<TransferError>()("TransferError", {
  url: Schema.String,
  received: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `transfer of ${this.url} broke after ${this.received} bytes: ${this.reason}`
  }
}

/**
 * The server answered with something that is not HTTP/1.1: a bad status line (another protocol on the port), a
 * malformed header or Content-Length, broken chunk framing. The connection was made, so this is no ConnectError.
 */
export class ProtocolError extends Schema.TaggedError<ProtocolError>()("ProtocolError", {
  url: Schema.String,
  /** Body bytes received before the framing broke (0: the status line or the headers were bad). */
  received: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    const where = this.received === 0 ? "" : ` after ${this.received} body bytes`
    return `${this.url} answered with something that is not valid HTTP/1.1${where}: ${this.reason}`
  }
}

/** A redirect could not be followed: too many, a loop, or a refused downgrade. */
export class RedirectError extends Schema.TaggedError<RedirectError>()("RedirectError", {
  url: Schema.String,
  location: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message() {
    return `redirect from ${this.url} refused: ${this.reason}`
  }
}

/** The proxy refused or failed: 407 (credentials missing or wrong), or no tunnel. Names the proxy without credentials. */
export class ProxyError extends Schema.TaggedError<ProxyError>()("ProxyError", {
  url: Schema.String,
  proxy: Schema.String,
  status: Schema.optional(Schema.Number),
  reason: Schema.String
}) {
  override get message() {
    return `proxy ${this.proxy} failed for ${this.url}: ${this.reason}`
  }
}

/** The bytes do not have the expected digest. */
export class DigestMismatch extends Schema.TaggedError<DigestMismatch>()("DigestMismatch", {
  url: Schema.String,
  algorithm: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message() {
    return `${this.algorithm} mismatch for ${this.url}: expected ${this.expected}, got ${this.actual}`
  }
}

/** The body is shorter or longer than expected (expected size, or the server's Content-Length). */
export class SizeMismatch extends Schema.TaggedError<SizeMismatch>()("SizeMismatch", {
  url: Schema.String,
  expected: Schema.Number,
  /** Bytes received; for a body that ran past the limit, the count at which it was stopped. */
  actual: Schema.Number
}) {
  override get message() {
    return this.actual > this.expected
      ? `${this.url} is larger than expected: expected ${this.expected} bytes, stopped at ${this.actual}`
      : `${this.url} is smaller than expected: expected ${this.expected} bytes, got ${this.actual}`
  }
}

/**
 * Why a store failed, as a caller can tell them apart: the object is not there, the disk is full or over quota, the
 * bytes written were not the size committed, the store's configuration cannot be used, its client library is not
 * installed, a local I/O failure, or the remote store refused or failed a call.
 */
export const StorageFailure = Schema.Literal(
  "NotFound",
  "DiskFull",
  "QuotaExceeded",
  "SizeMismatch",
  "InvalidConfig",
  "NotInstalled",
  "Io",
  "Backend"
)
export type StorageFailure = typeof StorageFailure.Type

/** The words of the reasons whose message says them; `detail` is the system's code for the disk ones. */
const storagePhrases: Partial<Record<StorageFailure, (detail: string) => string>> = {
  NotFound: (detail) => (detail === "" ? "not found" : detail),
  DiskFull: (code) => `disk full (${code})`,
  QuotaExceeded: (code) => `disk quota exceeded (${code})`
}

/** A storage backend failed; `detail` says what happened (never a credential). */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  reason: StorageFailure,
  detail: Schema.String,
  key: Schema.optional(Schema.String)
}) {
  /** What went wrong, in words: the reason's phrase, else the detail. */
  get explanation(): string {
    return storagePhrases[this.reason]?.(this.detail) ?? this.detail
  }
  override get message() {
    return `storage ${this.operation} failed${this.key ? ` for ${this.key}` : ""}: ${this.explanation}`
  }
}

/** A body passed the largest size this download accepts (`maxSize`), so it was stopped there. Not retried. */
export class SizeLimitExceeded extends Schema.TaggedError<SizeLimitExceeded>()("SizeLimitExceeded", {
  url: Schema.String,
  /** The limit, in bytes. */
  limit: Schema.Number,
  /** Bytes received when the body was stopped. */
  actual: Schema.Number
}) {
  override get message() {
    return `${this.url} is larger than the size limit of ${this.limit} bytes (max size): stopped at ${this.actual}`
  }
}

/**
 * Why a catalog call failed, as a caller can tell them apart: the disk under the catalog (full, failing, read-only, a
 * damaged file), a database that cannot be reached, a catalog URL or option that cannot be used, the secret key
 * (missing, malformed, wrong), a stored row this version cannot read, the SQL backend not installed, a call
 * interrupted, the cluster's message storage, or any other failure of a database call.
 */
export const CatalogFailure = Schema.Literal(
  "DiskFull",
  "DiskIo",
  "ReadOnly",
  "Damaged",
  "Unreachable",
  "InvalidConfig",
  "SecretKey",
  "UnreadableRow",
  "NotInstalled",
  "Interrupted",
  "Cluster",
  "Database"
)
export type CatalogFailure = typeof CatalogFailure.Type

/** The words of the reasons whose message says them; `detail` is the driver's code for those. */
const catalogPhrases: Partial<Record<CatalogFailure, (detail: string) => string>> = {
  DiskFull: (code) => `disk full (${code})`,
  DiskIo: (code) => `disk I/O error (${code})`,
  ReadOnly: (code) => `the catalog file is read-only (${code})`,
  Damaged: (code) => `the catalog file is damaged (${code})`
}

/** A catalog backend failed; `detail` says what happened (never a credential). */
export class CatalogError extends Schema.TaggedError<CatalogError>()("CatalogError", {
  operation: Schema.String,
  reason: CatalogFailure,
  detail: Schema.String
}) {
  /** What went wrong, in words: the reason's phrase, else the detail. */
  get explanation(): string {
    return catalogPhrases[this.reason]?.(this.detail) ?? this.detail
  }
  override get message() {
    return `catalog ${this.operation} failed: ${this.explanation}`
  }
}

/** One problem in a manifest, at a line (1-based). */
export const ManifestProblem = Schema.Struct({ line: Schema.Number, message: Schema.String })
export type ManifestProblem = typeof ManifestProblem.Type

/** A manifest (URL list, JSON Lines, Metalink) is malformed: every bad line or element, with its line number. */
export class ManifestError extends Schema.TaggedError<ManifestError>()("ManifestError", {
  format: Schema.String,
  problems: Schema.Array(ManifestProblem)
}) {
  override get message() {
    // every bad line is named: a user fixing a manifest needs the whole list, not the first page of it
    const lines = this.problems.map((p) => `line ${p.line}: ${p.message}`)
    return `${this.problems.length} problem(s) in the ${this.format} manifest:\n${lines.join("\n")}`
  }
}

/** Every error a download can end with. */
export type DownloadError =
  | InvalidRequest
  | HttpStatusError
  | ConnectError
  | TimeoutError
  | TlsError
  | TransferError
  | ProtocolError
  | RedirectError
  | ProxyError
  | DigestMismatch
  | SizeMismatch
  | SizeLimitExceeded
  | StorageError
  | CatalogError

export const DownloadError = Schema.Union(
  InvalidRequest,
  HttpStatusError,
  ConnectError,
  TimeoutError,
  TlsError,
  TransferError,
  ProtocolError,
  RedirectError,
  ProxyError,
  DigestMismatch,
  SizeMismatch,
  SizeLimitExceeded,
  StorageError,
  CatalogError
)

