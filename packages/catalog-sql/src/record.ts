/**
 * Recording downloads: a batch is merged in memory (one row per artifact, per location, per source, exactly as
 * recording the records one by one would leave them), sorted by key (so concurrent PostgreSQL writers lock rows in
 * the same order and never deadlock), then written with one bulk upsert per table (per 5,000 rows).
 */
import type { DownloadRecord } from "@cargohold/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Array as Arr, Effect } from "effect"
import { hexOfBytes } from "./rows.js"

type Cell = string | number | null

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
  tls_fingerprint: r.tlsFingerprint ?? null
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
 * A column of a bulk insert: its name, its PostgreSQL array element type, and whether its cells are hex digests that
 * the database stores as bytes (converted in SQL: `unhex` on SQLite, `decode(…, 'hex')` on PostgreSQL).
 */
type Column = readonly [name: string, pgType: string, stored?: "bytes"]

const artifactColumns: ReadonlyArray<Column> = [
  ["sha256", "text", "bytes"], ["size", "bigint"], ["sha384", "text", "bytes"], ["sha512", "text", "bytes"],
  ["sha1", "text", "bytes"], ["md5", "text", "bytes"], ["first_seen", "bigint"]
]
const storeColumns: ReadonlyArray<Column> = [["store", "text"]]
const locationColumns: ReadonlyArray<Column> = [
  ["artifact", "bigint"], ["store", "bigint"], ["key", "text"], ["stored_at", "bigint"], ["verified_at", "bigint"],
  ["state", "text"]
]
const sourceColumns: ReadonlyArray<Column> = [
  ["artifact", "bigint"], ["url", "text"], ["remote", "text"], ["priority", "float8"], ["last_success", "bigint"],
  ["consecutive_failures", "int"], ["etag", "text"], ["last_modified", "text"]
]
const provenanceColumns: ReadonlyArray<Column> = [
  ["artifact", "bigint"], ["url", "text"], ["final_url", "text"], ["remote", "text"], ["at", "bigint"],
  ["bytes", "bigint"], ["etag", "text"], ["peer_address", "text"], ["tls_fingerprint", "text"]
]

const quoted = (name: string) => (name === "key" ? '"key"' : name)

/**
 * One bulk insert, whatever the number of rows, with a constant SQL text (so each database prepares it once):
 * PostgreSQL binds each column as one array and expands them with `unnest`; SQLite binds all rows as one JSON
 * array of arrays and expands it with `jsonb_each` (its rows come as JSONB, which `->>` reads without parsing
 * them again). Rows are arrays of cells in `columns` order.
 */
export const bulkInsertSql = (sql: SqlClient.SqlClient, table: string, columns: ReadonlyArray<Column>, tail: string) => {
  const names = columns.map(([c]) => quoted(c)).join(", ")
  const text = sql.onDialectOrElse({
    pg: () => {
      const cells = columns.map(([, , stored], i) => (stored === "bytes" ? `decode(c${i}, 'hex')` : `c${i}`)).join(", ")
      const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")
      return `INSERT INTO ${table} (${names}) SELECT ${cells} FROM unnest(${arrays}) AS u(${columns.map((_, i) => `c${i}`).join(", ")}) ${tail}`
    },
    // `WHERE true` keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    orElse: () => {
      const cells = columns.map(([, , stored], i) => (stored === "bytes" ? `unhex(value ->> ${i})` : `value ->> ${i}`))
      return `INSERT INTO ${table} (${names}) SELECT ${cells.join(", ")} FROM jsonb_each(?) WHERE true ${tail}`
    }
  })
  const params = (rows: ReadonlyArray<ReadonlyArray<Cell>>): ReadonlyArray<unknown> =>
    sql.onDialectOrElse({
      pg: () => columns.map((_, i) => rows.map((r) => r[i])),
      orElse: () => [JSON.stringify(rows)]
    })
  return <R extends object = object>(rows: ReadonlyArray<ReadonlyArray<Cell>>) => sql.unsafe<R>(text, params(rows))
}

const byIdThen = <A extends { readonly artifact: number }>(key: (a: A) => string) => (a: A, b: A) =>
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
    yield* bulkInsertSql(sql, "stores", storeColumns, "ON CONFLICT (store) DO NOTHING")(names.map((name) => [name]))
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
    const insertArtifacts = bulkInsertSql(sql, "artifacts", artifactColumns, `${artifactsConflict} RETURNING id, sha256`)
    const ids = new Map<string, number>()
    for (const part of chunks(batch.artifacts)) {
      const returned = yield* insertArtifacts<{ readonly id: number | string; readonly sha256: Uint8Array }>(
        part.map((a) => [a.sha256, a.size, a.sha384, a.sha512, a.sha1, a.md5, a.first_seen])
      )
      for (const row of returned) ids.set(hexOfBytes(row.sha256), Number(row.id))
    }
    const idOf = (sha256: string) => ids.get(sha256)!
    const locations = batch.locations.map((l) => ({ artifact: idOf(l.sha256), row: l }))
    const sources = batch.sources.map((s) => ({ artifact: idOf(s.sha256), row: s }))
    if (sorted) {
      locations.sort(byIdThen((l) => l.row.store))
      sources.sort(byIdThen((s) => s.row.url))
    }
    const insertLocations = bulkInsertSql(sql, "locations", locationColumns, locationsConflict)
    const insertSources = bulkInsertSql(sql, "sources", sourceColumns, sourcesConflict)
    const insertProvenance = bulkInsertSql(sql, "provenance", provenanceColumns, "")
    for (const part of chunks(locations)) {
      yield* insertLocations(
        part.map(({ artifact, row: l }) => [artifact, stores.get(l.store)!, l.key, l.stored_at, l.verified_at, l.state])
      )
    }
    for (const part of chunks(sources)) {
      yield* insertSources(
        part.map(({ artifact, row: s }) => [
          artifact, s.url, s.remote, s.priority, s.last_success, s.consecutive_failures, s.etag, s.last_modified
        ])
      )
    }
    for (const part of chunks(batch.provenance)) {
      yield* insertProvenance(
        part.map((p) => [
          idOf(p.sha256), p.url, p.final_url, p.remote, p.at, p.bytes, p.etag, p.peer_address, p.tls_fingerprint
        ])
      )
    }
  })
