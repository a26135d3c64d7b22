/**
 * The Catalog on @effect/sql: the same statements on SQLite and PostgreSQL.
 */
import {
  type Algorithm,
  type CatalogError,
  type CatalogService,
  defaultPriority,
  locationOrder,
  type Remote,
  type Sha256
} from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Array as Arr, Effect, Option, Schema } from "effect"
import { asCatalogError } from "./errors.js"
import { migrate } from "./migrations.js"
import { planBatch, writeBatch } from "./record.js"
import { remoteToRow, rowToRemote } from "./remotes.js"
import { ArtifactSql, LocationSql, SourceSql, toArtifact, toLocation, toSource } from "./rows.js"
import { SecretBox } from "./SecretBox.js"

const decodeArtifacts = Schema.decodeUnknown(Schema.Array(ArtifactSql))
const decodeLocations = Schema.decodeUnknown(Schema.Array(LocationSql))
const decodeSources = Schema.decodeUnknown(Schema.Array(SourceSql))
const RemoteSql = Schema.Struct({ name: Schema.String, settings: Schema.String, secrets: Schema.NullOr(Schema.String) })
const decodeRemotes = Schema.decodeUnknown(Schema.Array(RemoteSql))

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

/**
 * Migrates the database, then serves the Catalog over the SqlClient in context. Remote secrets go through the
 * SecretBox in context.
 */
export const makeSqlCatalog = (
  options?: SqlCatalogOptions
): Effect.Effect<CatalogService, CatalogError, SqlClient.SqlClient | SecretBox> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const box = yield* SecretBox
    const secrets = options?.secrets ?? []
    const fail = (operation: string) => asCatalogError(operation, secrets)
    yield* migrate

    const sourcesFor = (sha256: string) =>
      sql`SELECT s.*, COALESCE(s.priority, r.priority, ${defaultPriority}) AS effective_priority
          FROM sources s LEFT JOIN remotes r ON r.name = s.remote
          WHERE s.sha256 = ${sha256}
          ORDER BY effective_priority DESC, s.consecutive_failures ASC, COALESCE(s.last_success, 0) DESC, s.url ASC`.pipe(
        Effect.flatMap(decodeSources),
        Effect.map((rows) => rows.map(toSource))
      )

    const service: CatalogService = {
      recordDownload: (record) => sql.withTransaction(writeBatch(sql, planBatch([record]))).pipe(fail("record download")),
      recordDownloads: (records) =>
        records.length === 0
          ? Effect.void
          : sql.withTransaction(writeBatch(sql, planBatch(records))).pipe(fail("record downloads")),
      lookup: (sha256) =>
        Effect.gen(function* () {
          const artifacts = yield* decodeArtifacts(yield* sql`SELECT * FROM artifacts WHERE sha256 = ${sha256}`)
          if (artifacts.length === 0) return Option.none()
          // Sorted here, not in SQL: an ORDER BY on verified_at could lure the planner onto the verification index.
          const locations = yield* decodeLocations(yield* sql`SELECT * FROM locations WHERE sha256 = ${sha256}`)
          const sources = yield* sourcesFor(sha256)
          return Option.some({
            artifact: toArtifact(artifacts[0]!),
            locations: Arr.sort(locations.map(toLocation), locationOrder),
            sources
          })
        }).pipe(fail("lookup")),
      // No ORDER BY … LIMIT in SQL here: without statistics PostgreSQL would walk the primary key instead of the
      // digest index. Matches are few; the smallest sha256 is picked here.
      findByDigest: (algorithm, hex) =>
        sql<{ readonly sha256: string }>`SELECT sha256 FROM artifacts WHERE ${sql(digestColumns[algorithm])} = ${hex.toLowerCase()}`.pipe(
          Effect.map((rows) => Option.fromNullable(rows.map((r) => r.sha256 as Sha256).sort()[0])),
          fail("find by digest")
        ),
      findByUrl: (url) =>
        Effect.gen(function* () {
          // Asked for: the source at this URL that succeeded last (or else was declared), through sources_url.
          const asked = yield* sql<{ readonly sha256: string; readonly last_success: number | string | null }>`
            SELECT sha256, last_success FROM sources WHERE url = ${url}
            ORDER BY COALESCE(last_success, 0) DESC, sha256 ASC LIMIT 1`
          // Reached through a redirect: provenance keeps the final URL only when it differs.
          const redirected = yield* sql<{ readonly sha256: string; readonly at: number | string; readonly id: number | string }>`
            SELECT sha256, at, id FROM provenance WHERE final_url = ${url}`
          const a = asked[0]
          const r = redirected.reduce<(typeof redirected)[number] | undefined>(
            (best, row) => (best === undefined || Number(row.id) > Number(best.id) ? row : best),
            undefined
          )
          if (r !== undefined && (a === undefined || a.last_success === null || Number(r.at) > Number(a.last_success))) {
            return Option.some(r.sha256 as Sha256)
          }
          return Option.fromNullable(a?.sha256 as Sha256 | undefined)
        }).pipe(fail("find by url")),
      addSources: (sha256, declarations) => {
        const rows = new Map<string, { sha256: string; url: string; remote: string | null; priority: number | null }>()
        for (const d of declarations) {
          const before = rows.get(d.url)
          rows.set(d.url, {
            sha256,
            url: d.url,
            remote: d.remote ?? before?.remote ?? null,
            priority: d.priority ?? before?.priority ?? null
          })
        }
        const sorted = [...rows.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
        if (sorted.length === 0) return Effect.void
        return sql.withTransaction(
          Effect.forEach(
            chunk(sorted, 5_000),
            (part) => sql`INSERT INTO sources ${sql.insert(part)} ON CONFLICT (sha256, url) DO UPDATE SET
              priority = COALESCE(excluded.priority, sources.priority),
              remote = COALESCE(excluded.remote, sources.remote)`,
            { discard: true }
          )
        ).pipe(fail("add sources"))
      },
      recordFailure: (f) => {
        const at = f.at.getTime()
        const served = f.servedSha256 ?? null
        return (
          f.sha256 !== undefined
            ? sql`INSERT INTO sources (sha256, url, consecutive_failures, last_failure, last_error_tag, served_sha256)
                  VALUES (${f.sha256}, ${f.url}, 1, ${at}, ${f.errorTag}, ${served})
                  ON CONFLICT (sha256, url) DO UPDATE SET
                    consecutive_failures = sources.consecutive_failures + 1,
                    last_failure = excluded.last_failure,
                    last_error_tag = excluded.last_error_tag,
                    served_sha256 = COALESCE(excluded.served_sha256, sources.served_sha256)`
            : sql`UPDATE sources SET consecutive_failures = consecutive_failures + 1, last_failure = ${at},
                    last_error_tag = ${f.errorTag}, served_sha256 = COALESCE(${served}, served_sha256)
                  WHERE url = ${f.url}`
        ).pipe(Effect.asVoid, fail("record failure"))
      },
      setLocationState: (sha256, store, state, verifiedAt) =>
        sql`UPDATE locations SET state = ${state}, verified_at = ${verifiedAt.getTime()}
            WHERE sha256 = ${sha256} AND store = ${store}`.pipe(Effect.asVoid, fail("set location state")),
      addLocation: ({ sha256, store, key, at }) =>
        sql`INSERT INTO locations (sha256, store, "key", stored_at, verified_at, state)
            SELECT CAST(${sha256} AS TEXT), CAST(${store} AS TEXT), CAST(${key} AS TEXT),
              CAST(${at.getTime()} AS BIGINT), CAST(${at.getTime()} AS BIGINT), 'ok'
            WHERE EXISTS (SELECT 1 FROM artifacts WHERE sha256 = ${sha256})
            ON CONFLICT (sha256, store) DO UPDATE SET "key" = excluded."key", verified_at = excluded.verified_at, state = 'ok'`.pipe(
          Effect.asVoid,
          fail("add location")
        ),
      removeLocation: (sha256, store) =>
        sql`DELETE FROM locations WHERE sha256 = ${sha256} AND store = ${store}`.pipe(Effect.asVoid, fail("remove location")),
      sourcesFor: (sha256) => sourcesFor(sha256).pipe(fail("sources for")),
      locationsToVerify: (options) => {
        const where = [
          ...(options?.store === undefined ? [] : [sql`store = ${options.store}`]),
          ...(options?.olderThan === undefined
            ? []
            : [sql`(verified_at IS NULL OR verified_at < ${options.olderThan.getTime()})`])
        ]
        const limit = options?.limit === undefined ? sql.literal("") : sql`LIMIT ${Math.max(0, Math.floor(options.limit))}`
        return sql`SELECT * FROM locations ${where.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(where)}`}
                   ORDER BY verified_at ASC NULLS FIRST, sha256 ASC, store ASC ${limit}`.pipe(
          Effect.flatMap(decodeLocations),
          Effect.map((rows) => rows.map(toLocation)),
          fail("locations to verify")
        )
      },
      count: () =>
        sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM artifacts`.pipe(
          Effect.map((rows) => Number(rows[0]?.n ?? 0)),
          fail("count")
        ),
      putRemote: (remote: Remote) =>
        Effect.gen(function* () {
          const row = yield* remoteToRow(box, remote)
          yield* sql`INSERT INTO remotes ${sql.insert({ ...row, updated_at: Date.now() })}
                     ON CONFLICT (name) DO UPDATE SET url = excluded.url, priority = excluded.priority,
                       settings = excluded.settings, secrets = excluded.secrets, updated_at = excluded.updated_at`
        }).pipe(fail("put remote")),
      getRemote: (name) =>
        Effect.gen(function* () {
          const rows = yield* decodeRemotes(yield* sql`SELECT name, settings, secrets FROM remotes WHERE name = ${name}`)
          return rows.length === 0 ? Option.none() : Option.some(yield* rowToRemote(box, rows[0]!))
        }).pipe(fail("get remote")),
      listRemotes: () =>
        Effect.gen(function* () {
          const rows = yield* decodeRemotes(yield* sql`SELECT name, settings, secrets FROM remotes ORDER BY name ASC`)
          return yield* Effect.forEach(rows, (row) => rowToRemote(box, row))
        }).pipe(fail("list remotes")),
      removeRemote: (name) =>
        sql`DELETE FROM remotes WHERE name = ${name} RETURNING name`.pipe(
          Effect.map((rows) => rows.length > 0),
          fail("remove remote")
        ),
      list: (options) => {
        const limit =
          options?.limit === undefined
            ? options?.offset === undefined
              ? sql.literal("")
              : sql`LIMIT ${Number.MAX_SAFE_INTEGER}`
            : sql`LIMIT ${Math.max(0, Math.floor(options.limit))}`
        const offset = options?.offset === undefined ? sql.literal("") : sql`OFFSET ${Math.max(0, Math.floor(options.offset))}`
        return sql`SELECT * FROM artifacts ORDER BY first_seen DESC, sha256 ASC ${limit} ${offset}`.pipe(
          Effect.flatMap(decodeArtifacts),
          Effect.map((rows) => rows.map(toArtifact)),
          fail("list")
        )
      }
    }
    return service
  })

const chunk = <A>(rows: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}
