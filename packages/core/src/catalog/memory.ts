/**
 * An in-memory Catalog (and the Remotes kept beside it): the reference behaviour the SQL backends are tested against, and a stub for users' tests.
 */
import { Array as Arr, Context, Effect, Layer, Option, Order, Ref } from "effect"
import { Sha256 } from "../domain/digest.js"
import type { Remote } from "../remote/Remote.js"
import { Remotes, type RemotesService } from "../remote/Remotes.js"
import { type ArtifactKnowledge, Catalog, type CatalogService, makeCatalog } from "./Catalog.js"
import { locationOrder, sourceOrder } from "./ordering.js"
import {
  type ArtifactRow,
  type CatalogEntry,
  type DownloadRecord,
  defaultPriority,
  type LocationRow,
  type ProvenanceRow,
  type SourceRow
} from "./schema.js"

/** A source as kept: without a priority of its own it takes its remote's, else the default. */
type StoredSource = Omit<SourceRow, "priority"> & { readonly priority?: number | undefined }

interface State {
  readonly artifacts: Map<string, ArtifactRow>
  /** sha256 → store → location */
  readonly locations: Map<string, Map<string, LocationRow>>
  /** sha256 → url → source */
  readonly sources: Map<string, Map<string, StoredSource>>
  readonly provenance: Array<ProvenanceRow>
  /** url → sha256, most recent */
  readonly urls: Map<string, Sha256>
  readonly remotes: Map<string, Remote>
}

const newSource = (sha256: Sha256, url: string): StoredSource => ({ sha256, url, consecutiveFailures: 0 })

const effective = (state: State, source: StoredSource): SourceRow => ({
  ...source,
  priority:
    source.priority ??
    (source.remote === undefined ? undefined : state.remotes.get(source.remote)?.priority) ??
    defaultPriority
})

const sourcesOf = (state: State, sha256: string): ReadonlyArray<SourceRow> =>
  Arr.sort(
    [...(state.sources.get(sha256)?.values() ?? [])].map((s) => effective(state, s)),
    sourceOrder
  )

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
  // a kept copy was not verified by this download: its location keeps what the catalog knew (see DownloadRecord)
  const kept = r.kept === true
  locations.set(r.store, {
    sha256: r.sha256,
    store: r.store,
    key: r.key,
    storedAt: location?.storedAt ?? r.at,
    verifiedAt: kept ? location?.verifiedAt : r.at,
    state: kept ? (location?.state ?? "ok") : "ok"
  })
  state.locations.set(r.sha256, locations)
  const sources = state.sources.get(r.sha256) ?? new Map<string, StoredSource>()
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
    tlsFingerprint: r.tlsFingerprint,
    protocol: r.protocol
  })
  state.urls.set(r.url, r.sha256)
  state.urls.set(r.finalUrl, r.sha256)
}

/** Among sources at one URL, the one most recently successful (then the smallest sha256). */
const declaredAt = Order.combine(
  Order.reverse(Order.mapInput(Order.number, (s: StoredSource) => s.lastSuccess?.getTime() ?? 0)),
  Order.mapInput(Order.string, (s: StoredSource) => s.sha256)
)

export interface MemoryCatalog extends CatalogService {
  /** Every provenance row, oldest first. */
  readonly provenance: Effect.Effect<ReadonlyArray<ProvenanceRow>>
  /** The remotes kept beside it (their priorities rank the sources naming them). */
  readonly remotes: RemotesService
}

export const makeMemoryCatalog: Effect.Effect<MemoryCatalog> = Effect.gen(function* () {
  const ref = yield* Ref.make<State>({
    artifacts: new Map(),
    locations: new Map(),
    sources: new Map(),
    provenance: [],
    urls: new Map(),
    remotes: new Map()
  })
  const mutate = (f: (state: State) => void) => Ref.get(ref).pipe(Effect.map(f))
  const read = <A>(f: (state: State) => A) => Ref.get(ref).pipe(Effect.map(f))
  const entry = (state: State, sha256: Sha256): Option.Option<CatalogEntry> =>
    Option.fromNullable(state.artifacts.get(sha256)).pipe(
      Option.map((artifact) => ({
        artifact,
        locations: Arr.sort([...(state.locations.get(sha256)?.values() ?? [])], locationOrder),
        sources: sourcesOf(state, sha256)
      }))
    )
  const catalog = makeCatalog({
    recordDownload: (r) => mutate((state) => applyRecord(state, r)),
    recordDownloads: (records) =>
      mutate((state) => {
        for (const r of records) applyRecord(state, r)
      }),
    lookup: (sha256) => read((state) => entry(state, sha256)),
    lookupMany: (sha256s) =>
      read((state) => {
        const known = new Map<Sha256, ArtifactKnowledge>()
        for (const sha256 of sha256s) {
          const found = entry(state, sha256)
          const sources = Option.isSome(found) ? found.value.sources : sourcesOf(state, sha256)
          if (Option.isSome(found) || sources.length > 0) known.set(sha256, { entry: found, sources })
        }
        return known
      }),
    findByDigest: (algorithm, hex) =>
      read((state) => {
        const needle = hex.toLowerCase()
        let found: Sha256 | undefined
        for (const artifact of state.artifacts.values()) {
          if (artifact.digests[algorithm] === needle && (found === undefined || artifact.sha256 < found)) {
            found = artifact.sha256
          }
        }
        return Option.fromNullable(found)
      }),
    findByUrl: (url) =>
      read((state) => {
        const fetched = state.urls.get(url)
        if (fetched !== undefined) return Option.some(fetched)
        const declared: Array<StoredSource> = []
        for (const sources of state.sources.values()) {
          const source = sources.get(url)
          if (source !== undefined) declared.push(source)
        }
        return Arr.head(Arr.sort(declared, declaredAt)).pipe(Option.map((s) => s.sha256))
      }),
    addSources: (sha256, declarations) =>
      mutate((state) => {
        const sources = state.sources.get(sha256) ?? new Map<string, StoredSource>()
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
          const sources = state.sources.get(sha256) ?? new Map<string, StoredSource>()
          const source = sources.get(failure.url) ?? newSource(Sha256.make(sha256), failure.url)
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
    addLocation: ({ sha256, store, key, at }) =>
      mutate((state) => {
        if (!state.artifacts.has(sha256)) return
        const locations = state.locations.get(sha256) ?? new Map<string, LocationRow>()
        const location = locations.get(store)
        locations.set(store, { sha256, store, key, storedAt: location?.storedAt ?? at, verifiedAt: at, state: "ok" })
        state.locations.set(sha256, locations)
      }),
    removeLocation: (sha256, store) =>
      mutate((state) => {
        state.locations.get(sha256)?.delete(store)
      }),
    sourcesFor: (sha256) => read((state) => sourcesOf(state, sha256)),
    locationsToVerify: (options) =>
      read((state) => {
        const due: Array<LocationRow> = []
        for (const locations of state.locations.values()) {
          for (const l of locations.values()) {
            if (options?.store !== undefined && l.store !== options.store) continue
            if (options?.olderThan !== undefined && l.verifiedAt !== undefined && l.verifiedAt >= options.olderThan) {
              continue
            }
            due.push(l)
          }
        }
        const sorted = Arr.sort(due, locationOrder)
        return options?.limit === undefined ? sorted : sorted.slice(0, Math.max(0, options.limit))
      }),
    count: () => read((state) => state.artifacts.size),
    list: (options) =>
      read((state) => {
        const all = [...state.artifacts.values()].sort(
          (a, b) => b.firstSeen.getTime() - a.firstSeen.getTime() || (a.sha256 < b.sha256 ? -1 : 1)
        )
        const offset = options?.offset ?? 0
        return all.slice(offset, options?.limit === undefined ? undefined : offset + options.limit)
      }),
    provenanceOf: (sha256, limit = 10) =>
      read((state) => state.provenance.filter((p) => p.sha256 === sha256).reverse().slice(0, limit))
  })
  const remotes: RemotesService = {
    put: (remote) =>
      mutate((state) => {
        state.remotes.set(remote.name, remote)
      }),
    get: (name) => read((state) => Option.fromNullable(state.remotes.get(name))),
    list: () =>
      read((state) => [...state.remotes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))),
    remove: (name) => read((state) => state.remotes.delete(name))
  }
  return { ...catalog, provenance: read((state) => [...state.provenance]), remotes } satisfies MemoryCatalog
})

/** The Catalog and the Remotes of one in-memory catalog, as a context (for layers that add more beside them). */
export const memoryCatalogContext = (catalog: MemoryCatalog): Context.Context<Catalog | Remotes> =>
  Context.make(Catalog, catalog).pipe(Context.add(Remotes, catalog.remotes))

/** A fresh in-memory Catalog, with its Remotes, per layer build. */
export const layerMemoryCatalog: Layer.Layer<Catalog | Remotes> = Layer.effectContext(
  Effect.map(makeMemoryCatalog, memoryCatalogContext)
)
