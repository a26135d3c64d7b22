/**
 * The last step of every download, whichever lane fetched it: the verified temp object becomes the stored object
 * and its record reaches the catalog, together and uninterruptibly. If the catalog refuses, an object this download
 * created is removed again, so the store never holds what the catalog does not know of.
 */
import { Effect } from "effect"
import type { DownloadRecord } from "../catalog/schema.js"
import { ByteSize, type ComputedDigests, type Sha256 } from "../domain/digest.js"
import type { DownloadError } from "../domain/errors.js"
import type { Peer } from "../http/exchange.js"
import { Artifact, type StoredObject } from "../domain/artifact.js"
import type { StorageService, TempObject } from "../storage/Storage.js"
import { traced } from "../telemetry/telemetry.js"
import type { RecordDownload } from "./download.js"
import type { Transfer } from "./transfer.js"

/** What was fetched and from where: the record's provenance. */
export interface Fetched {
  readonly sha256: Sha256
  readonly size: ByteSize
  readonly digests: ComputedDigests
  readonly url: string
  readonly finalUrl: string
  readonly remote: string | undefined
  readonly priority: number | undefined
  readonly etag: string | undefined
  readonly lastModified: string | undefined
  readonly peer: Peer | undefined
}

/**
 * What `transfer` fetched from `source` (its URL, remote name and declared priority): the digests it computed,
 * the bytes it counted, the validators and the peer of the answer its body came in.
 */
export const fetchedBy = (
  transfer: Transfer,
  digests: ComputedDigests,
  source: { readonly url: string; readonly remote: string | undefined; readonly priority: number | undefined }
): Fetched => ({
  sha256: digests.sha256,
  size: ByteSize.make(transfer.received),
  digests,
  url: source.url,
  finalUrl: transfer.finalUrl,
  remote: source.remote,
  priority: source.priority,
  etag: transfer.etag,
  lastModified: transfer.lastModified,
  peer: transfer.peer
})

/**
 * Commits `temp` as `fetched.sha256` and records it through `record`. `replace`: the stored copy (if any) is not
 * known good and is replaced. `tracing`: spans around both steps (telemetry on).
 */
export const commitAndRecord = (
  storage: StorageService,
  temp: TempObject,
  fetched: Fetched,
  record: RecordDownload,
  options: { readonly replace: boolean; readonly tracing: boolean }
): Effect.Effect<StoredObject, DownloadError> => {
  const { sha256, size } = fetched
  const commit = temp.commit(sha256, size, { replace: options.replace, deferSync: true })
  return Effect.uninterruptible(
    Effect.flatMap(
      options.tracing ? commit.pipe(traced("cargohold.commit", { "cargohold.sha256": sha256, "cargohold.size": size })) : commit,
      ({ object, created, kept, pending }) => {
        const row: DownloadRecord = {
          sha256,
          size,
          digests: fetched.digests,
          store: object.store,
          key: object.key,
          kept,
          url: fetched.url,
          finalUrl: fetched.finalUrl,
          remote: fetched.remote,
          priority: fetched.priority,
          etag: fetched.etag,
          lastModified: fetched.lastModified,
          peerAddress: fetched.peer?.address,
          tlsFingerprint: fetched.peer?.tlsFingerprint,
          protocol: fetched.peer?.protocol,
          at: new Date()
        }
        // the store's last durability steps (a folder fsync) go with the record: a group shares them
        const written = record({ record: row, pending: pending ?? [] })
        return (options.tracing ? written.pipe(traced("cargohold.catalog.record", { "cargohold.sha256": sha256 })) : written).pipe(
          Effect.tapError(() => (created ? Effect.ignore(storage.remove(sha256)) : Effect.void)),
          Effect.as(object)
        )
      }
    )
  )
}

/** The artifact a download returns for bytes it fetched, `url` being the one it was asked for. */
export const fetchedArtifact = (url: string, fetched: Fetched, location: StoredObject): Artifact =>
  // every field is computed (digests by the hasher, size counted, the store's location): no second validation
  new Artifact(
    {
      sha256: fetched.sha256,
      size: fetched.size,
      digests: fetched.digests,
      url,
      finalUrl: fetched.finalUrl,
      location,
      cached: false
    },
    true
  )
