/**
 * One migration history for SQLite and PostgreSQL. Each migration is a list of statements written once, with the
 * few type names that differ filled in per dialect. Applied versions live in `cargohold_migrations`.
 * Running again is a no-op; concurrent runners (fibers or processes) serialize on a lock and apply each step once.
 */
import type { CatalogError } from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { type ColumnTypes, dialectOf } from "./dialect.js"
import { asCatalogError } from "./errors.js"
import { createLookupFunction } from "./lookup.js"

export interface Migration {
  readonly id: number
  readonly name: string
  readonly statements: (t: ColumnTypes) => ReadonlyArray<string>
}

export const migrations: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: "catalog",
    // Rewritten before the first release (the project was unreleased): digests as bytes, store names interned.
    // Only `artifacts` holds the sha256 (32 bytes, once in the row, once in its unique index); the other tables
    // refer to an artifact by its integer id, and to a store by the integer id of its name in `stores`. New
    // artifacts get increasing ids, so the child tables' keys and the provenance log grow at their right edge
    // instead of splitting pages all over a random-key B-tree; only the digest and URL indexes take random keys.
    statements: (t) => [
      `CREATE TABLE stores (
        id ${t.serial},
        store ${t.text} NOT NULL UNIQUE
      )`,
      `CREATE TABLE artifacts (
        id ${t.serial},
        sha256 ${t.bytes} NOT NULL UNIQUE,
        -- NULL while the artifact is only declared (sources added, never downloaded)
        size ${t.bigint},
        sha384 ${t.bytes}, sha512 ${t.bytes}, sha1 ${t.bytes}, md5 ${t.bytes},
        first_seen ${t.bigint}
      )`,
      "CREATE INDEX artifacts_sha384 ON artifacts (sha384) WHERE sha384 IS NOT NULL",
      "CREATE INDEX artifacts_sha512 ON artifacts (sha512) WHERE sha512 IS NOT NULL",
      "CREATE INDEX artifacts_sha1 ON artifacts (sha1) WHERE sha1 IS NOT NULL",
      "CREATE INDEX artifacts_md5 ON artifacts (md5) WHERE md5 IS NOT NULL",
      "CREATE INDEX artifacts_first_seen ON artifacts (first_seen) WHERE first_seen IS NOT NULL",
      `CREATE TABLE locations (
        artifact ${t.bigint} NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
        store ${t.bigint} NOT NULL REFERENCES stores (id),
        "key" ${t.text} NOT NULL,
        stored_at ${t.bigint} NOT NULL,
        verified_at ${t.bigint},
        state ${t.text} NOT NULL CHECK (state IN ('ok', 'corrupt', 'missing')),
        PRIMARY KEY (artifact, store)
      )${t.clustered}`,
      // locationsToVerify: by store, never verified first, then oldest. (Fewer indexes, faster recording.)
      `CREATE INDEX locations_store_verified ON locations (store, ${t.nullsFirst("verified_at")})`,
      `CREATE TABLE sources (
        artifact ${t.bigint} NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
        url ${t.text} NOT NULL,
        remote ${t.text},
        priority ${t.real},
        last_success ${t.bigint},
        last_failure ${t.bigint},
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error_tag ${t.text},
        etag ${t.text},
        last_modified ${t.text},
        served_sha256 ${t.text},
        PRIMARY KEY (artifact, url)
      )${t.clustered}`,
      "CREATE INDEX sources_url ON sources (url)",
      `CREATE TABLE remotes (
        name ${t.text} NOT NULL PRIMARY KEY,
        url ${t.text} NOT NULL,
        priority ${t.real},
        settings ${t.text} NOT NULL,
        secrets ${t.text},
        updated_at ${t.bigint} NOT NULL
      )`,
      `CREATE TABLE provenance (
        id ${t.serial},
        artifact ${t.bigint} NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
        url ${t.text} NOT NULL,
        -- NULL when the bytes came from the URL asked for (no redirect): keeps the final_url index small
        final_url ${t.text},
        remote ${t.text},
        at ${t.bigint} NOT NULL,
        bytes ${t.bigint} NOT NULL,
        etag ${t.text},
        peer_address ${t.text},
        tls_fingerprint ${t.text}
      )`,
      // findByUrl: the URL asked for is found through sources (sources_url), a redirect target here.
      "CREATE INDEX provenance_final_url ON provenance (final_url) WHERE final_url IS NOT NULL",
      ...t.pgOnly([createLookupFunction])
    ]
  },
  {
    id: 2,
    name: "repositories",
    // Repositories of content units (see repositories/). A unit row lives from the version that added it to the one
    // that removed it (NULL while in the latest), so a version costs one row per change, not one per unit, and any
    // version is still readable: `added <= v AND (removed IS NULL OR removed > v)`. Units name their artifact by
    // sha256 bytes, not by `artifacts.id`: an on-demand unit's artifact may be only declared, and the catalog's
    // own tables stay as they are.
    statements: (t) => [
      `CREATE TABLE repositories (
        id ${t.serial},
        name ${t.text} NOT NULL UNIQUE,
        created_at ${t.bigint} NOT NULL,
        latest ${t.bigint} NOT NULL
      )`,
      `CREATE TABLE repository_versions (
        repository ${t.bigint} NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
        number ${t.bigint} NOT NULL,
        created_at ${t.bigint} NOT NULL,
        units ${t.bigint} NOT NULL,
        added ${t.bigint} NOT NULL,
        removed ${t.bigint} NOT NULL,
        PRIMARY KEY (repository, number)
      )${t.clustered}`,
      `CREATE TABLE repository_units (
        repository ${t.bigint} NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
        path ${t.text} NOT NULL,
        added ${t.bigint} NOT NULL,
        removed ${t.bigint},
        sha256 ${t.bytes} NOT NULL,
        size ${t.bigint} NOT NULL,
        -- the other digests as JSON ({"md5": "…"}), NULL when none
        digests ${t.text},
        -- the caller's metadata as canonical JSON, NULL when none
        metadata ${t.text},
        PRIMARY KEY (repository, path, added)
      )${t.clustered}`,
      // the latest version, read by every change and by the server's default route
      "CREATE INDEX repository_units_live ON repository_units (repository, path) WHERE removed IS NULL"
    ]
  },
  {
    id: 3,
    name: "provenance protocol",
    // how each download's body came (http/1.1, h2), beside the peer address and TLS fingerprint it already had
    statements: (t) => [`ALTER TABLE provenance ADD COLUMN protocol ${t.text}`]
  }
]

/** The newest schema version this code knows. */
export const latestVersion = Math.max(...migrations.map((m) => m.id))

const versions = (rows: ReadonlyArray<{ readonly id: number | string }>) => new Set(rows.map((r) => Number(r.id)))

/** Applied versions, read under the lock. */
const appliedVersions = (sql: SqlClient.SqlClient) =>
  sql<{ readonly id: number | string }>`SELECT id FROM cargohold_migrations`.pipe(Effect.map(versions))

/**
 * Applied versions, read before any lock; may find no table. Its text differs from `appliedVersions` on purpose:
 * the SQLite client caches a statement that failed to prepare, and the locked read must not meet that failure.
 */
const appliedVersionsOptimistic = (sql: SqlClient.SqlClient) =>
  sql<{ readonly id: number | string }>`SELECT id FROM cargohold_migrations WHERE id > 0`.pipe(
    Effect.map(versions),
    Effect.orElseSucceed(() => new Set<number>())
  )

/**
 * Brings the schema up to date. Returns the ids of the migrations this call applied (empty when already current).
 */
export const migrate: Effect.Effect<ReadonlyArray<number>, CatalogError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const dialect = dialectOf(sql)
  // Fast path: nothing to do, nothing written.
  const known = yield* appliedVersionsOptimistic(sql)
  if (migrations.every((m) => known.has(m.id))) return []
  const createHistory = sql`CREATE TABLE IF NOT EXISTS cargohold_migrations (
    id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at ${sql.literal(dialect.types.bigint)} NOT NULL
  )`
  const lock =
    dialect.name === "pg"
      ? // Serializes runners, including their CREATE TABLE IF NOT EXISTS (not race-free on its own in PostgreSQL).
        Effect.zipRight(sql`SELECT pg_advisory_xact_lock(7431289004512)`, createHistory)
      : // The first statement of the transaction writes, so SQLite takes the write lock at once (busy_timeout waits).
        sql`INSERT INTO cargohold_migration_lock (id, at) VALUES (1, ${Date.now()})
            ON CONFLICT (id) DO UPDATE SET at = excluded.at`
  if (dialect.name === "sqlite") {
    yield* createHistory
    yield* sql`CREATE TABLE IF NOT EXISTS cargohold_migration_lock (id INTEGER NOT NULL PRIMARY KEY, at INTEGER NOT NULL)`
  }
  return yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* lock
      const applied = yield* appliedVersions(sql)
      const done: Array<number> = []
      for (const migration of migrations) {
        if (applied.has(migration.id)) continue
        for (const statement of migration.statements(dialect.types)) yield* sql.unsafe(statement)
        yield* sql`INSERT INTO cargohold_migrations (id, name, applied_at)
                   VALUES (${migration.id}, ${migration.name}, ${Date.now()})`
        done.push(migration.id)
      }
      return done
    })
  )
}).pipe(asCatalogError("migrate"))
