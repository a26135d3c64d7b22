/**
 * Recording downloads: a batch is merged in memory (one row per artifact, per location, per source, exactly as
 * recording the records one by one would leave them), sorted by key (so concurrent PostgreSQL writers lock rows in
 * the same order and never deadlock), then written with one bulk upsert per table (per 5,000 rows).
 */
import type { DownloadRecord } from "@cargohold/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Array as Arr, Effect } from "effect"
import { type Cell, dialectOf } from "./dialect.js"
import { hexOfBytes } from "./rows.js"

interface ArtifactInsert {
  sha256: string
  size: number
  sha384: string | null
  sha512: string | null
  sha1: string | null
  md5: string | null
  first_seen: number
}
interface LocationInsert {
  sha256: string
  store: string
  key: string
  stored_at: number
  /** Null for a copy the store kept (see DownloadRecord.kept): the row keeps its verification and state. */
  verified_at: number | null
  state: "ok"
}
interface SourceInsert {
  sha256: string
  url: string
  remote: string | null
  priority: number | null
  last_success: number
  consecutive_failures: 0
  etag: string | null
  last_modified: string | null
}
interface ProvenanceInsert {
  sha256: string
  url: string
  final_url: string | null
  remote: string | null
  at: number
  bytes: number
  etag: string | null
  peer_address: string | null
  tls_fingerprint: string | null
  protocol: string | null
}

export interface Batch {
  readonly artifacts: ReadonlyArray<ArtifactInsert>
  readonly locations: ReadonlyArray<LocationInsert>
  readonly sources: ReadonlyArray<SourceInsert>
  readonly provenance: ReadonlyArray<ProvenanceInsert>
}

const or = <A>(later: A | undefined, earlier: A | null): A | null => (later === undefined ? earlier : later)
/** The values of a keyed map, sorted by key. */
const sortedValues = <A>(map: Map<string, A>): Array<A> =>
  [...map.keys()].sort().map((k) => map.get(k)!)

const artifactOf = (r: DownloadRecord, at: number): ArtifactInsert => ({
  sha256: r.sha256,
  size: r.size,
  sha384: r.digests.sha384 ?? null,
  sha512: r.digests.sha512 ?? null,
  sha1: r.digests.sha1 ?? null,
  md5: r.digests.md5 ?? null,
  first_seen: at
})
const locationOf = (r: DownloadRecord, at: number): LocationInsert => ({
  sha256: r.sha256,
  store: r.store,
  key: r.key,
  stored_at: at,
  verified_at: r.kept === true ? null : at,
  state: "ok"
})
const sourceOf = (r: DownloadRecord, at: number): SourceInsert => ({
  sha256: r.sha256,
  url: r.url,
  remote: r.remote ?? null,
  priority: r.priority ?? null,
  last_success: at,
  consecutive_failures: 0,
  etag: r.etag ?? null,
  last_modified: r.lastModified ?? null
})
const provenanceOf = (r: DownloadRecord): ProvenanceInsert => ({
  sha256: r.sha256,
  url: r.url,
  final_url: r.finalUrl === r.url ? null : r.finalUrl,
  remote: r.remote ?? null,
  at: r.at.getTime(),
  bytes: r.size,
  etag: r.etag ?? null,
  peer_address: r.peerAddress ?? null,
  tls_fingerprint: r.tlsFingerprint ?? null,
  protocol: r.protocol ?? null
})

/**
 * Merges a batch the way applying its records in order would. Rows come sorted by key when `sorted` is set (what
 * concurrent PostgreSQL writers need); SQLite has one writer at a time and keeps the caller's order, which is often
 * the order of URLs and so friendlier to the URL indexes. A batch without a repeated artifact (the usual case)
 * takes a fast path: nothing to merge.
 */
export const planBatch = (records: ReadonlyArray<DownloadRecord>, sorted: boolean): Batch => {
  const seen = new Set<string>()
  for (const r of records) {
    if (seen.has(r.sha256)) return mergeBatch(records)
    seen.add(r.sha256)
  }
  const ordered = sorted ? [...records].sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0)) : records
  return {
    artifacts: ordered.map((r) => artifactOf(r, r.at.getTime())),
    locations: ordered.map((r) => locationOf(r, r.at.getTime())),
    sources: ordered.map((r) => sourceOf(r, r.at.getTime())),
    provenance: records.map(provenanceOf)
  }
}

/** The general case: records repeating an artifact, merged in order. Rows come sorted by key. */
const mergeBatch = (records: ReadonlyArray<DownloadRecord>): Batch => {
  const artifacts = new Map<string, ArtifactInsert>()
  const locations = new Map<string, LocationInsert>()
  const sources = new Map<string, SourceInsert>()
  for (const r of records) {
    const at = r.at.getTime()
    const a = artifacts.get(r.sha256)
    const fresh = artifactOf(r, at)
    artifacts.set(r.sha256, {
      ...fresh,
      sha384: or(r.digests.sha384, a?.sha384 ?? null),
      sha512: or(r.digests.sha512, a?.sha512 ?? null),
      sha1: or(r.digests.sha1, a?.sha1 ?? null),
      md5: or(r.digests.md5, a?.md5 ?? null),
      first_seen: a?.first_seen ?? at
    })
    const locationKey = `${r.sha256}\u0000${r.store}`
    const l = locations.get(locationKey)
    const location = locationOf(r, at)
    locations.set(locationKey, {
      ...location,
      stored_at: l?.stored_at ?? at,
      verified_at: location.verified_at ?? l?.verified_at ?? null
    })
    const sourceKey = `${r.sha256}\u0000${r.url}`
    const s = sources.get(sourceKey)
    sources.set(sourceKey, {
      ...sourceOf(r, at),
      remote: or(r.remote, s?.remote ?? null),
      priority: or(r.priority, s?.priority ?? null),
      etag: or(r.etag, s?.etag ?? null),
      last_modified: or(r.lastModified, s?.last_modified ?? null)
    })
  }
  return {
    artifacts: sortedValues(artifacts),
    locations: sortedValues(locations),
    sources: sortedValues(sources),
    provenance: records.map(provenanceOf)
  }
}

/** Rows per statement: bounds the size of one bound JSON text / array set, whatever the caller's batch size. */
const rowsPerStatement = 5_000

/** `rows` in parts of at most `rowsPerStatement`, one statement each. */
export const chunks = <A>(rows: ReadonlyArray<A>): ReadonlyArray<ReadonlyArray<A>> => Arr.chunksOf(rows, rowsPerStatement)

const artifactsConflict = `ON CONFLICT (sha256) DO UPDATE SET
  size = excluded.size,
  sha384 = COALESCE(excluded.sha384, artifacts.sha384),
  sha512 = COALESCE(excluded.sha512, artifacts.sha512),
  sha1 = COALESCE(excluded.sha1, artifacts.sha1),
  md5 = COALESCE(excluded.md5, artifacts.md5),
  first_seen = COALESCE(artifacts.first_seen, excluded.first_seen)`
// a row without verified_at comes from a kept copy: the location keeps its state and time of verification
const locationsConflict = `ON CONFLICT (artifact, store) DO UPDATE SET
  "key" = excluded."key",
  state = CASE WHEN excluded.verified_at IS NULL THEN locations.state ELSE excluded.state END,
  verified_at = COALESCE(excluded.verified_at, locations.verified_at)`
const sourcesConflict = `ON CONFLICT (artifact, url) DO UPDATE SET
  remote = COALESCE(excluded.remote, sources.remote),
  priority = COALESCE(excluded.priority, sources.priority),
  last_success = excluded.last_success,
  consecutive_failures = 0,
  etag = COALESCE(excluded.etag, sources.etag),
  last_modified = COALESCE(excluded.last_modified, sources.last_modified)`

/**
 * Each table's insert columns, once: a column's name is the key of the row object its cell is taken from (checked
 * by the type), then its PostgreSQL array type, then whether it is a hex digest stored as bytes.
 */
type Columns<Row> = ReadonlyArray<readonly [name: keyof Row & string, pgType: string, stored?: "bytes"]>
/** A row keyed by artifact id, as the tables hold it (the batch keys its rows by sha256). */
type ById<Row, Replaced extends keyof Row = never> = Omit<Row, "sha256" | Replaced> & { readonly artifact: number }

const artifactColumns: Columns<ArtifactInsert> = [
  ["sha256", "text", "bytes"], ["size", "bigint"], ["sha384", "text", "bytes"], ["sha512", "text", "bytes"],
  ["sha1", "text", "bytes"], ["md5", "text", "bytes"], ["first_seen", "bigint"]
]
const storeColumns: Columns<{ readonly store: string }> = [["store", "text"]]
const locationColumns: Columns<ById<LocationInsert, "store"> & { readonly store: number }> = [
  ["artifact", "bigint"], ["store", "bigint"], ["key", "text"], ["stored_at", "bigint"], ["verified_at", "bigint"],
  ["state", "text"]
]
const sourceColumns: Columns<ById<SourceInsert>> = [
  ["artifact", "bigint"], ["url", "text"], ["remote", "text"], ["priority", "float8"], ["last_success", "bigint"],
  ["consecutive_failures", "int"], ["etag", "text"], ["last_modified", "text"]
]
const provenanceColumns: Columns<ById<ProvenanceInsert>> = [
  ["artifact", "bigint"], ["url", "text"], ["final_url", "text"], ["remote", "text"], ["at", "bigint"],
  ["bytes", "bigint"], ["etag", "text"], ["peer_address", "text"], ["tls_fingerprint", "text"],
  ["protocol", "text"]
]

/** A bulk insert into `table` (see Dialect.bulkInsert), run for some rows, each cell taken by its column's name. */
const bulkInsert = <Row extends { readonly [K in keyof Row]: Cell }>(
  sql: SqlClient.SqlClient,
  table: string,
  columns: Columns<Row>,
  tail: string
) => {
  const { text, params } = dialectOf(sql).bulkInsert(table, columns, tail)
  return <R extends object = object>(rows: ReadonlyArray<Row>) =>
    sql.unsafe<R>(text, params(rows.map((row) => columns.map(([name]) => row[name]))))
}

const byIdThen = <A extends { readonly artifact: number }>(key: (a: A) => string | number) => (a: A, b: A) =>
  a.artifact - b.artifact || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)

/**
 * The ids of store names, creating the missing ones. Writes first (see `declare` in SqlCatalog.ts). Names are
 * few per batch; PostgreSQL writers insert them in sorted order, like every other row.
 */
export const storeIds = (
  sql: SqlClient.SqlClient,
  stores: ReadonlyArray<string>
): Effect.Effect<ReadonlyMap<string, number>, SqlError> =>
  Effect.gen(function* () {
    const names = [...new Set(stores)].sort()
    if (names.length === 0) return new Map()
    yield* bulkInsert(sql, "stores", storeColumns, "ON CONFLICT (store) DO NOTHING")(names.map((store) => ({ store })))
    const rows = yield* sql<{ readonly id: number | string; readonly store: string }>`SELECT id, store FROM stores
      WHERE ${sql.in("store", names)}`
    return new Map(rows.map((row) => [row.store, Number(row.id)]))
  })

/**
 * Writes a planned batch: store names and artifacts first (their upsert returns the ids, so nothing is read back),
 * then locations, sources and provenance by artifact id; `sorted` orders them by key too (PostgreSQL: every writer
 * locks rows in the same order, so concurrent writers never deadlock). Run it inside a transaction.
 */
export const writeBatch = (sql: SqlClient.SqlClient, batch: Batch, sorted: boolean): Effect.Effect<void, SqlError> =>
  Effect.gen(function* () {
    const stores = yield* storeIds(sql, batch.locations.map((l) => l.store))
    const insertArtifacts = bulkInsert(sql, "artifacts", artifactColumns, `${artifactsConflict} RETURNING id, sha256`)
    const ids = new Map<string, number>()
    for (const part of chunks(batch.artifacts)) {
      const returned = yield* insertArtifacts<{ readonly id: number | string; readonly sha256: Uint8Array }>(part)
      for (const row of returned) ids.set(hexOfBytes(row.sha256), Number(row.id))
    }
    const idOf = (sha256: string) => ids.get(sha256)!
    const locations = batch.locations.map(({ sha256, store, ...row }) => ({ ...row, artifact: idOf(sha256), store: stores.get(store)! }))
    const sources = batch.sources.map(({ sha256, ...row }) => ({ ...row, artifact: idOf(sha256) }))
    if (sorted) {
      locations.sort(byIdThen((l) => l.store))
      sources.sort(byIdThen((s) => s.url))
    }
    const insertLocations = bulkInsert(sql, "locations", locationColumns, locationsConflict)
    const insertSources = bulkInsert(sql, "sources", sourceColumns, sourcesConflict)
    const insertProvenance = bulkInsert(sql, "provenance", provenanceColumns, "")
    for (const part of chunks(locations)) yield* insertLocations(part)
    for (const part of chunks(sources)) yield* insertSources(part)
    for (const part of chunks(batch.provenance.map(({ sha256, ...row }) => ({ ...row, artifact: idOf(sha256) })))) {
      yield* insertProvenance(part)
    }
  })
