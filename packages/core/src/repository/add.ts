/**
 * Adding units from what the rest of cargohold produces: `fetchMany` results, a repository manifest (fetched first,
 * or declared on demand). The service itself only records units; these say where their artifacts come from.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect, Stream } from "effect"
import type { BatchResult } from "../batch/fetchMany.js"
import { fetchMany, type BatchOptions } from "../batch/fetchMany.js"
import { Catalog } from "../catalog/Catalog.js"
import type { SourceDeclaration } from "../catalog/schema.js"
import type { Artifact } from "../domain/artifact.js"
import type { CatalogError } from "../domain/errors.js"
import type { Progress } from "../progress/Progress.js"
import type { Remotes } from "../remote/Remotes.js"
import type { Storage } from "../storage/Storage.js"
import type { InvalidUnit, RepositoryNotFound } from "./errors.js"
import type { RepositoryManifestEntry } from "./manifest.js"
import { Repositories } from "./Repositories.js"
import type { JsonValue, RepositoryName, UnitInput, VersionChange } from "./schema.js"
import { checkUnits } from "./units.js"

/** A fetched artifact and where it goes. */
export interface FetchedUnit {
  readonly path: string
  readonly artifact: Artifact
  readonly metadata?: JsonValue | undefined
}

/** The unit a fetched artifact makes. */
export const unitOfArtifact = (fetched: FetchedUnit): UnitInput => ({
  path: fetched.path,
  sha256: fetched.artifact.sha256,
  size: fetched.artifact.size,
  digests: fetched.artifact.digests,
  metadata: fetched.metadata
})

/** Adds fetched artifacts (e.g. the `Ok` results of `fetchMany`) as units, in one new version. */
export const addFetched = (
  name: RepositoryName,
  fetched: ReadonlyArray<FetchedUnit>
): Effect.Effect<VersionChange, RepositoryNotFound | InvalidUnit | CatalogError, Repositories> =>
  Effect.flatMap(Repositories, (repositories) => repositories.addUnits(name, fetched.map(unitOfArtifact)))

/** An on-demand unit: its digests and size, and the sources its bytes will be fetched from when first asked for. */
export interface OnDemandUnit extends UnitInput {
  readonly sources: ReadonlyArray<SourceDeclaration>
}

/**
 * Declares units without downloading them: their sources go into the catalog (`addSources`), the units into a new
 * version. Everything is checked first; a bad unit fails the whole call before anything is written.
 */
export const addOnDemand = (
  name: RepositoryName,
  units: ReadonlyArray<OnDemandUnit>
): Effect.Effect<VersionChange, RepositoryNotFound | InvalidUnit | CatalogError, Repositories | Catalog> =>
  Effect.gen(function* () {
    const repositories = yield* Repositories
    const catalog = yield* Catalog
    yield* repositories.version(name, "latest").pipe(Effect.catchTag("VersionNotFound", () => Effect.void))
    const checked = yield* checkUnits(units)
    const sourcesOf = new Map(units.map((u) => [u.sha256.trim().toLowerCase(), u.sources]))
    for (const unit of checked) {
      const sources = sourcesOf.get(unit.sha256) ?? []
      if (sources.length > 0) yield* catalog.addSources(unit.sha256, sources)
    }
    return yield* repositories.addUnits(name, checked)
  })

/** The on-demand unit a manifest entry declares (its URL and mirrors become its sources). */
export const onDemandOfEntry = (entry: RepositoryManifestEntry): OnDemandUnit => {
  const { request } = entry
  const urls: Array<SourceDeclaration> = [
    { url: String(request.url), priority: request.priority, remote: request.remote?.name },
    ...(request.sources ?? []).map((s) => ({ url: String(s.url), priority: s.priority, remote: (s.remote ?? request.remote)?.name }))
  ]
  return {
    path: entry.path,
    sha256: request.sha256 ?? request.digests?.sha256 ?? "",
    size: request.size ?? -1,
    digests: request.digests,
    metadata: entry.metadata,
    sources: urls.map((s) => ({
      url: new URL(s.url, request.remote?.url).href,
      ...(s.priority === undefined ? {} : { priority: s.priority }),
      ...(s.remote === undefined ? {} : { remote: s.remote })
    }))
  }
}

/** What `fetchAndAdd` did: the version made (when anything was fetched) and every artifact's result. */
export interface FetchAndAddResult {
  readonly change: VersionChange | undefined
  readonly results: ReadonlyArray<BatchResult>
}

/**
 * Fetches every entry's artifact (`fetchMany`: bounded, coalesced, verified, stored, catalogued), then adds those
 * that arrived as units in one new version. An artifact that failed is not added; its result says why.
 * `onResult` sees each result as it comes (progress lines, `--json`).
 */
export const fetchAndAdd = <E = never, R = never>(
  name: RepositoryName,
  entries: ReadonlyArray<RepositoryManifestEntry>,
  options: BatchOptions & { readonly onResult?: ((result: BatchResult) => Effect.Effect<void, E, R>) | undefined } = {}
): Effect.Effect<
  FetchAndAddResult,
  RepositoryNotFound | InvalidUnit | CatalogError | E,
  Repositories | HttpClient.HttpClient | Storage | Catalog | Remotes | Progress | R
> =>
  Effect.gen(function* () {
    const repositories = yield* Repositories
    yield* repositories.version(name, "latest").pipe(Effect.catchTag("VersionNotFound", () => Effect.void))
    // the paths are checked before anything is downloaded
    yield* checkUnits(entries.map((e) => ({ path: e.path, sha256: "0".repeat(64), size: 0, metadata: e.metadata })))
    const results: Array<BatchResult> = []
    yield* fetchMany(Stream.fromIterable(entries.map((e) => e.request)), { ...options, total: options.total ?? entries.length }).pipe(
      Stream.runForEach((result) => {
        results.push(result)
        return options.onResult === undefined ? Effect.void : options.onResult(result)
      })
    )
    results.sort((a, b) => a.index - b.index)
    const fetched: Array<FetchedUnit> = []
    for (const result of results) {
      if (result._tag !== "Ok") continue
      const entry = entries[result.index]!
      fetched.push({ path: entry.path, artifact: result.artifact, metadata: entry.metadata })
    }
    const change = fetched.length === 0 ? undefined : yield* repositories.addUnits(name, fetched.map(unitOfArtifact))
    return { change, results }
  })
