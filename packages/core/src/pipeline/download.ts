/**
 * The download effect: validate, reuse what is stored, get verified bytes from the best source into a scoped temp
 * object, commit, catalog. Nothing partial survives a failure or an interruption. Concurrent downloads of the same
 * sha256 share one run (see coalesce.ts); several sources fail over (see sources.ts, failover.ts).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect, Option } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { type ArtifactKnowledge, Catalog, type CatalogService } from "../catalog/Catalog.js"
import type { CatalogEntry, DownloadRecord } from "../catalog/schema.js"
import { commitAndRecord, fetchedArtifact, fetchedBy } from "./commit.js"
import { Artifact } from "../domain/artifact.js"
import { digestEntries, Sha256 } from "../domain/digest.js"
import type { CatalogError, DownloadError, StorageError } from "../domain/errors.js"
import type { DownloadRequestInput, DownloadSpec } from "../domain/request.js"
import { Hasher } from "../hash/Hasher.js"
import { redactUrl } from "../http/userinfo.js"
import { Progress, type ProgressService } from "../progress/Progress.js"
import { Remotes, type RemotesService } from "../remote/Remotes.js"
import { type PendingSync, Storage, type StorageService, type TempObject } from "../storage/Storage.js"
import { annotate, recordOutcome, Telemetry } from "../telemetry/telemetry.js"
import { coalesce } from "./coalesce.js"
import { revalidationFor } from "./revalidate.js"
import { type PriorFailure, PriorAttempt } from "./failover.js"
import { deliver } from "./segments/index.js"
import { type Candidate, planSources, requestedCandidates } from "./sources.js"

let lastId = 0
/** A process-unique id for progress events. */
export const nextDownloadId = (): number => ++lastId

/** The sha256 the request pins down, directly or through another digest the catalog knows. */
const knownSha256 = (spec: DownloadSpec, catalog: CatalogService): Effect.Effect<Option.Option<Sha256>, DownloadError> => {
  if (spec.digests.sha256 !== undefined) return Effect.succeed(Option.some(Sha256.make(spec.digests.sha256)))
  const [first] = digestEntries(spec.digests)
  return first === undefined ? Effect.succeed(Option.none()) : catalog.findByDigest(first[0], first[1])
}

/**
 * What the store holds of the request's artifact: `reuse` when it is stored and catalogued and satisfies every
 * expectation of the request; else whether the stored copy is known good (the catalog marks this store's location
 * `ok` and the object has the right size). Only a known good copy may be kept at commit; any other is replaced.
 */
const findStored = (
  spec: DownloadSpec,
  entry: Option.Option<CatalogEntry>,
  storage: StorageService
): Effect.Effect<{ readonly reuse: Option.Option<Artifact>; readonly knownGood: boolean }, DownloadError> =>
  Effect.gen(function* () {
    const none = { reuse: Option.none<Artifact>(), knownGood: false }
    if (Option.isNone(entry)) return none
    const { artifact, locations } = entry.value
    const here = locations.find((l) => l.store === storage.id && l.state === "ok")
    if (here === undefined) return none
    const stored = yield* storage.stat(artifact.sha256)
    if (Option.isNone(stored) || stored.value.size !== artifact.size) return none
    const fetch = { reuse: Option.none<Artifact>(), knownGood: true }
    if (spec.size !== undefined && artifact.size !== spec.size) return fetch
    for (const [algorithm, hex] of digestEntries(spec.digests)) {
      if (artifact.digests[algorithm] !== hex) return fetch
    }
    // built from values already decoded (catalog rows, the store's answer): no second validation
    const reuse = new Artifact(
      {
        sha256: artifact.sha256,
        size: artifact.size,
        digests: artifact.digests,
        url: spec.url,
        finalUrl: spec.url,
        location: stored.value,
        cached: true
      },
      true
    )
    return { reuse: Option.some(reuse), knownGood: true }
  })

/** A committed download on its way to the catalog: its record, and the store's steps still to run before it. */
export interface FinishedCommit {
  readonly record: DownloadRecord
  /** Durability steps the store left to the caller (`CommitOptions.deferSync`): run them before the record. */
  readonly pending: ReadonlyArray<PendingSync>
}

/**
 * Makes a committed download durable and catalogued: runs its pending store steps, then writes its record. Only once
 * this succeeded may the download be reported (its bytes, its name in the store and its catalog row all durable).
 */
export type RecordDownload = (finished: FinishedCommit) => Effect.Effect<void, CatalogError | StorageError>

/** Runs the distinct steps of `pending` (by key), at once. */
export const runPendingSyncs = (pending: ReadonlyArray<PendingSync>): Effect.Effect<void, StorageError> =>
  pending.length === 0
    ? Effect.void
    : pending.length === 1
      ? pending[0]!.run
      : Effect.forEach(new Map(pending.map((p) => [p.key, p.run])).values(), (run) => run, {
          concurrency: "unbounded",
          discard: true
        })

/** One artifact at a time: its store steps, then its own catalog transaction. */
const recordAlone =
  (catalog: CatalogService): RecordDownload =>
  ({ record, pending }) =>
    Effect.zipRight(runPendingSyncs(pending), catalog.recordDownload(record))

export interface DownloadOptions {
  /**
   * Makes a finished download durable and writes its record; default: its store steps, then
   * `catalog.recordDownload`, one transaction per artifact. Batches pass a group commit (see batch/recorder.ts).
   * It runs between commit and return, uninterruptibly: when it fails, an object this download created is removed
   * again and the download fails with its error.
   */
  readonly record?: RecordDownload | undefined
  /**
   * What the catalog knew of the request's sha256 when a batch looked it up (`lookupMany`): used instead of a
   * `lookup` and a `sourcesFor` of this download's own. Only for a request that names its sha256.
   */
  readonly known?: ArtifactKnowledge | undefined
  /**
   * The progress id of a download the batch's fast lane started and hands over (fastLane.ts): its events go on
   * under that id, and `Queued` is not announced again.
   */
  readonly id?: number | undefined
  /**
   * The caller holds the sha256's coalescing claim (fastLane.ts) and settles it: this download runs on the
   * caller's fiber instead of joining or starting a shared run.
   */
  readonly claimed?: boolean | undefined
  /** The fast lane announced `Started` for this download already (it opened a temp object and sent a request). */
  readonly started?: boolean | undefined
  /** The fast lane's failed attempt, counted as this download's first at that URL (see failover.ts). */
  readonly prior?: PriorFailure | undefined
}

interface Context {
  readonly id: number
  readonly input: DownloadRequestInput
  readonly sources: NonEmptyReadonlyArray<Candidate>
  readonly storage: StorageService
  readonly catalog: CatalogService
  readonly remotes: RemotesService
  readonly progress: ProgressService
  readonly record: RecordDownload
  readonly known: ArtifactKnowledge | undefined
  /** Telemetry is on: spans around the commit and the record. */
  readonly tracing: boolean
  readonly started: boolean
  readonly prior: PriorAttempt | undefined
}

/** Everything after validation: reuse, fetch from the best source, commit and record. */
const fetchAndStore = (ctx: Context): Effect.Effect<Artifact, DownloadError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const { id, storage, catalog, progress } = ctx
    const spec = ctx.sources[0].spec
    const known = spec.digests.sha256 === undefined ? undefined : ctx.known
    const sha256 = yield* knownSha256(spec, catalog)
    const entry =
      known !== undefined
        ? known.entry
        : Option.isSome(sha256)
          ? yield* catalog.lookup(sha256.value)
          : Option.none<CatalogEntry>()
    const existing = yield* findStored(spec, entry, storage)
    if (Option.isSome(existing.reuse)) return existing.reuse.value
    // a copy not known good (corrupt, missing, uncatalogued, or an artifact not yet identified) is replaced
    const replace = !existing.knownGood
    const pinned = Option.getOrUndefined(sha256)
    const sources = yield* planSources(ctx.input, ctx.sources, pinned, catalog, ctx.remotes, known?.sources)
    const hasher = yield* Hasher
    // no digest pinned: ask the URL whether what the catalog has from it changed (a 304 reads no body)
    const revalidation = pinned === undefined ? Option.getOrUndefined(yield* revalidationFor(spec, catalog, storage)) : undefined
    const body = (temp: TempObject) =>
      Effect.gen(function* () {
        if (!ctx.started) yield* progress.emit({ _tag: "Started", id, url: spec.url, size: spec.size })
        const delivered = yield* deliver(
          sources,
          { id, temp, hasher, progress, catalog, sha256: pinned, revalidation, prior: ctx.prior },
          ctx.input
        )
        if (delivered.transfer.notModified && revalidation !== undefined) return revalidation.artifact
        const { transfer, digests, source } = delivered
        const sha256 = digests.sha256
        const fetched = fetchedBy(transfer, digests, {
          url: source.spec.url,
          remote: source.remote?.name,
          priority: source.declaredPriority
        })
        const object = yield* commitAndRecord(storage, temp, fetched, ctx.record, { replace, tracing: ctx.tracing })
        // the request's other sources become known to the catalog: the next download of this artifact can use them
        const others = ctx.sources.filter((c) => c !== source)
        if (others.length > 0) {
          yield* Effect.ignore(
            catalog.addSources(
              sha256,
              others.map((c) => ({ url: c.spec.url, priority: c.priority, remote: c.remote?.name }))
            )
          )
        }
        return fetchedArtifact(spec.url, fetched, object)
      })
    // a bracket where the store offers one: a scope per download costs several times as much (see Storage.open)
    const open = storage.open
    return yield* open !== undefined
      ? Effect.acquireUseRelease(open, ({ temp }) => body(temp), ({ release }) => release)
      : Effect.scoped(Effect.flatMap(storage.begin, body))
  })

/**
 * Downloads one artifact, verifies it and stores and catalogs it. Returns at once, without any request,
 * when the artifact is already stored and catalogued with the expected digest. With `options.record`, the
 * catalog write goes through the given writer (batches group them).
 */
export const downloadWith = (
  input: DownloadRequestInput,
  options: DownloadOptions = {}
): Effect.Effect<Artifact, DownloadError, HttpClient.HttpClient | Storage | Catalog | Remotes | Progress> =>
  Effect.gen(function* () {
    const id = options.id ?? nextDownloadId()
    const progress = yield* Progress
    const telemetry = yield* Telemetry
    const url = redactUrl(input.url)
    const run = Effect.gen(function* () {
      // a download the fast lane handed over was announced there already
      if (options.id === undefined) yield* progress.emit({ _tag: "Queued", id, url })
      const sources = yield* requestedCandidates(input)
      const storage = yield* Storage
      const catalog = yield* Catalog
      const remotes = yield* Remotes
      const ctx: Context = {
        id,
        input,
        sources,
        storage,
        catalog,
        remotes,
        progress,
        record: options.record ?? recordAlone(catalog),
        known: options.known,
        tracing: telemetry.enabled,
        started: options.started === true,
        prior: options.prior === undefined ? undefined : new PriorAttempt(options.prior)
      }
      const pinned = sources[0].spec.digests.sha256
      const artifact =
        pinned === undefined || options.claimed === true
          ? yield* fetchAndStore(ctx)
          : yield* Effect.map(coalesce(storage, pinned, fetchAndStore(ctx)), ({ artifact, joined }) =>
              joined ? new Artifact({ ...artifact, url: sources[0].spec.url, cached: true }, true) : artifact
            )
      yield* progress.emit({ _tag: "Done", id, url, sha256: artifact.sha256, size: artifact.size, cached: artifact.cached })
      return artifact
    }).pipe(
      Effect.tapError((error) =>
        progress.emit({ _tag: "Failed", id, url, error: { _tag: error._tag, message: error.message } })
      )
    )
    return yield* telemetry.enabled ? instrumented(run, url) : run
  })

/** A download in its span, with its outcome, bytes and duration counted (telemetry on). */
const instrumented = <R>(run: Effect.Effect<Artifact, DownloadError, R>, url: string) =>
  Effect.suspend(() => {
    const started = Date.now()
    const seconds = () => (Date.now() - started) / 1000
    return run.pipe(
      Effect.tap((artifact) =>
        Effect.zipRight(
          annotate({ "cargohold.sha256": artifact.sha256, "cargohold.size": artifact.size }),
          recordOutcome(artifact.cached ? "cached" : "downloaded", seconds(), artifact.size)
        )
      ),
      Effect.tapError((error) => recordOutcome("failed", seconds(), 0, error._tag)),
      Effect.withSpan("cargohold.download", { attributes: { "url.full": url } })
    )
  })

/**
 * Downloads one artifact, verifies it and stores and catalogs it. Returns at once, without any request,
 * when the artifact is already stored and catalogued with the expected digest.
 */
export const download = (
  input: DownloadRequestInput
): Effect.Effect<Artifact, DownloadError, HttpClient.HttpClient | Storage | Catalog | Remotes | Progress> => downloadWith(input)
