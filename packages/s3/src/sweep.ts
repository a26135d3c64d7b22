/**
 * What killed processes leave in the bucket: multipart uploads never completed nor aborted (S3 keeps — and bills —
 * their parts until someone aborts them) and temporary objects completed but not yet copied to their content
 * address. Both live under `<prefix>/.tmp/`. When a store opens, `sweepStaleTemps` aborts or deletes those whose
 * owner is dead, or, when the name cannot tell (another host, a name without an owner), those older than `staleMs`;
 * never one of a live process. A temp key is `<prefix>/.tmp/<birth>.<owner name>`, `birth` the creating process's
 * clock in base-36 milliseconds: the age comes from the key, not from the server's dates (an emulator such as
 * moto_server reports every upload as initiated in 2010, which would make a live upload of another host look stale). Why at open, like the file store's temp folder: there is no process left to clean up
 * after a kill -9, and a bucket lifecycle rule (AbortIncompleteMultipartUpload) is the operator's, not ours.
 */
import type { StorageError } from "@cargohold/core"
import { Effect } from "effect"
import { call, type S3Handle } from "./client.js"

/**
 * Temp names that say which process owns them (`@cargohold/node` gives one from the pid and its start time): a
 * fresh name, and what a name says of its owner.
 */
export interface TempOwnership {
  readonly name: () => string
  readonly ownerOf: (name: string) => "dead" | "alive" | "unknown"
}

export interface SweepTarget {
  readonly handle: S3Handle
  readonly bucket: string
  /** `<prefix>/.tmp/` */
  readonly tempPrefix: string
  readonly owners: TempOwnership | undefined
  readonly staleMs: number
}

export interface SweepReport {
  readonly abortedUploads: number
  readonly deletedObjects: number
}

/** A sweep reads at most this many pages (1,000 entries each) of each listing; the next open goes on. */
const maxPages = 10

/** A fresh temp key under `tempPrefix`: its birth, then a name its owner gives (or a random one). */
export const tempKeyFor = (tempPrefix: string, owners: TempOwnership | undefined): string =>
  `${tempPrefix}${Date.now().toString(36)}.${owners?.name() ?? crypto.randomUUID()}`

const keyPattern = /^([0-9a-z]{6,10})\.(.+)$/

const mayGo = (target: SweepTarget, key: string, serverDate: Date | undefined, now: number): boolean => {
  const parsed = keyPattern.exec(key.slice(target.tempPrefix.length))
  const name = parsed?.[2] ?? key.slice(target.tempPrefix.length)
  const owner = target.owners?.ownerOf(name) ?? "unknown"
  if (owner === "alive") return false
  if (owner === "dead") return true
  // a key of an older version, without its birth: the server's date is all there is
  const born = parsed === null ? serverDate?.getTime() : Number.parseInt(parsed[1]!, 36)
  return born !== undefined && Number.isFinite(born) && now - born > target.staleMs
}

const sweepUploads = (target: SweepTarget, now: number): Effect.Effect<number, StorageError> =>
  Effect.gen(function* () {
    const { handle, bucket, tempPrefix } = target
    let aborted = 0
    let keyMarker: string | undefined
    let uploadIdMarker: string | undefined
    for (let page = 0; page < maxPages; page++) {
      const out = yield* call(handle, "sweep uploads", tempPrefix, (c, o) =>
        c.send(
          new handle.sdk.ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: tempPrefix,
            ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
            ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker })
          }),
          o
        )
      )
      for (const upload of out.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue
        if (!mayGo(target, upload.Key, upload.Initiated, now)) continue
        const key = upload.Key
        const uploadId = upload.UploadId
        yield* call(handle, "sweep uploads", key, (c, o) =>
          c.send(new handle.sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), o)
        )
        aborted++
      }
      if (out.IsTruncated !== true) break
      keyMarker = out.NextKeyMarker
      uploadIdMarker = out.NextUploadIdMarker
    }
    return aborted
  })

const sweepObjects = (target: SweepTarget, now: number): Effect.Effect<number, StorageError> =>
  Effect.gen(function* () {
    const { handle, bucket, tempPrefix } = target
    let deleted = 0
    let token: string | undefined
    for (let page = 0; page < maxPages; page++) {
      const out = yield* call(handle, "sweep temp objects", tempPrefix, (c, o) =>
        c.send(
          new handle.sdk.ListObjectsV2Command({
            Bucket: bucket,
            Prefix: tempPrefix,
            ...(token === undefined ? {} : { ContinuationToken: token })
          }),
          o
        )
      )
      for (const object of out.Contents ?? []) {
        if (object.Key === undefined || !mayGo(target, object.Key, object.LastModified, now)) continue
        const key = object.Key
        yield* call(handle, "sweep temp objects", key, (c, o) =>
          c.send(new handle.sdk.DeleteObjectCommand({ Bucket: bucket, Key: key }), o)
        )
        deleted++
      }
      if (out.IsTruncated !== true || out.NextContinuationToken === undefined) break
      token = out.NextContinuationToken
    }
    return deleted
  })

/** Aborts the stale uploads and deletes the stale temporary objects under the temp prefix. */
export const sweepStaleTemps = (target: SweepTarget): Effect.Effect<SweepReport, StorageError> =>
  Effect.suspend(() => {
    const now = Date.now()
    return Effect.all({ abortedUploads: sweepUploads(target, now), deletedObjects: sweepObjects(target, now) })
  })
