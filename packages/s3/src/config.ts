/**
 * Configuration of an S3-compatible store, as a Schema, and its `s3://bucket/prefix?endpoint=…&region=…` URL form.
 */
import { describeParseError, redactUrl, StorageError } from "@cargohold/core"
import { Effect, Schema } from "effect"

/** Static credentials; without them the AWS SDK's default chain (environment variables, profile, …) applies. */
export const S3Credentials = Schema.Struct({
  accessKeyId: Schema.String,
  secretAccessKey: Schema.Redacted(Schema.String),
  sessionToken: Schema.optional(Schema.Redacted(Schema.String))
})
export type S3Credentials = typeof S3Credentials.Type

/** S3 requires parts of at least 5 MiB (except the last) and at most 5 GiB. */
export const minPartSize = 5 * 1024 * 1024
export const maxPartSize = 5 * 1024 * 1024 * 1024
export const defaultPartSize = 8 * 1024 * 1024

export const S3StorageConfig = Schema.Struct({
  bucket: Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: () => "not a valid bucket name" })),
  /** Key prefix without leading or trailing slashes; "" for the bucket root. */
  prefix: Schema.optional(Schema.String),
  /** An S3-compatible endpoint (MinIO, Ceph, moto…); path-style addressing is used with it. */
  endpoint: Schema.optional(Schema.String),
  region: Schema.optional(Schema.String),
  credentials: Schema.optional(S3Credentials),
  /** Bytes per multipart part: the unit of buffering. */
  partSize: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.between(minPartSize, maxPartSize))),
  /** Parts uploaded concurrently; memory stays below (queueSize + 1) × partSize per upload. */
  queueSize: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.between(1, 64)))
})
export type S3StorageConfig = typeof S3StorageConfig.Type
export type S3StorageConfigInput = typeof S3StorageConfig.Encoded

/** Strips slashes at both ends of a prefix. */
export const normalizePrefix = (prefix: string | undefined): string => (prefix ?? "").replace(/^\/+|\/+$/g, "")

/** The store id the catalog records: `s3://bucket/prefix` (no endpoint, no credentials). */
export const storeId = (config: S3StorageConfig): string => {
  const prefix = normalizePrefix(config.prefix)
  return prefix === "" ? `s3://${config.bucket}` : `s3://${config.bucket}/${prefix}`
}

const invalid = (detail: string) => new StorageError({ operation: "configure", reason: "InvalidConfig", detail })

/** A URL fit for a message: user, password and query removed. */
const redactEndpoint = (raw: string): string => redactUrl(raw, { query: "drop" })

/**
 * Parses `s3://bucket/prefix?endpoint=URL&region=R&partSize=N`. Credentials never come from the URL
 * (they would end up in logs and catalog rows): use the AWS environment variables or a profile.
 */
export const parseS3Url = (raw: string): Effect.Effect<S3StorageConfig, StorageError> =>
  Effect.gen(function* () {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      return yield* invalid(`not a valid URL: ${redactEndpoint(raw)}`)
    }
    if (url.protocol !== "s3:") return yield* invalid(`expected an s3:// URL, got ${url.protocol}`)
    if (url.username !== "" || url.password !== "") {
      return yield* invalid("credentials in an s3:// URL are refused; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile")
    }
    const known = new Set(["endpoint", "region", "partSize", "queueSize"])
    for (const name of url.searchParams.keys()) {
      if (!known.has(name)) return yield* invalid(`unknown s3:// URL parameter '${name}' (known: ${[...known].join(", ")})`)
    }
    const endpoint = url.searchParams.get("endpoint") ?? undefined
    if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
      return yield* invalid(`endpoint must be an http(s) URL, got ${redactEndpoint(endpoint)}`)
    }
    const number = (name: string) => {
      const value = url.searchParams.get(name)
      return value === null ? undefined : Number(value)
    }
    return yield* Schema.decodeUnknown(S3StorageConfig)({
      bucket: url.hostname,
      prefix: normalizePrefix(decodeURIComponent(url.pathname)),
      endpoint,
      region: url.searchParams.get("region") ?? undefined,
      partSize: number("partSize"),
      queueSize: number("queueSize")
    }).pipe(Effect.mapError((error) => invalid(describeParseError(error, { subject: "the store URL" }))))
  })
