/**
 * The download effect: validate, reuse what is stored, stream into a scoped temp object while hashing,
 * verify, commit, catalog. Nothing partial survives a failure or an interruption.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Duration, Effect, Option, Stream } from "effect"
import { Artifact } from "../domain/artifact.js"
import type { Algorithm, ByteSize, ComputedDigests, Sha256 } from "../domain/digest.js"
import { DigestMismatch, type DownloadError, isRetryable, SizeMismatch } from "../domain/errors.js"
import { type DownloadRequestInput, type DownloadSpec, validateRequest } from "../domain/request.js"
import { Catalog, type CatalogService } from "../catalog/Catalog.js"
import { Hasher } from "../hash/Hasher.js"
import { Progress } from "../progress/Progress.js"
import { settingsForRemote } from "../remote/policy.js"
import { FileSource } from "../source/FileSource.js"
import { Storage, type StorageService } from "../storage/Storage.js"
import { DownloadConfig } from "./config.js"
import { fetchHttp } from "./fetchHttp.js"
import { ConnectionLimits } from "./limits.js"
import { retrySchedule } from "./retry.js"
import { Transfer } from "./transfer.js"

let lastId = 0
/** A process-unique id for progress events. */
export const nextDownloadId = (): number => ++lastId

/** The sha256 the request pins down, directly or through another digest the catalog knows. */
const knownSha256 = (spec: DownloadSpec, catalog: CatalogService): Effect.Effect<Option.Option<Sha256>, DownloadError> => {
  if (spec.digests.sha256 !== undefined) return Effect.succeed(Option.some(spec.digests.sha256 as string as Sha256))
  const [first] = Object.entries(spec.digests) as Array<[Algorithm, string]>
  return first === undefined ? Effect.succeed(Option.none()) : catalog.findByDigest(first[0], first[1])
}

/** An already stored and catalogued artifact that satisfies every expectation of the request. */
const findStored = (
  spec: DownloadSpec,
  storage: StorageService,
  catalog: CatalogService
): Effect.Effect<Option.Option<Artifact>, DownloadError> =>
  Effect.gen(function* () {
    const sha256 = yield* knownSha256(spec, catalog)
    if (Option.isNone(sha256)) return Option.none()
    const entry = yield* catalog.lookup(sha256.value)
    if (Option.isNone(entry)) return Option.none()
    const { artifact, locations } = entry.value
    if (spec.size !== undefined && artifact.size !== spec.size) return Option.none()
    for (const [algorithm, hex] of Object.entries(spec.digests) as Array<[Algorithm, string]>) {
      if (artifact.digests[algorithm] !== hex) return Option.none()
    }
    const here = locations.find((l) => l.store === storage.id && l.state === "ok")
    if (here === undefined) return Option.none()
    const stored = yield* storage.stat(artifact.sha256)
    if (Option.isNone(stored) || stored.value.size !== artifact.size) return Option.none()
    return Option.some(
      new Artifact({
        sha256: artifact.sha256,
        size: artifact.size,
        digests: artifact.digests,
        url: spec.url,
        finalUrl: spec.url,
        location: stored.value,
        cached: true
      })
    )
  })

/** One attempt, from the first byte, into the transfer. */
const attemptOnce = (transfer: Transfer) =>
  Effect.gen(function* () {
    yield* transfer.restart
    const settings = yield* DownloadConfig
    if (transfer.spec.scheme === "file:") {
      const files = yield* FileSource
      const file = yield* files.open(transfer.spec.url, 0)
      const expected = transfer.spec.size
      if (expected !== undefined && file.size > expected) {
        return yield* new SizeMismatch({ url: transfer.spec.url, expected, actual: file.size })
      }
      transfer.total = file.size
      transfer.touch("idle-read")
      yield* file.body.pipe(Stream.runForEachChunk((chunk) => transfer.accept([...chunk])))
      return yield* transfer.bytesEvent
    }
    const limiter = yield* ConnectionLimits
    return yield* fetchHttp(transfer, settings, limiter)
  })

/** Checks size and every expected digest; returns the computed digests. */
const verify = (transfer: Transfer): Effect.Effect<ComputedDigests, DownloadError> =>
  Effect.suspend((): Effect.Effect<ComputedDigests, DownloadError> => {
    const { spec } = transfer
    if (spec.size !== undefined && transfer.received !== spec.size) {
      return Effect.fail(new SizeMismatch({ url: transfer.finalUrl, expected: spec.size, actual: transfer.received }))
    }
    const computed = transfer.hash.digests()
    for (const [algorithm, expected] of Object.entries(spec.digests) as Array<[Algorithm, string]>) {
      const actual = computed[algorithm]!
      if (actual !== expected) {
        return Effect.fail(new DigestMismatch({ url: transfer.finalUrl, algorithm, expected, actual }))
      }
    }
    return Effect.succeed(computed as ComputedDigests)
  })

/**
 * Downloads one artifact, verifies it and stores and catalogs it. Returns at once, without any request,
 * when the artifact is already stored and catalogued with the expected digest.
 */
export const download = (
  input: DownloadRequestInput
): Effect.Effect<Artifact, DownloadError, HttpClient.HttpClient | Storage | Catalog | Progress> =>
  Effect.gen(function* () {
    const id = nextDownloadId()
    const progress = yield* Progress
    const url = String(input.url)
    return yield* Effect.gen(function* () {
      yield* progress.emit({ _tag: "Queued", id, url })
      const spec = yield* validateRequest(input)
      const storage = yield* Storage
      const catalog = yield* Catalog
      const existing = yield* findStored(spec, storage, catalog)
      if (Option.isSome(existing)) {
        const artifact = existing.value
        yield* progress.emit({ _tag: "Done", id, url, sha256: artifact.sha256, size: artifact.size, cached: true })
        return artifact
      }
      const settings = settingsForRemote(yield* DownloadConfig, spec.remote)
      const hasher = yield* Hasher
      return yield* Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          const transfer = new Transfer(id, spec, temp, hasher, progress)
          yield* progress.emit({ _tag: "Started", id, url, size: spec.size })
          const schedule = retrySchedule(settings, (attempt, error, delay) =>
            progress.emit({
              _tag: "Retrying",
              id,
              url,
              attempt,
              reason: `${error._tag}: ${error.message}`,
              delayMs: Duration.toMillis(delay)
            })
          )
          const digests = yield* Effect.zipRight(attemptOnce(transfer), verify(transfer)).pipe(
            Effect.retry({ schedule, while: isRetryable })
          )
          const sha256 = digests.sha256
          const size = transfer.received as ByteSize
          // Commit and record together: if the catalog refuses, an object this download created is removed again.
          const object = yield* Effect.uninterruptible(
            Effect.gen(function* () {
              const { object, created } = yield* temp.commit(sha256, size)
              yield* catalog
                .recordDownload({
                  sha256,
                  size,
                  digests,
                  store: object.store,
                  key: object.key,
                  url: spec.url,
                  finalUrl: transfer.finalUrl,
                  etag: transfer.etag,
                  lastModified: transfer.lastModified,
                  at: new Date()
                })
                .pipe(Effect.tapError(() => (created ? Effect.ignore(storage.remove(sha256)) : Effect.void)))
              return object
            })
          )
          yield* progress.emit({ _tag: "Done", id, url, sha256, size, cached: false })
          return new Artifact({ sha256, size, digests, url: spec.url, finalUrl: transfer.finalUrl, location: object, cached: false })
        })
      )
    }).pipe(
      Effect.tapError((error) =>
        progress.emit({ _tag: "Failed", id, url, error: { _tag: error._tag, message: error.message } })
      )
    )
  })
