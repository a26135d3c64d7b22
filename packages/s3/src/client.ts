/**
 * The AWS SDK v3 client, imported on first use so that programs that never touch S3 do not pay for it,
 * and the mapping of SDK failures to `StorageError` (message and status only: never a header or a credential).
 */
import type * as Sdk from "@aws-sdk/client-s3"
import { StorageError } from "@cargohold/core"
import { Effect, Redacted } from "effect"
import type { S3StorageConfig } from "./config.js"

export type SdkModule = typeof Sdk

export interface S3Handle {
  readonly sdk: SdkModule
  readonly client: Sdk.S3Client
}

const env = (name: string): string | undefined => {
  const value = process.env[name]
  return value === undefined || value === "" ? undefined : value
}

/** Builds the client: path-style with an endpoint; SDK default credential and region chains otherwise. */
export const makeClient = (config: S3StorageConfig): Effect.Effect<S3Handle, StorageError> =>
  Effect.tryPromise({
    try: () => import("@aws-sdk/client-s3"),
    catch: (cause) => new StorageError({ operation: "configure", reason: "NotInstalled",
      detail: `cannot load @aws-sdk/client-s3: ${String(cause)}` })
  }).pipe(
    Effect.map((sdk) => {
      const region =
        config.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? (config.endpoint !== undefined ? "us-east-1" : undefined)
      const credentials =
        config.credentials === undefined
          ? undefined
          : {
              accessKeyId: config.credentials.accessKeyId,
              secretAccessKey: Redacted.value(config.credentials.secretAccessKey),
              ...(config.credentials.sessionToken === undefined
                ? {}
                : { sessionToken: Redacted.value(config.credentials.sessionToken) })
            }
      const client = new sdk.S3Client({
        ...(region === undefined ? {} : { region }),
        ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint, forcePathStyle: true }),
        ...(credentials === undefined ? {} : { credentials }),
        // cargohold verifies sha256 itself; the SDK's default CRC checksums are not understood by every
        // S3-compatible server and cost CPU on every part.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED"
      })
      return { sdk, client }
    })
  )

interface SdkFailure {
  readonly name?: string
  readonly message?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

/** The HTTP status an SDK failure carried, when it did. */
export const statusOf = (cause: unknown): number | undefined =>
  typeof cause === "object" && cause !== null ? (cause as SdkFailure).$metadata?.httpStatusCode : undefined

export const isNotFound = (cause: unknown): boolean => {
  const name = typeof cause === "object" && cause !== null ? (cause as SdkFailure).name : undefined
  return statusOf(cause) === 404 || name === "NotFound" || name === "NoSuchKey" || name === "NoSuchUpload"
}

/** A `StorageError` naming the operation, the key, the error name and the HTTP status. */
export const storageError = (operation: string, key: string | undefined, cause: unknown): StorageError => {
  const failure = (typeof cause === "object" && cause !== null ? cause : {}) as SdkFailure
  const status = statusOf(cause)
  const name = failure.name ?? "Error"
  const message = failure.message ?? String(cause)
  return new StorageError({
    operation,
    ...(key === undefined ? {} : { key }),
    reason: "Backend",
    detail: `${name}${status === undefined ? "" : ` (HTTP ${status})`}: ${message}`
  })
}

/** Runs one SDK call, interruptibly (the abort signal cancels the HTTP request). */
export const call = <Output>(
  handle: S3Handle,
  operation: string,
  key: string | undefined,
  run: (client: Sdk.S3Client, options: { readonly abortSignal: AbortSignal }) => Promise<Output>
): Effect.Effect<Output, StorageError> =>
  Effect.tryPromise({
    try: (signal) => run(handle.client, { abortSignal: signal }),
    catch: (cause) => storageError(operation, key, cause)
  })
