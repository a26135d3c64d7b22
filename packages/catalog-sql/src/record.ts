/**
 * Recording downloads: a batch is merged in memory (one row per artifact, per location, per source, exactly as
 * recording the records one by one would leave them), sorted by key (so concurrent PostgreSQL writers lock rows in
 * the same order and never deadlock), then written with multi-row upserts, chunked under the parameter limits.
 */
import type { DownloadRecord } from "@cargohold/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

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
  verified_at: number
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

/** Merges a batch the way applying its records in order would. */
export const planBatch = (records: ReadonlyArray<DownloadRecord>): Batch => {
  const artifacts = new Map<string, ArtifactInsert>()
  const locations = new Map<string, LocationInsert>()
  const sources = new Map<string, SourceInsert>()
  const provenance: Array<ProvenanceInsert> = []
  for (const r of records) {
    const at = r.at.getTime()
    const a = artifacts.get(r.sha256)
    artifacts.set(r.sha256, {
      sha256: r.sha256,
      size: r.size,
      sha384: or(r.digests.sha384, a?.sha384 ?? null),
      sha512: or(r.digests.sha512, a?.sha512 ?? null),
      sha1: or(r.digests.sha1, a?.sha1 ?? null),
      md5: or(r.digests.md5, a?.md5 ?? null),
      first_seen: a?.first_seen ?? at
    })
    const locationKey = `${r.sha256}\u0000${r.store}`
    const l = locations.get(locationKey)
    locations.set(locationKey, {
      sha256: r.sha256,
      store: r.store,
      key: r.key,
      stored_at: l?.stored_at ?? at,
      verified_at: at,
      state: "ok"
    })
    const sourceKey = `${r.sha256}\u0000${r.url}`
    const s = sources.get(sourceKey)
    sources.set(sourceKey, {
      sha256: r.sha256,
      url: r.url,
      remote: or(r.remote, s?.remote ?? null),
      priority: or(r.priority, s?.priority ?? null),
      last_success: at,
      consecutive_failures: 0,
      etag: or(r.etag, s?.etag ?? null),
      last_modified: or(r.lastModified, s?.last_modified ?? null)
    })
    provenance.push({
      sha256: r.sha256,
      url: r.url,
      final_url: r.finalUrl === r.url ? null : r.finalUrl,
      remote: r.remote ?? null,
      at,
      bytes: r.size,
      etag: r.etag ?? null,
      peer_address: r.peerAddress ?? null,
      tls_fingerprint: r.tlsFingerprint ?? null
    })
  }
  return {
    artifacts: sortedValues(artifacts),
    locations: sortedValues(locations),
    sources: sortedValues(sources),
    provenance
  }
}

/** Bound parameters per statement: under SQLite's 32766 and PostgreSQL's 65535. */
const maxParameters = 30_000
const maxRowsPerStatement = 2_000

const chunks = <A extends object>(rows: ReadonlyArray<A>): ReadonlyArray<ReadonlyArray<A>> => {
  if (rows.length === 0) return []
  const perStatement = Math.max(1, Math.min(maxRowsPerStatement, Math.floor(maxParameters / Object.keys(rows[0]!).length)))
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < rows.length; i += perStatement) out.push(rows.slice(i, i + perStatement))
  return out
}

const eachChunk = <A extends object>(
  rows: ReadonlyArray<A>,
  write: (chunk: ReadonlyArray<Record<string, Cell>>) => Effect.Effect<unknown, SqlError>
) => Effect.forEach(chunks(rows), (chunk) => write(chunk as unknown as ReadonlyArray<Record<string, Cell>>), { discard: true })

const artifactsConflict = `ON CONFLICT (sha256) DO UPDATE SET
  size = excluded.size,
  sha384 = COALESCE(excluded.sha384, artifacts.sha384),
  sha512 = COALESCE(excluded.sha512, artifacts.sha512),
  sha1 = COALESCE(excluded.sha1, artifacts.sha1),
  md5 = COALESCE(excluded.md5, artifacts.md5)`
const locationsConflict = `ON CONFLICT (sha256, store) DO UPDATE SET
  "key" = excluded."key", verified_at = excluded.verified_at, state = 'ok'`
const sourcesConflict = `ON CONFLICT (sha256, url) DO UPDATE SET
  remote = COALESCE(excluded.remote, sources.remote),
  priority = COALESCE(excluded.priority, sources.priority),
  last_success = excluded.last_success,
  consecutive_failures = 0,
  etag = COALESCE(excluded.etag, sources.etag),
  last_modified = COALESCE(excluded.last_modified, sources.last_modified)`

/**
 * PostgreSQL: one statement per table, each column bound as one array and expanded by `unnest` (a handful of
 * parameters however large the batch; no giant VALUES list to parse and plan).
 */
const unnestInsert = <A extends object>(
  sql: SqlClient.SqlClient,
  table: string,
  columns: ReadonlyArray<readonly [keyof A & string, string]>,
  rows: ReadonlyArray<A>,
  conflict: string
) => {
  if (rows.length === 0) return Effect.void
  const names = columns.map(([c]) => (c === "key" ? '"key"' : c)).join(", ")
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")
  const params = columns.map(([c]) => rows.map((r) => r[c]))
  return sql.unsafe(`INSERT INTO ${table} (${names}) SELECT * FROM unnest(${arrays}) ${conflict}`, params)
}

const writeBatchPg = (sql: SqlClient.SqlClient, batch: Batch): Effect.Effect<void, SqlError> =>
  Effect.all(
    [
      unnestInsert<ArtifactInsert>(sql, "artifacts", [
        ["sha256", "text"], ["size", "bigint"], ["sha384", "text"], ["sha512", "text"], ["sha1", "text"],
        ["md5", "text"], ["first_seen", "bigint"]
      ], batch.artifacts, artifactsConflict),
      unnestInsert<LocationInsert>(sql, "locations", [
        ["sha256", "text"], ["store", "text"], ["key", "text"], ["stored_at", "bigint"], ["verified_at", "bigint"],
        ["state", "text"]
      ], batch.locations, locationsConflict),
      unnestInsert<SourceInsert>(sql, "sources", [
        ["sha256", "text"], ["url", "text"], ["remote", "text"], ["priority", "float8"], ["last_success", "bigint"],
        ["consecutive_failures", "int"], ["etag", "text"], ["last_modified", "text"]
      ], batch.sources, sourcesConflict),
      unnestInsert<ProvenanceInsert>(sql, "provenance", [
        ["sha256", "text"], ["url", "text"], ["final_url", "text"], ["remote", "text"], ["at", "bigint"],
        ["bytes", "bigint"], ["etag", "text"], ["peer_address", "text"], ["tls_fingerprint", "text"]
      ], batch.provenance, "")
    ],
    { discard: true }
  )

/** Writes a planned batch. Run it inside a transaction. */
export const writeBatch = (sql: SqlClient.SqlClient, batch: Batch): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({ pg: () => writeBatchPg(sql, batch), orElse: () => writeBatchValues(sql, batch) })

/** SQLite: multi-row VALUES upserts, chunked under the parameter limit. */
const writeBatchValues = (sql: SqlClient.SqlClient, batch: Batch): Effect.Effect<void, SqlError> =>
  Effect.all(
    [
      eachChunk(batch.artifacts, (rows) => sql`INSERT INTO artifacts ${sql.insert(rows)} ${sql.literal(artifactsConflict)}`),
      eachChunk(batch.locations, (rows) => sql`INSERT INTO locations ${sql.insert(rows)} ${sql.literal(locationsConflict)}`),
      eachChunk(batch.sources, (rows) => sql`INSERT INTO sources ${sql.insert(rows)} ${sql.literal(sourcesConflict)}`),
      eachChunk(batch.provenance, (rows) => sql`INSERT INTO provenance ${sql.insert(rows)}`)
    ],
    { discard: true }
  )
