/**
 * An in-memory Catalog: the reference behaviour the SQL backends are tested against, and a stub for users' tests.
 */
import { Array as Arr, Effect, Layer, Option, Ref } from "effect"
import type { Sha256 } from "../domain/digest.js"
import { Catalog, type CatalogService } from "./Catalog.js"
import { sourceOrder } from "./ordering.js"
import {
  type ArtifactRow,
  type CatalogEntry,
  type DownloadRecord,
  defaultPriority,
  type LocationRow,
  type ProvenanceRow,
  type SourceRow
} from "./schema.js"

interface State {
  readonly artifacts: Map<string, ArtifactRow>
  /** sha256 → store → location */
  readonly locations: Map<string, Map<string, LocationRow>>
  /** sha256 → url → source */
  readonly sources: Map<string, Map<string, SourceRow>>
  readonly provenance: Array<ProvenanceRow>
  /** url → sha256, most recent */
  readonly urls: Map<string, Sha256>
}

const newSource = (sha256: Sha256, url: string): SourceRow => ({
  sha256,
  url,
  priority: defaultPriority,
  consecutiveFailures: 0
})

const applyRecord = (state: State, r: DownloadRecord) => {
  const existing = state.artifacts.get(r.sha256)
  state.artifacts.set(r.sha256, {
    sha256: r.sha256,
    size: r.size,
    digests: { ...existing?.digests, ...r.digests },
    firstSeen: existing?.firstSeen ?? r.at
  })
  const locations = state.locations.get(r.sha256) ?? new Map<string, LocationRow>()
  const location = locations.get(r.store)
  locations.set(r.store, {
    sha256: r.sha256,
    store: r.store,
    key: r.key,
    storedAt: location?.storedAt ?? r.at,
    verifiedAt: r.at,
    state: "ok"
  })
  state.locations.set(r.sha256, locations)
  const sources = state.sources.get(r.sha256) ?? new Map<string, SourceRow>()
  const source = sources.get(r.url) ?? newSource(r.sha256, r.url)
  sources.set(r.url, {
    ...source,
    remote: r.remote ?? source.remote,
    priority: r.priority ?? source.priority,
    lastSuccess: r.at,
    consecutiveFailures: 0,
    etag: r.etag ?? source.etag,
    lastModified: r.lastModified ?? source.lastModified
  })
  state.sources.set(r.sha256, sources)
  state.provenance.push({
    sha256: r.sha256,
    url: r.url,
    finalUrl: r.finalUrl,
    remote: r.remote,
    at: r.at,
    bytes: r.size,
    etag: r.etag,
    peerAddress: r.peerAddress,
    tlsFingerprint: r.tlsFingerprint
  })
  state.urls.set(r.url, r.sha256)
  state.urls.set(r.finalUrl, r.sha256)
}

export interface MemoryCatalog extends CatalogService {
  /** Every provenance row, oldest first. */
  readonly provenance: Effect.Effect<ReadonlyArray<ProvenanceRow>>
}

export const makeMemoryCatalog: Effect.Effect<MemoryCatalog> = Effect.gen(function* () {
  const ref = yield* Ref.make<State>({
    artifacts: new Map(),
    locations: new Map(),
    sources: new Map(),
    provenance: [],
    urls: new Map()
  })
  const mutate = (f: (state: State) => void) => Ref.get(ref).pipe(Effect.map(f))
  const read = <A>(f: (state: State) => A) => Ref.get(ref).pipe(Effect.map(f))
  const entry = (state: State, sha256: Sha256): Option.Option<CatalogEntry> =>
    Option.fromNullable(state.artifacts.get(sha256)).pipe(
      Option.map((artifact) => ({
        artifact,
        locations: [...(state.locations.get(sha256)?.values() ?? [])],
        sources: Arr.sort([...(state.sources.get(sha256)?.values() ?? [])], sourceOrder)
      }))
    )
  const service: MemoryCatalog = {
    recordDownload: (r) => mutate((state) => applyRecord(state, r)),
    recordDownloads: (records) =>
      mutate((state) => {
        for (const r of records) applyRecord(state, r)
      }),
    lookup: (sha256) => read((state) => entry(state, sha256)),
    findByDigest: (algorithm, hex) =>
      read((state) => {
        const needle = hex.toLowerCase()
        for (const artifact of state.artifacts.values()) {
          if (artifact.digests[algorithm] === needle) return Option.some(artifact.sha256)
        }
        return Option.none()
      }),
    findByUrl: (url) => read((state) => Option.fromNullable(state.urls.get(url))),
    addSources: (sha256, declarations) =>
      mutate((state) => {
        const sources = state.sources.get(sha256) ?? new Map<string, SourceRow>()
        for (const d of declarations) {
          const source = sources.get(d.url) ?? newSource(sha256, d.url)
          sources.set(d.url, {
            ...source,
            priority: d.priority ?? source.priority,
            remote: d.remote ?? source.remote
          })
        }
        state.sources.set(sha256, sources)
      }),
    recordFailure: (failure) =>
      mutate((state) => {
        const targets =
          failure.sha256 !== undefined
            ? [failure.sha256]
            : [...state.sources.entries()].filter(([, m]) => m.has(failure.url)).map(([sha]) => sha)
        for (const sha256 of targets) {
          const sources = state.sources.get(sha256) ?? new Map<string, SourceRow>()
          const source = sources.get(failure.url) ?? newSource(sha256 as Sha256, failure.url)
          sources.set(failure.url, {
            ...source,
            lastFailure: failure.at,
            consecutiveFailures: source.consecutiveFailures + 1,
            lastErrorTag: failure.errorTag,
            servedSha256: failure.servedSha256 ?? source.servedSha256
          })
          state.sources.set(sha256, sources)
        }
      }),
    setLocationState: (sha256, store, locationState, verifiedAt) =>
      mutate((state) => {
        const location = state.locations.get(sha256)?.get(store)
        if (location !== undefined) {
          state.locations.get(sha256)!.set(store, { ...location, state: locationState, verifiedAt })
        }
      }),
    removeLocation: (sha256, store) =>
      mutate((state) => {
        state.locations.get(sha256)?.delete(store)
      }),
    list: (options) =>
      read((state) => {
        const all = [...state.artifacts.values()].sort((a, b) => b.firstSeen.getTime() - a.firstSeen.getTime())
        const offset = options?.offset ?? 0
        return all.slice(offset, options?.limit === undefined ? undefined : offset + options.limit)
      }),
    provenance: read((state) => [...state.provenance])
  }
  return service
})

/** A fresh in-memory Catalog per layer build. */
export const layerMemoryCatalog: Layer.Layer<Catalog> = Layer.effect(Catalog, makeMemoryCatalog)
