/**
 * A TempObject on S3: a streaming multipart upload to a temporary key, moved to its content address at commit.
 *
 * Why this design. The object's key is its sha256, known only after the last byte, but a multipart upload's key
 * is fixed when it starts. So:
 * - Bytes are copied into one part-sized buffer; each full buffer is uploaded as a part of a multipart upload to
 *   `<prefix>/.tmp/<uuid>` while the download goes on. At most `queueSize` parts are in flight; `write` waits for
 *   a free slot, so memory stays below (queueSize + 1) × partSize whatever the artifact's size, and nothing is
 *   written to local disk.
 * - `commit` uploads the last part, completes the upload (the temporary object appears) and copies it server-side
 *   to `<prefix>/ab/cd/<sha256>` (CopyObject, or a multipart copy above 5 GiB), then deletes the temporary object.
 *   The copy moves no byte through the client. A reader sees either no object at the content address or the whole
 *   of it: S3 makes an object visible only when its PUT / copy / completion succeeds.
 * - An artifact smaller than one part never starts a multipart upload: `commit` PUTs it straight to its content
 *   address (one request, no temporary object, no copy).
 * - Idempotent: `commit` first HEADs the content address; if an object of the right size is there and the caller did
 *   not ask to `replace` it (a copy not known to be good), nothing is copied and the temporary upload is dropped
 *   (`kept: true`).
 * - The scope's finalizer (success, failure and interruption alike) interrupts part uploads in flight (their HTTP
 *   requests are aborted), aborts an open multipart upload (S3 then frees its parts) and deletes a temporary
 *   object left by a failed copy. `reset` does the same and starts over.
 * Alternatives rejected: buffering to a local file first (a full local copy, disk I/O twice); uploading under a
 * random key and recording that key in the catalog (objects would no longer be content-addressed and a crash
 * between upload and catalog would leave an unreachable object forever).
 */
import { type ByteSize, type CommitOptions, type Sha256, StorageError, type StoredObject, type TempObject } from "@cargohold/core"
import { Effect, Fiber, Option, type Scope } from "effect"
import { call, type S3Handle } from "./client.js"
import { serverSideCopy } from "./copy.js"

export interface UploadTarget {
  readonly handle: S3Handle
  readonly bucket: string
  readonly storeId: string
  readonly partSize: number
  readonly queueSize: number
  /** The S3 key of a temporary object. */
  readonly tempKey: string
  /** The S3 key of an artifact. */
  readonly objectKey: (sha256: Sha256) => string
  /** The key recorded in the catalog (relative to the store id). */
  readonly catalogKey: (sha256: Sha256) => string
  /** HEADs an artifact. */
  readonly stat: (sha256: Sha256) => Effect.Effect<Option.Option<StoredObject>, StorageError>
}

interface Part {
  readonly PartNumber: number
  readonly ETag: string | undefined
}

export const beginUpload = (target: UploadTarget): Effect.Effect<TempObject, StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    const { handle, bucket, tempKey, partSize } = target
    const { sdk } = handle
    const scope = yield* Effect.scope
    const slots = yield* Effect.makeSemaphore(target.queueSize)

    let buffer: Uint8Array | undefined
    let filled = 0
    let written = 0
    let uploadId: string | undefined
    let nextPart = 1
    let parts: Array<Part> = []
    let inflight = new Set<Fiber.RuntimeFiber<void>>()
    let failure: StorageError | undefined
    let tempExists = false

    // Uninterruptible: an interruption between S3 creating the upload and us recording its id would leave an
    // upload no finalizer knows to abort (seen in the interrupted-upload test). The request is short.
    const open: Effect.Effect<string, StorageError> = Effect.suspend(() =>
      uploadId !== undefined
        ? Effect.succeed(uploadId)
        : call(handle, "begin upload", tempKey, (c, o) =>
            c.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: tempKey }), o)
          ).pipe(
            Effect.flatMap((out) =>
              out.UploadId === undefined
                ? Effect.fail(new StorageError({ operation: "begin upload", key: tempKey, reason: "Backend", detail: "no UploadId in the answer" }))
                : Effect.sync(() => {
                    uploadId = out.UploadId!
                    return uploadId
                  })
            )
          )
    ).pipe(Effect.uninterruptible)

    /** Uploads one part in the background, once a slot is free. */
    const dispatch = (bytes: Uint8Array): Effect.Effect<void, StorageError> =>
      Effect.gen(function* () {
        const id = yield* open
        const PartNumber = nextPart++
        yield* slots.take(1)
        const upload = call(handle, "upload part", tempKey, (c, o) =>
          c.send(
            new sdk.UploadPartCommand({
              Bucket: bucket,
              Key: tempKey,
              UploadId: id,
              PartNumber,
              Body: bytes,
              ContentLength: bytes.length
            }),
            o
          )
        ).pipe(
          Effect.flatMap((out) =>
            Effect.sync(() => {
              parts.push({ PartNumber, ETag: out.ETag })
            })
          ),
          Effect.catchAll((error) =>
            Effect.sync(() => {
              failure ??= error
            })
          ),
          Effect.ensuring(slots.release(1))
        )
        const fiber = yield* Effect.forkIn(upload, scope)
        inflight.add(fiber)
        fiber.addObserver(() => inflight.delete(fiber))
      })

    const failed = Effect.suspend(() => (failure === undefined ? Effect.void : Effect.fail(failure)))

    /** Waits for every part in flight. */
    const drain = Effect.suspend(() => Fiber.joinAll([...inflight])).pipe(Effect.zipRight(failed))

    /** Stops part uploads, aborts the multipart upload, deletes a temporary object: the state of `begin`. */
    const discard: Effect.Effect<void> = Effect.gen(function* () {
      const running = [...inflight]
      inflight = new Set()
      yield* Fiber.interruptAll(running)
      const id = uploadId
      uploadId = undefined
      if (id !== undefined) {
        yield* call(handle, "abort upload", tempKey, (c, o) =>
          c.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: tempKey, UploadId: id }), o)
        ).pipe(Effect.catchAll((error) => Effect.logWarning(`cargohold s3: ${error.message}`)))
      }
      if (tempExists) {
        yield* call(handle, "delete temporary", tempKey, (c, o) =>
          c.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: tempKey }), o)
        ).pipe(Effect.catchAll((error) => Effect.logWarning(`cargohold s3: ${error.message}`)))
        tempExists = false
      }
      buffer = undefined
      filled = 0
      written = 0
      nextPart = 1
      parts = []
      failure = undefined
    })

    yield* Effect.addFinalizer(() => discard)

    const write = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, StorageError> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        let full: Array<Uint8Array> | undefined
        for (const chunk of chunks) {
          written += chunk.length
          let offset = 0
          while (offset < chunk.length) {
            buffer ??= new Uint8Array(partSize)
            const n = Math.min(partSize - filled, chunk.length - offset)
            buffer.set(chunk.subarray(offset, offset + n), filled)
            filled += n
            offset += n
            if (filled === partSize) {
              ;(full ??= []).push(buffer)
              buffer = undefined
              filled = 0
            }
          }
        }
        return full === undefined ? Effect.void : Effect.forEach(full, dispatch, { discard: true })
      })

    const commit = (sha256: Sha256, size: ByteSize, options?: CommitOptions) =>
      Effect.gen(function* () {
        const key = target.objectKey(sha256)
        yield* failed
        if (written !== size) {
          return yield* new StorageError({ operation: "commit", key, reason: "SizeMismatch", detail: `wrote ${written} bytes, expected ${size}` })
        }
        const object: StoredObject = { store: target.storeId, key: target.catalogKey(sha256), size }
        // the same contract as the file store: an object of the right size is kept unless `replace`; otherwise the
        // PUT / copy below overwrites it in one step (S3 makes the new version visible atomically, so readers see
        // the old bytes or the new, never nothing). `created` only when nothing was there: only then may a failed
        // catalog write remove the object again.
        const existing = yield* target.stat(sha256)
        const created = Option.isNone(existing)
        if (Option.isSome(existing) && existing.value.size === size && options?.replace !== true) {
          yield* discard
          return { object, created: false, kept: true }
        }
        if (uploadId === undefined && nextPart === 1) {
          // Smaller than one part: one PUT straight to the content address, checked by S3 against our sha256.
          const body = buffer === undefined ? new Uint8Array(0) : buffer.subarray(0, filled)
          yield* call(handle, "put", key, (c, o) =>
            c.send(
              new sdk.PutObjectCommand({
                Bucket: bucket,
                Key: key,
                Body: body,
                ContentLength: body.length,
                ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64")
              }),
              o
            )
          )
          yield* discard
          return { object, created, kept: false }
        }
        if (filled > 0) {
          const last = buffer!.subarray(0, filled)
          buffer = undefined
          filled = 0
          yield* dispatch(last)
        }
        yield* drain
        const id = uploadId!
        const sorted = [...parts].sort((a, b) => a.PartNumber - b.PartNumber)
        yield* call(handle, "complete upload", tempKey, (c, o) =>
          c.send(
            new sdk.CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: tempKey,
              UploadId: id,
              MultipartUpload: { Parts: sorted }
            }),
            o
          )
        )
        uploadId = undefined
        tempExists = true
        yield* serverSideCopy(handle, bucket, tempKey, key, size)
        yield* discard
        return { object, created, kept: false }
      })

    const temp: TempObject = {
      write,
      reset: discard,
      written: () => written,
      commit
    }
    return temp
  })
