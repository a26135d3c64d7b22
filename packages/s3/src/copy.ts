/**
 * Server-side copy of a committed temporary object to its content address: no byte goes through the client.
 * CopyObject up to 5 GiB; above that a multipart copy (UploadPartCopy by range), aborted on failure.
 */
import type { StorageError } from "@cargohold/core"
import { Effect } from "effect"
import { call, type S3Handle } from "./client.js"

const copyObjectLimit = 5 * 1024 * 1024 * 1024
const copyPartSize = 1024 * 1024 * 1024

export const serverSideCopy = (
  handle: S3Handle,
  bucket: string,
  from: string,
  to: string,
  size: number
): Effect.Effect<void, StorageError> => {
  const { sdk } = handle
  const CopySource = `${bucket}/${from}`
  if (size <= copyObjectLimit) {
    return call(handle, "copy", to, (c, o) => c.send(new sdk.CopyObjectCommand({ Bucket: bucket, Key: to, CopySource }), o))
  }
  return Effect.acquireUseRelease(
    call(handle, "copy", to, (c, o) => c.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: to }), o)).pipe(
      Effect.map((created) => ({ uploadId: created.UploadId!, completed: false }))
    ),
    (upload) =>
      Effect.gen(function* () {
        const ranges: Array<{ PartNumber: number; range: string }> = []
        for (let start = 0, n = 1; start < size; start += copyPartSize, n++) {
          ranges.push({ PartNumber: n, range: `bytes=${start}-${Math.min(start + copyPartSize, size) - 1}` })
        }
        const parts = yield* Effect.forEach(
          ranges,
          ({ PartNumber, range }) =>
            call(handle, "copy", to, (c, o) =>
              c.send(
                new sdk.UploadPartCopyCommand({
                  Bucket: bucket,
                  Key: to,
                  UploadId: upload.uploadId,
                  PartNumber,
                  CopySource,
                  CopySourceRange: range
                }),
                o
              )
            ).pipe(Effect.map((out) => ({ PartNumber, ETag: out.CopyPartResult?.ETag }))),
          { concurrency: 4 }
        )
        yield* call(handle, "copy", to, (c, o) =>
          c.send(
            new sdk.CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: to,
              UploadId: upload.uploadId,
              MultipartUpload: { Parts: parts }
            }),
            o
          )
        )
        upload.completed = true
      }),
    (upload) =>
      upload.completed
        ? Effect.void
        : Effect.ignore(
            call(handle, "abort copy", to, (c, o) =>
              c.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId: upload.uploadId }), o)
            )
          )
  )
}
