/**
 * `Storage` on an S3-compatible object store: content-addressed keys `<prefix>/ab/cd/<sha256>`, streaming multipart
 * writes (see upload.ts), streaming reads.
 */
import { ByteSize, type Sha256, shardedKey, Storage, StorageError, type StorageService, type StoredObject } from "@cargohold/core"
import { Effect, Layer, Option, Schema, Stream } from "effect"
import { call, isNotFound, makeClient, type S3Handle, storageError } from "./client.js"
import {
  defaultPartSize,
  normalizePrefix,
  parseS3Url,
  S3StorageConfig,
  type S3StorageConfigInput,
  storeId
} from "./config.js"
import { type SweepReport, sweepStaleTemps, type TempOwnership, tempKeyFor } from "./sweep.js"
import { beginUpload } from "./upload.js"

export interface S3StorageOptions {
  /**
   * Temp names that say which process owns them (`processTempOwners` of `@cargohold/node`), so a store that opens
   * clears at once what dead processes left; without them only age tells.
   */
  readonly owners?: TempOwnership | undefined
  /** Leftovers whose owner cannot be told are cleared once this old (default 24 h). */
  readonly staleTempMs?: number | undefined
}

export interface S3StorageService extends StorageService {
  readonly bucket: string
  /** The S3 key of an artifact (the prefix included). */
  readonly objectKey: (sha256: Sha256) => string
  /** Where temporary objects live (`<prefix>/.tmp/`). */
  readonly tempPrefix: string
  /** The underlying client, for tests and tools (listing uploads, lifecycle rules…). */
  readonly handle: S3Handle
  /** What the sweep at open cleared (see sweep.ts); zeros when it could not list the bucket. */
  readonly swept: SweepReport
}

export const makeS3Storage = (
  config: S3StorageConfig,
  options: S3StorageOptions = {}
): Effect.Effect<S3StorageService, StorageError> =>
  Effect.gen(function* () {
    const handle = yield* makeClient(config)
    const { sdk } = handle
    const bucket = config.bucket
    const prefix = normalizePrefix(config.prefix)
    const under = (key: string) => (prefix === "" ? key : `${prefix}/${key}`)
    const objectKey = (sha256: Sha256) => under(shardedKey(sha256))
    const tempPrefix = under(".tmp/")
    const id = storeId(config)
    // a store that cannot be listed (a role without s3:ListBucket / ListMultipartUploads) still works: its
    // leftovers wait for the bucket's lifecycle rules
    const swept = yield* sweepStaleTemps({
      handle,
      bucket,
      tempPrefix,
      owners: options.owners,
      staleMs: options.staleTempMs ?? 24 * 60 * 60 * 1000
    }).pipe(
      Effect.timeout("10 seconds"),
      Effect.catchAll((error) =>
        Effect.as(Effect.logDebug(`s3 temp sweep skipped: ${error.message}`), { abortedUploads: 0, deletedObjects: 0 })
      )
    )

    const stat = (sha256: Sha256): Effect.Effect<Option.Option<StoredObject>, StorageError> => {
      const key = objectKey(sha256)
      return Effect.tryPromise({
        try: (signal) => handle.client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
        catch: (cause) => cause
      }).pipe(
        Effect.map((out) =>
          Option.some<StoredObject>({ store: id, key: shardedKey(sha256), size: ByteSize.make(out.ContentLength ?? 0) })
        ),
        Effect.catchAll((cause) =>
          isNotFound(cause) ? Effect.succeed(Option.none<StoredObject>()) : Effect.fail(storageError("stat", key, cause))
        )
      )
    }

    const read = (sha256: Sha256): Stream.Stream<Uint8Array, StorageError> => {
      const key = objectKey(sha256)
      return Stream.unwrapScoped(
        Effect.gen(function* () {
          const controller = new AbortController()
          yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
          const out = yield* Effect.tryPromise({
            try: () => handle.client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: controller.signal }),
            catch: (cause) =>
              isNotFound(cause) ? new StorageError({ operation: "read", key, reason: "NotFound", detail: "" }) : storageError("read", key, cause)
          })
          const body = out.Body as AsyncIterable<Uint8Array> | undefined
          if (body === undefined) return Stream.empty
          return Stream.fromAsyncIterable(body, (cause) => storageError("read", key, cause))
        })
      )
    }

    const remove = (sha256: Sha256): Effect.Effect<boolean, StorageError> =>
      Effect.gen(function* () {
        const present = yield* stat(sha256)
        if (Option.isNone(present)) return false
        const key = objectKey(sha256)
        yield* call(handle, "remove", key, (c, o) => c.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key }), o))
        return true
      })

    const service: S3StorageService = {
      id,
      keyFor: shardedKey,
      begin: Effect.suspend(() =>
        beginUpload({
          handle,
          bucket,
          storeId: id,
          partSize: config.partSize ?? defaultPartSize,
          queueSize: config.queueSize ?? 4,
          tempKey: tempKeyFor(tempPrefix, options.owners),
          objectKey,
          catalogKey: shardedKey,
          stat
        })
      ),
      stat,
      read,
      remove,
      localPath: () => Option.none(),
      bucket,
      objectKey,
      tempPrefix,
      handle,
      swept
    }
    return service
  })

const decode = (input: S3StorageConfigInput) =>
  Schema.decodeUnknown(S3StorageConfig)(input).pipe(
    Effect.mapError((error) => new StorageError({ operation: "configure", reason: "InvalidConfig", detail: error.message }))
  )

/** `Storage` on S3 from explicit settings. The SDK client is destroyed (sockets closed) with the layer. */
export const layerS3Storage = (input: S3StorageConfigInput, options?: S3StorageOptions): Layer.Layer<Storage, StorageError> =>
  Layer.scoped(Storage, acquire(decode(input), options))

/** `Storage` from `s3://bucket/prefix?endpoint=URL&region=R`. */
export const layerS3StorageFromUrl = (url: string, options?: S3StorageOptions): Layer.Layer<Storage, StorageError> =>
  Layer.scoped(Storage, acquire(parseS3Url(url), options))

/** The S3 storage with its extra members, scoped (for tests and tools that need the client). */
export const acquire = (config: Effect.Effect<S3StorageConfig, StorageError>, options?: S3StorageOptions) =>
  Effect.acquireRelease(Effect.flatMap(config, (decoded) => makeS3Storage(decoded, options)), (storage) =>
    Effect.sync(() => storage.handle.client.destroy())
  )
