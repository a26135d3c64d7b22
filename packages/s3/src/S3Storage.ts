/**
 * `Storage` on an S3-compatible object store: content-addressed keys `<prefix>/ab/cd/<sha256>`, streaming multipart
 * writes (see upload.ts), streaming reads.
 */
import { type Sha256, shardedKey, Storage, StorageError, type StorageService, type StoredObject } from "@cargohold/core"
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
import { beginUpload } from "./upload.js"

export interface S3StorageService extends StorageService {
  readonly bucket: string
  /** The S3 key of an artifact (the prefix included). */
  readonly objectKey: (sha256: Sha256) => string
  /** Where temporary objects live (`<prefix>/.tmp/`). */
  readonly tempPrefix: string
  /** The underlying client, for tests and tools (listing uploads, lifecycle rules…). */
  readonly handle: S3Handle
}

export const makeS3Storage = (config: S3StorageConfig): Effect.Effect<S3StorageService, StorageError> =>
  Effect.gen(function* () {
    const handle = yield* makeClient(config)
    const { sdk } = handle
    const bucket = config.bucket
    const prefix = normalizePrefix(config.prefix)
    const under = (key: string) => (prefix === "" ? key : `${prefix}/${key}`)
    const objectKey = (sha256: Sha256) => under(shardedKey(sha256))
    const tempPrefix = under(".tmp/")
    const id = storeId(config)

    const stat = (sha256: Sha256): Effect.Effect<Option.Option<StoredObject>, StorageError> => {
      const key = objectKey(sha256)
      return Effect.tryPromise({
        try: (signal) => handle.client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
        catch: (cause) => cause
      }).pipe(
        Effect.map((out) =>
          Option.some<StoredObject>({ store: id, key: shardedKey(sha256), size: (out.ContentLength ?? 0) as StoredObject["size"] })
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
              isNotFound(cause) ? new StorageError({ operation: "read", key, reason: "not found" }) : storageError("read", key, cause)
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
          tempKey: `${tempPrefix}${crypto.randomUUID()}`,
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
      handle
    }
    return service
  })

const decode = (input: S3StorageConfigInput) =>
  Schema.decodeUnknown(S3StorageConfig)(input).pipe(
    Effect.mapError((error) => new StorageError({ operation: "configure", reason: error.message }))
  )

/** `Storage` on S3 from explicit settings. The SDK client is destroyed (sockets closed) with the layer. */
export const layerS3Storage = (input: S3StorageConfigInput): Layer.Layer<Storage, StorageError> =>
  Layer.scoped(Storage, acquire(decode(input)))

/** `Storage` from `s3://bucket/prefix?endpoint=URL&region=R`. */
export const layerS3StorageFromUrl = (url: string): Layer.Layer<Storage, StorageError> =>
  Layer.scoped(Storage, acquire(parseS3Url(url)))

/** The S3 storage with its extra members, scoped (for tests and tools that need the client). */
export const acquire = (config: Effect.Effect<S3StorageConfig, StorageError>) =>
  Effect.acquireRelease(Effect.flatMap(config, makeS3Storage), (storage) =>
    Effect.sync(() => storage.handle.client.destroy())
  )
