/**
 * Conditional re-fetch: a request that pins no digest cannot be answered from the store by digest, but when the
 * catalog knows what this URL served last (ETag, Last-Modified) and that artifact is still stored here, the
 * request asks the server whether it changed (If-None-Match / If-Modified-Since). A 304 Not Modified then means:
 * the catalog's artifact is still what the URL serves — returned as stored (cached), no body read, nothing
 * written. Any other answer is an ordinary download.
 *
 * This file decides which validators to send and what a 304 stands for; the transfer sends the headers it is
 * given and says whether the answer was a 304 (fetchHttp.ts).
 */
import { Effect, Option } from "effect"
import type { CatalogService } from "../catalog/Catalog.js"
import { Artifact } from "../domain/artifact.js"
import type { ComputedDigests } from "../domain/digest.js"
import type { DownloadError } from "../domain/errors.js"
import type { DownloadSpec } from "../domain/request.js"
import type { StorageService } from "../storage/Storage.js"

/** A conditional request for one URL, and what its 304 stands for. */
export interface Revalidation {
  /** The URL the validators belong to: only a request to it carries them. */
  readonly url: string
  /** `if-none-match` and/or `if-modified-since`. */
  readonly headers: Readonly<Record<string, string>>
  /** The stored artifact a 304 confirms. */
  readonly artifact: Artifact
  readonly digests: ComputedDigests
}

/**
 * The revalidation for `spec`, when it can have one: http(s), no digest pinned (a pinned one is served from the
 * store without any request), the catalog's artifact for this URL still stored here with the expected size, and
 * a validator recorded for this very URL.
 */
export const revalidationFor = (
  spec: DownloadSpec,
  catalog: CatalogService,
  storage: StorageService
): Effect.Effect<Option.Option<Revalidation>, DownloadError> =>
  Effect.gen(function* () {
    if (spec.scheme === "file:" || Object.keys(spec.digests).length > 0) return Option.none()
    const sha256 = yield* catalog.findByUrl(spec.url)
    if (Option.isNone(sha256)) return Option.none()
    const entry = yield* catalog.lookup(sha256.value)
    if (Option.isNone(entry)) return Option.none()
    const { artifact, locations, sources } = entry.value
    if (spec.size !== undefined && artifact.size !== spec.size) return Option.none()
    const source = sources.find((s) => s.url === spec.url)
    if (source === undefined || (source.etag === undefined && source.lastModified === undefined)) return Option.none()
    if (!locations.some((l) => l.store === storage.id && l.state === "ok")) return Option.none()
    const stored = yield* storage.stat(artifact.sha256)
    if (Option.isNone(stored) || stored.value.size !== artifact.size) return Option.none()
    const headers: Record<string, string> = {}
    if (source.etag !== undefined) headers["if-none-match"] = source.etag
    // sent as well: a server that ignores ETags may still honour it (one that knows both must prefer If-None-Match)
    if (source.lastModified !== undefined) headers["if-modified-since"] = source.lastModified
    return Option.some({
      url: spec.url,
      headers,
      digests: artifact.digests,
      artifact: new Artifact(
        {
          sha256: artifact.sha256,
          size: artifact.size,
          digests: artifact.digests,
          url: spec.url,
          finalUrl: spec.url,
          location: stored.value,
          cached: true,
          notModified: true
        },
        true
      )
    })
  })
