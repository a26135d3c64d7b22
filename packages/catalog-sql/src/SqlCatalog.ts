/**
 * The Catalog on @effect/sql: the same statements on SQLite and PostgreSQL.
 */
import {
  type Algorithm,
  type ArtifactKnowledge,
  Catalog,
  type CatalogError,
  type CatalogService,
  locationOrder,
  makeCatalog,
  type ProvenanceRow,
  Remotes,
  Sha256
} from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Array as Arr, Context, Effect, Layer, Option, Schema } from "effect"
import { asCatalogError } from "./errors.js"
import {
  artifactOfLookup,
  effectivePriority,
  locationFromTuple,
  type LookupRow,
  lookupSql,
  sourceFromTuple,
  sourceOrderSql,
  tuples
} from "./lookup.js"
import { dialectOf } from "./dialect.js"
import { migrate } from "./migrations.js"
import { chunks, planBatch, storeIds, writeBatch } from "./record.js"
import {
  ArtifactSql,
  bytesOfHex,
  hexOfBytes,
  isHex,
  LocationSql,
  SourceSql,
  toArtifact,
  toLocation,
  toSource
} from "./rows.js"
import type { SecretBox } from "./SecretBox.js"
import { makeSqlRemotes } from "./SqlRemotes.js"

const decodeArtifacts = Schema.decodeUnknown(Schema.Array(ArtifactSql))
const decodeLocations = Schema.decodeUnknown(Schema.Array(LocationSql))
const decodeSources = Schema.decodeUnknown(Schema.Array(SourceSql))

const digestColumns: Readonly<Record<Algorithm, string>> = {
  sha256: "sha256",
  sha384: "sha384",
  sha512: "sha512",
  sha1: "sha1",
  md5: "md5"
}

export interface SqlCatalogOptions {
  /** Strings to scrub from error messages (e.g. the database password). */
  readonly secrets?: ReadonlyArray<string>
}

/** Migrates the database, then serves the Catalog over the SqlClient in context. */
export const makeSqlCatalog = (
  options?: SqlCatalogOptions
): Effect.Effect<CatalogService, CatalogError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const secrets = options?.secrets ?? []
    const fail = (operation: string) => asCatalogError(operation, secrets)
    yield* migrate

    const dialect = dialectOf(sql)
    const lookupStatement = lookupSql(dialect)
    const sorted = dialect.sortedWrites

    const sourcesFor = (sha256: string) =>
      sql`SELECT a.sha256, s.*, ${sql.literal(effectivePriority)} AS effective_priority
          FROM artifacts a JOIN sources s ON s.artifact = a.id LEFT JOIN remotes r ON r.name = s.remote
          WHERE a.sha256 = ${bytesOfHex(sha256)}
          ORDER BY ${sql.literal(sourceOrderSql)}`.pipe(
        Effect.flatMap(decodeSources),
        Effect.map((rows) => rows.map(toSource))
      )

    /**
     * PostgreSQL plans by table statistics, and a server may run without autovacuum (or not have reached a freshly
     * bulk-loaded table yet): with none, lookups stop using their indexes well. So after this process has recorded
     * as many rows as the tables held at the last ANALYZE (at least 10,000), it analyzes them again: a handful of
     * times on the way to a million rows, each a sample of 30,000 rows per table.
     */
    let recordedSinceAnalyze = 0
    let analyzedRows = 0
    const analyzeAfterGrowth = (recorded: number): Effect.Effect<void, SqlError> => {
      if (!dialect.analyzesAfterGrowth) return Effect.void
      recordedSinceAnalyze += recorded
      if (recordedSinceAnalyze < Math.max(10_000, analyzedRows)) return Effect.void
      analyzedRows += recordedSinceAnalyze
      recordedSinceAnalyze = 0
      return sql`ANALYZE artifacts, locations, sources, provenance`.pipe(Effect.asVoid)
    }

    /**
     * The id of an artifact, declaring it (sha256 only) when unknown. Run it inside a transaction. It writes first:
     * a SQLite transaction that began with a read cannot wait for the write lock (it fails "database is locked").
     */
    const declare = (sha256: string) =>
      Effect.gen(function* () {
        const bytes = bytesOfHex(sha256)
        yield* sql`INSERT INTO artifacts (sha256) VALUES (${bytes}) ON CONFLICT (sha256) DO NOTHING`
        const rows = yield* sql<{ readonly id: number | string }>`SELECT id FROM artifacts WHERE sha256 = ${bytes}`
        return Number(rows[0]!.id)
      })
    /**
     * The lookup statement for one artifact: its entry (none while it is only declared) and its ranked sources;
     * undefined when the catalog has no row for it. Locations are sorted here, not in SQL (the same order as every
     * backend's locationOrder).
     */
    const knowledgeOf = (sha256: Sha256) =>
      Effect.flatMap(
        sql<LookupRow>`${sql.literal(lookupStatement[0])}${sha256}${sql.literal(lookupStatement[1])}`,
        (rows) => {
          const row = rows[0]
          if (row === undefined) return Effect.succeed(undefined)
          return Effect.try((): ArtifactKnowledge => {
            const sources = tuples(row.sources).map((t) => toSource(sourceFromTuple(sha256, t)))
            if (row.size === null) return { entry: Option.none(), sources }
            const locations = Arr.sort(
              tuples(row.locations).map((t) => toLocation(locationFromTuple(sha256, t))),
              locationOrder
            )
            return { entry: Option.some({ artifact: toArtifact(artifactOfLookup(row)), locations, sources }), sources }
          })
        }
      )
    /** Selects the id of a downloaded (not only declared) artifact. */
    const idOf = (sha256: string) => sql`(SELECT id FROM artifacts WHERE sha256 = ${bytesOfHex(sha256)})`
    /** Selects the id of a store name. */
    const storeIdOf = (store: string) => sql`(SELECT id FROM stores WHERE store = ${store})`

    const service: CatalogService = makeCatalog({
      recordDownload: (record) =>
        sql.withTransaction(writeBatch(sql, planBatch([record], sorted), sorted)).pipe(fail("record download")),
      recordDownloads: (records) =>
        records.length === 0
          ? Effect.void
          : sql.withTransaction(writeBatch(sql, planBatch(records, sorted), sorted)).pipe(
              Effect.zipRight(analyzeAfterGrowth(records.length)),
              fail("record downloads")
            ),
      lookup: (sha256) =>
        Effect.gen(function* () {
          // One statement: the artifact row with its locations and (ranked) sources aggregated as JSON arrays.
          const known = yield* knowledgeOf(sha256)
          return known === undefined ? Option.none() : known.entry
        }).pipe(fail("lookup")),
      // The lookup statement once per artifact (its row carries the sources even of an artifact only declared).
      lookupMany: (sha256s) =>
        Effect.gen(function* () {
          const known = new Map<Sha256, ArtifactKnowledge>()
          for (const sha256 of sha256s) {
            const knowledge = yield* knowledgeOf(sha256)
            if (knowledge !== undefined && (Option.isSome(knowledge.entry) || knowledge.sources.length > 0)) {
              known.set(sha256, knowledge)
            }
          }
          return known
        }).pipe(fail("lookup many")),
      provenanceOf: (sha256, limit = 10) =>
        sql<{
          readonly url: string
          readonly final_url: string | null
          readonly remote: string | null
          readonly at: number | string
          readonly bytes: number | string
          readonly etag: string | null
          readonly peer_address: string | null
          readonly tls_fingerprint: string | null
          readonly protocol: string | null
        }>`SELECT p.url, p.final_url, p.remote, p.at, p.bytes, p.etag, p.peer_address, p.tls_fingerprint, p.protocol
            FROM provenance p JOIN artifacts a ON a.id = p.artifact WHERE a.sha256 = ${bytesOfHex(sha256)}
            ORDER BY p.id DESC LIMIT ${Math.max(0, Math.floor(limit))}`.pipe(
          Effect.map((rows) =>
            rows.map(
              (r): ProvenanceRow => ({
                sha256,
                url: r.url,
                finalUrl: r.final_url ?? r.url,
                remote: r.remote ?? undefined,
                at: new Date(Number(r.at)),
                bytes: Number(r.bytes),
                etag: r.etag ?? undefined,
                peerAddress: r.peer_address ?? undefined,
                tlsFingerprint: r.tls_fingerprint ?? undefined,
                protocol: r.protocol ?? undefined
              })
            )
          ),
          fail("provenance")
        ),
      // No ORDER BY … LIMIT in SQL here: without statistics PostgreSQL would walk the primary key instead of the
      // digest index. Matches are few; the smallest sha256 is picked here.
      // A text that is not hex names no digest (and would not convert to bytes whole).
      findByDigest: (algorithm, hex) =>
        !isHex(hex)
          ? Effect.succeed(Option.none())
          : sql<{ readonly sha256: Uint8Array }>`SELECT sha256 FROM artifacts
              WHERE ${sql(digestColumns[algorithm])} = ${bytesOfHex(hex)} AND size IS NOT NULL`.pipe(
              Effect.map((rows) => Option.fromNullable(rows.map((r) => Sha256.make(hexOfBytes(r.sha256))).sort()[0])),
              fail("find by digest")
            ),
      findByUrl: (url) =>
        Effect.gen(function* () {
          // Asked for: the source at this URL that succeeded last (or else was declared), through sources_url.
          const asked = yield* sql<{ readonly sha256: Uint8Array; readonly last_success: number | string | null }>`
            SELECT a.sha256, s.last_success FROM sources s JOIN artifacts a ON a.id = s.artifact WHERE s.url = ${url}
            ORDER BY COALESCE(s.last_success, 0) DESC, a.sha256 ASC LIMIT 1`
          // Reached through a redirect: provenance keeps the final URL only when it differs.
          const redirected = yield* sql<{ readonly sha256: Uint8Array; readonly at: number | string; readonly id: number | string }>`
            SELECT a.sha256, p.at, p.id FROM provenance p JOIN artifacts a ON a.id = p.artifact WHERE p.final_url = ${url}`
          const a = asked[0]
          const r = redirected.reduce<(typeof redirected)[number] | undefined>(
            (best, row) => (best === undefined || Number(row.id) > Number(best.id) ? row : best),
            undefined
          )
          if (r !== undefined && (a === undefined || a.last_success === null || Number(r.at) > Number(a.last_success))) {
            return Option.some(Sha256.make(hexOfBytes(r.sha256)))
          }
          return a === undefined ? Option.none() : Option.some(Sha256.make(hexOfBytes(a.sha256)))
        }).pipe(fail("find by url")),
      addSources: (sha256, declarations) => {
        const rows = new Map<string, { artifact: number; url: string; remote: string | null; priority: number | null }>()
        for (const d of declarations) {
          const before = rows.get(d.url)
          rows.set(d.url, {
            artifact: 0,
            url: d.url,
            remote: d.remote ?? before?.remote ?? null,
            priority: d.priority ?? before?.priority ?? null
          })
        }
        const sorted = [...rows.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
        if (sorted.length === 0) return Effect.void
        return sql.withTransaction(
          Effect.gen(function* () {
            const artifact = yield* declare(sha256)
            yield* Effect.forEach(
              chunks(sorted.map((row) => ({ ...row, artifact }))),
              (part) => sql`INSERT INTO sources ${sql.insert(part)} ON CONFLICT (artifact, url) DO UPDATE SET
                priority = COALESCE(excluded.priority, sources.priority),
                remote = COALESCE(excluded.remote, sources.remote)`,
              { discard: true }
            )
          })
        ).pipe(fail("add sources"))
      },
      recordFailure: (f) => {
        const at = f.at.getTime()
        const served = f.servedSha256 ?? null
        const sha256 = f.sha256
        return (
          sha256 !== undefined
            ? sql.withTransaction(
                Effect.flatMap(
                  declare(sha256),
                  (artifact) => sql`INSERT INTO sources (artifact, url, consecutive_failures, last_failure, last_error_tag, served_sha256)
                  VALUES (${artifact}, ${f.url}, 1, ${at}, ${f.errorTag}, ${served})
                  ON CONFLICT (artifact, url) DO UPDATE SET
                    consecutive_failures = sources.consecutive_failures + 1,
                    last_failure = excluded.last_failure,
                    last_error_tag = excluded.last_error_tag,
                    served_sha256 = COALESCE(excluded.served_sha256, sources.served_sha256)`
                )
              )
            : sql`UPDATE sources SET consecutive_failures = consecutive_failures + 1, last_failure = ${at},
                    last_error_tag = ${f.errorTag}, served_sha256 = COALESCE(${served}, served_sha256)
                  WHERE url = ${f.url}`
        ).pipe(Effect.asVoid, fail("record failure"))
      },
      setLocationState: (sha256, store, state, verifiedAt) =>
        sql`UPDATE locations SET state = ${state}, verified_at = ${verifiedAt.getTime()}
            WHERE artifact = ${idOf(sha256)} AND store = ${storeIdOf(store)}`.pipe(Effect.asVoid, fail("set location state")),
      addLocation: ({ sha256, store, key, at }) =>
        sql.withTransaction(
          Effect.flatMap(
            storeIds(sql, [store]),
            (stores) => sql`INSERT INTO locations (artifact, store, "key", stored_at, verified_at, state)
              SELECT id, CAST(${stores.get(store)!} AS BIGINT), CAST(${key} AS TEXT),
                CAST(${at.getTime()} AS BIGINT), CAST(${at.getTime()} AS BIGINT), 'ok'
              FROM artifacts WHERE sha256 = ${bytesOfHex(sha256)} AND size IS NOT NULL
              ON CONFLICT (artifact, store) DO UPDATE SET "key" = excluded."key", verified_at = excluded.verified_at, state = 'ok'`
          )
        ).pipe(Effect.asVoid, fail("add location")),
      removeLocation: (sha256, store) =>
        sql`DELETE FROM locations WHERE artifact = ${idOf(sha256)} AND store = ${storeIdOf(store)}`.pipe(
          Effect.asVoid,
          fail("remove location")
        ),
      sourcesFor: (sha256) => sourcesFor(sha256).pipe(fail("sources for")),
      locationsToVerify: (options) => {
        const where = [
          ...(options?.store === undefined ? [] : [sql`l.store = ${storeIdOf(options.store)}`]),
          ...(options?.olderThan === undefined
            ? []
            : [sql`(l.verified_at IS NULL OR l.verified_at < ${options.olderThan.getTime()})`])
        ]
        const limit = options?.limit === undefined ? sql.literal("") : sql`LIMIT ${Math.max(0, Math.floor(options.limit))}`
        return sql`SELECT a.sha256, st.store, l."key", l.stored_at, l.verified_at, l.state
                   FROM locations l JOIN artifacts a ON a.id = l.artifact JOIN stores st ON st.id = l.store
                   ${where.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(where)}`}
                   ORDER BY l.verified_at ASC NULLS FIRST, a.sha256 ASC, st.store ASC ${limit}`.pipe(
          Effect.flatMap(decodeLocations),
          Effect.map((rows) => rows.map(toLocation)),
          fail("locations to verify")
        )
      },
      count: () =>
        sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM artifacts WHERE first_seen IS NOT NULL`.pipe(
          Effect.map((rows) => Number(rows[0]?.n ?? 0)),
          fail("count")
        ),
      list: (options) => {
        const limit =
          options?.limit === undefined
            ? options?.offset === undefined
              ? sql.literal("")
              : sql`LIMIT ${Number.MAX_SAFE_INTEGER}`
            : sql`LIMIT ${Math.max(0, Math.floor(options.limit))}`
        const offset = options?.offset === undefined ? sql.literal("") : sql`OFFSET ${Math.max(0, Math.floor(options.offset))}`
        return sql`SELECT * FROM artifacts WHERE first_seen IS NOT NULL
                   ORDER BY first_seen DESC, sha256 ASC ${limit} ${offset}`.pipe(
          Effect.flatMap(decodeArtifacts),
          Effect.map((rows) => rows.map(toArtifact)),
          fail("list")
        )
      }
    })
    return service
  })

/**
 * The Catalog and the Remotes of one database, over the SqlClient in context (migrated first). Remote secrets go
 * through the SecretBox in context.
 */
export const layerSqlCatalog = (
  options?: SqlCatalogOptions
): Layer.Layer<Catalog | Remotes, CatalogError, SqlClient.SqlClient | SecretBox> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const catalog = yield* makeSqlCatalog(options)
      const remotes = yield* makeSqlRemotes(options)
      return Context.make(Catalog, catalog).pipe(Context.add(Remotes, remotes))
    })
  )
