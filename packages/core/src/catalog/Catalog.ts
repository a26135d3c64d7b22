/**
 * The Catalog service: every artifact, every place it is stored, every place it can come from. The named remotes
 * a source may refer to are the Remotes service (remote/Remotes.ts), kept by the same backends.
 */
import { Context, Effect, Option } from "effect"
import type { Algorithm, Sha256 } from "../domain/digest.js"
import type { CatalogError } from "../domain/errors.js"
import type {
  ArtifactRow,
  CatalogEntry,
  DownloadRecord,
  LocationRow,
  LocationState,
  LocationsToVerify,
  ProvenanceRow,
  SourceDeclaration,
  SourceFailure,
  SourceRow
} from "./schema.js"

/** What a download needs to know of one artifact before it starts: its entry (when downloaded) and its sources. */
export interface ArtifactKnowledge {
  /** As `lookup` answers it. */
  readonly entry: Option.Option<CatalogEntry>
  /** As `sourcesFor` answers it (declared or fetched sources, best first). */
  readonly sources: ReadonlyArray<SourceRow>
}

export interface CatalogService {
  /** Records a completed download: artifact, location, source success and provenance, atomically and idempotently. */
  readonly recordDownload: (record: DownloadRecord) => Effect.Effect<void, CatalogError>
  /** Records many completed downloads in as few transactions as the backend allows. */
  readonly recordDownloads: (records: ReadonlyArray<DownloadRecord>) => Effect.Effect<void, CatalogError>
  /** Everything known about one artifact. */
  readonly lookup: (sha256: Sha256) => Effect.Effect<Option.Option<CatalogEntry>, CatalogError>
  /**
   * `lookup` and `sourcesFor` of many artifacts in one call (batches look their requests up in groups). The map has
   * a key for each sha256 the catalog knows anything about; a missing key means no entry and no sources.
   * Derived by `makeCatalog` from `lookup` and `sourcesFor` for a backend that has no faster way.
   */
  readonly lookupMany: (
    sha256s: ReadonlyArray<Sha256>
  ) => Effect.Effect<ReadonlyMap<Sha256, ArtifactKnowledge>, CatalogError>
  /**
   * The latest completed downloads of one artifact (newest first, at most `limit`, default 10): URL, peer address,
   * TLS fingerprint, protocol. `makeCatalog` gives a backend that keeps no history an empty one.
   */
  readonly provenanceOf: (
    sha256: Sha256,
    limit?: number
  ) => Effect.Effect<ReadonlyArray<ProvenanceRow>, CatalogError>
  /** The artifact with this digest, by any algorithm. */
  readonly findByDigest: (algorithm: Algorithm, hex: string) => Effect.Effect<Option.Option<Sha256>, CatalogError>
  /** The artifact most recently fetched from this URL (asked for or final). */
  readonly findByUrl: (url: string) => Effect.Effect<Option.Option<Sha256>, CatalogError>
  /** Declares places an artifact can be had from, without downloading (idempotent per URL). */
  readonly addSources: (
    sha256: Sha256,
    sources: ReadonlyArray<SourceDeclaration>
  ) => Effect.Effect<void, CatalogError>
  /** Marks a failed attempt at a source (and what it served, when it disagreed). */
  readonly recordFailure: (failure: SourceFailure) => Effect.Effect<void, CatalogError>
  /** Updates a location after verification. */
  readonly setLocationState: (
    sha256: Sha256,
    store: string,
    state: LocationState,
    verifiedAt: Date
  ) => Effect.Effect<void, CatalogError>
  /**
   * Records a verified copy of an already catalogued artifact in another store (replication, repair from a replica):
   * state `ok`, `verifiedAt` = `at`. Idempotent per (sha256, store); keeps `storedAt` of an existing row; does nothing
   * for an artifact the catalog does not know.
   */
  readonly addLocation: (location: {
    readonly sha256: Sha256
    readonly store: string
    readonly key: string
    readonly at: Date
  }) => Effect.Effect<void, CatalogError>
  /** Forgets one location of an artifact. */
  readonly removeLocation: (sha256: Sha256, store: string) => Effect.Effect<void, CatalogError>
  /**
   * Every place an artifact can come from (declared or fetched, known artifact or not), best first:
   * priority (the source's own, else its remote's, else the default) descending, then health (see ordering.ts).
   */
  readonly sourcesFor: (sha256: Sha256) => Effect.Effect<ReadonlyArray<SourceRow>, CatalogError>
  /** Locations due for verification: never verified first, then oldest `verifiedAt` first. */
  readonly locationsToVerify: (options?: LocationsToVerify) => Effect.Effect<ReadonlyArray<LocationRow>, CatalogError>
  /** Number of artifacts known. */
  readonly count: () => Effect.Effect<number, CatalogError>
  /** Artifacts, newest first. */
  readonly list: (options?: {
    readonly limit?: number
    readonly offset?: number
  }) => Effect.Effect<ReadonlyArray<ArtifactRow>, CatalogError>
}

export class Catalog extends Context.Tag("@cargohold/core/Catalog")<Catalog, CatalogService>() {}

/** What a backend writes: every method, but those `makeCatalog` can derive are optional. */
export type CatalogImplementation = Omit<CatalogService, "lookupMany" | "provenanceOf"> &
  Partial<Pick<CatalogService, "lookupMany" | "provenanceOf">>

/** Look-ups of a derived `lookupMany` in flight at once. */
const derivedLookupConcurrency = 8

/** A whole `CatalogService` from a backend's methods: the derived ones filled in where the backend has none. */
export const makeCatalog = (implementation: CatalogImplementation): CatalogService => ({
  ...implementation,
  provenanceOf: implementation.provenanceOf ?? (() => Effect.succeed([])),
  lookupMany:
    implementation.lookupMany ??
    ((sha256s) =>
      Effect.map(
        Effect.forEach(
          sha256s,
          (sha256) =>
            Effect.map(Effect.all([implementation.lookup(sha256), implementation.sourcesFor(sha256)]), ([entry, sources]) =>
              [sha256, { entry, sources }] as const
            ),
          { concurrency: derivedLookupConcurrency }
        ),
        (answers) =>
          new Map(answers.filter(([, known]) => Option.isSome(known.entry) || known.sources.length > 0))
      ))
})
