/**
 * Repositories on @effect/sql: the same statements on SQLite and PostgreSQL, in the catalog's database (migration
 * 2). Every change runs in one transaction that starts by writing the repository's row, so concurrent changes to
 * one repository (fibers or processes) serialize on it: SQLite takes its write lock at once, PostgreSQL a row lock.
 */
import {
  CatalogError,
  canonicalJson,
  checkUnits,
  type ContentUnit,
  diffUnits,
  foldersOf,
  InvalidUnit,
  Repositories,
  type RepositoriesService,
  RepositoryExists,
  RepositoryName,
  RepositoryNotFound,
  type RepositoryVersion,
  sameUnit,
  UnitNotFound,
  type UnitPath,
  VersionNumber,
  VersionNotFound,
  type VersionSelector
} from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Array as Arr, Effect, Layer, Option } from "effect"
import { asCatalogError, catalogError } from "../errors.js"
import { migrate } from "../migrations.js"
import { bytesOfHex } from "../rows.js"
import { digestsText, type RepositorySql, toUnit, toVersion, type UnitSql, unitColumns, type VersionSql } from "./rows.js"

/** Rows per INSERT (8 parameters each: well under SQLite's and PostgreSQL's limits). */
const rowsPerStatement = 500

const byPath = (a: ContentUnit, b: ContentUnit) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

const folderConflict = (path: string, other: string) =>
  new InvalidUnit({
    path,
    reason: other.startsWith(`${path}/`)
      ? `it is the folder of the existing unit '${other}'`
      : `the existing unit '${other}' is a file where this path needs a folder`
  })

/** Serves Repositories over the SqlClient in context (migrating first). */
export const makeSqlRepositories: Effect.Effect<RepositoriesService, CatalogError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate

    const repository = (name: RepositoryName) =>
      sql<RepositorySql>`SELECT id, name, created_at, latest FROM repositories WHERE name = ${name}`.pipe(
        asCatalogError("read repository"),
        Effect.flatMap((rows) =>
          rows[0] === undefined ? Effect.fail(new RepositoryNotFound({ name })) : Effect.succeed(rows[0])
        )
      )

    const versionRow = (name: RepositoryName, repo: RepositorySql, selector: VersionSelector) =>
      Effect.gen(function* () {
        const latest = Number(repo.latest)
        const number = selector === "latest" ? latest : selector
        const rows = yield* sql<VersionSql>`SELECT number, created_at, units, added, removed FROM repository_versions
          WHERE repository = ${repo.id} AND number = ${number}`.pipe(asCatalogError("read repository version"))
        if (rows[0] === undefined) return yield* new VersionNotFound({ name, version: number, latest })
        return toVersion(name, rows[0])
      })

    /** The latest version's row, which must exist (a missing one is a damaged database, not a user's mistake). */
    const latestRow = (name: RepositoryName, repo: RepositorySql) =>
      versionRow(name, repo, "latest").pipe(
        Effect.catchTag("VersionNotFound", (e) =>
          Effect.fail(new CatalogError({
              operation: "read repository version",
              reason: "UnreadableRow",
              detail: `version ${e.version} of '${name}' is missing`
            }))
        )
      )

    const unitsAt = (repo: RepositorySql, version: number, folder?: string) => {
      const under =
        folder === undefined || folder === ""
          ? sql``
          : // byte order: every path starting with `folder/` lies in ['folder/', 'folder0') ('0' follows '/')
            sql`AND path >= ${`${folder}/`} AND path < ${`${folder}0`}`
      return sql<UnitSql>`SELECT ${sql.literal(unitColumns)} FROM repository_units
        WHERE repository = ${repo.id} AND added <= ${version} AND (removed IS NULL OR removed > ${version}) ${under}`.pipe(
        asCatalogError("list repository units"),
        Effect.map((rows) => rows.map(toUnit).sort(byPath))
      )
    }

    /** Locks the repository's row for a change (the first statement writes), then reads it. */
    const lockRepository = (name: RepositoryName) =>
      Effect.zipRight(
        sql`UPDATE repositories SET latest = latest WHERE name = ${name}`,
        sql<RepositorySql>`SELECT id, name, created_at, latest FROM repositories WHERE name = ${name}`
      ).pipe(
        asCatalogError("lock repository"),
        Effect.flatMap((rows) => (rows[0] === undefined ? Effect.fail(new RepositoryNotFound({ name })) : Effect.succeed(rows[0])))
      )

    const liveUnits = (repo: RepositorySql) =>
      sql<UnitSql>`SELECT ${sql.literal(unitColumns)} FROM repository_units
        WHERE repository = ${repo.id} AND removed IS NULL`.pipe(
        asCatalogError("list repository units"),
        Effect.map((rows) => rows.map(toUnit))
      )

    /** Writes version `number` of `repo`: removes `removed` paths, inserts `added` units, records the version. */
    const writeVersion = (
      name: RepositoryName,
      repo: RepositorySql,
      number: number,
      units: number,
      added: ReadonlyArray<ContentUnit>,
      removedPaths: ReadonlyArray<string>
    ) =>
      Effect.gen(function* () {
        for (const part of Arr.chunksOf(removedPaths, rowsPerStatement)) {
          yield* sql`UPDATE repository_units SET removed = ${number}
            WHERE repository = ${repo.id} AND removed IS NULL AND ${sql.in("path", part)}`
        }
        for (const part of Arr.chunksOf(added, rowsPerStatement)) {
          yield* sql`INSERT INTO repository_units ${sql.insert(
            part.map((u) => ({
              repository: repo.id,
              path: u.path,
              added: number,
              removed: null,
              sha256: bytesOfHex(u.sha256),
              size: u.size,
              digests: digestsText(u),
              metadata: u.metadata === undefined ? null : canonicalJson(u.metadata)
            }))
          )}`
        }
        const createdAt = Date.now()
        yield* sql`INSERT INTO repository_versions ${sql.insert({
          repository: repo.id,
          number,
          created_at: createdAt,
          units,
          added: added.length,
          removed: removedPaths.length
        })}`
        yield* sql`UPDATE repositories SET latest = ${number} WHERE id = ${repo.id}`
        const version: RepositoryVersion = {
          repository: name,
          number: VersionNumber.make(number),
          createdAt: new Date(createdAt),
          units,
          added: added.length,
          removed: removedPaths.length
        }
        return version
      }).pipe(asCatalogError("write repository version"))

    const service: RepositoriesService = {
      create: (name) =>
        sql
          .withTransaction(
            Effect.gen(function* () {
              const at = Date.now()
              const inserted = yield* sql<{ readonly id: number | string }>`INSERT INTO repositories (name, created_at, latest)
                VALUES (${name}, ${at}, 0) ON CONFLICT (name) DO NOTHING RETURNING id`
              if (inserted[0] === undefined) return Option.none()
              yield* sql`INSERT INTO repository_versions ${sql.insert({
                repository: inserted[0].id,
                number: 0,
                created_at: at,
                units: 0,
                added: 0,
                removed: 0
              })}`
              const version: RepositoryVersion = {
                repository: name,
                number: VersionNumber.make(0),
                createdAt: new Date(at),
                units: 0,
                added: 0,
                removed: 0
              }
              return Option.some(version)
            })
          )
          .pipe(
            asCatalogError("create repository"),
            Effect.flatMap(Option.match({ onNone: () => Effect.fail(new RepositoryExists({ name })), onSome: Effect.succeed }))
          ),
      list: () =>
        sql<RepositorySql>`SELECT id, name, created_at, latest FROM repositories ORDER BY name`.pipe(
          asCatalogError("list repositories"),
          Effect.map((rows) =>
            rows.map((r) => ({
              name: RepositoryName.make(r.name),
              createdAt: new Date(Number(r.created_at)),
              latest: VersionNumber.make(Number(r.latest))
            }))
          )
        ),
      versions: (name) =>
        Effect.flatMap(repository(name), (repo) =>
          sql<VersionSql>`SELECT number, created_at, units, added, removed FROM repository_versions
            WHERE repository = ${repo.id} ORDER BY number`.pipe(
            asCatalogError("list repository versions"),
            Effect.map((rows) => rows.map((row) => toVersion(name, row)))
          )
        ),
      version: (name, selector) => Effect.flatMap(repository(name), (repo) => versionRow(name, repo, selector)),
      addUnits: (name, inputs) =>
        Effect.gen(function* () {
          const units = yield* checkUnits(inputs)
          return yield* sql.withTransaction(
            Effect.gen(function* () {
              const repo = yield* lockRepository(name)
              const live = yield* liveUnits(repo)
              const current = new Map<string, ContentUnit>(live.map((u) => [u.path, u]))
              const added: Array<ContentUnit> = []
              const replaced: Array<string> = []
              for (const unit of units) {
                const existing = current.get(unit.path)
                if (existing !== undefined && sameUnit(existing, unit)) continue
                for (const folder of foldersOf(unit.path)) if (current.has(folder)) return yield* folderConflict(unit.path, folder)
                if (existing !== undefined) replaced.push(unit.path)
                added.push(unit)
              }
              if (added.length > 0) {
                const newPaths = new Set<string>(added.map((u) => u.path))
                for (const u of live) {
                  const folders = foldersOf(u.path)
                  const parent = folders.find((f) => newPaths.has(f))
                  if (parent !== undefined) return yield* folderConflict(parent, u.path)
                }
              }
              const latest = Number(repo.latest)
              if (added.length === 0) return { version: yield* latestRow(name, repo), changed: false }
              const count = live.length + added.length - replaced.length
              const version = yield* writeVersion(name, repo, latest + 1, count, added, replaced)
              return { version, changed: true }
            })
          ).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(catalogError("add repository units", error))))
        }),
      removeUnits: (name, paths) =>
        sql
          .withTransaction(
            Effect.gen(function* () {
              const repo = yield* lockRepository(name)
              const live = yield* liveUnits(repo)
              const present = new Set<string>(live.map((u) => u.path))
              const wanted = [...new Set<string>(paths)]
              const missing = wanted.filter((p) => !present.has(p))
              if (missing.length > 0) return yield* new UnitNotFound({ name, paths: missing })
              const latest = Number(repo.latest)
              if (wanted.length === 0) return { version: yield* latestRow(name, repo), changed: false }
              const version = yield* writeVersion(name, repo, latest + 1, live.length - wanted.length, [], wanted)
              return { version, changed: true }
            })
          )
          .pipe(Effect.catchTag("SqlError", (error) => Effect.fail(catalogError("remove repository units", error)))),
      listUnits: (name, selector) =>
        Effect.gen(function* () {
          const repo = yield* repository(name)
          const version = yield* versionRow(name, repo, selector)
          return yield* unitsAt(repo, version.number)
        }),
      listUnder: (name, selector, folder) =>
        Effect.gen(function* () {
          const repo = yield* repository(name)
          const version = yield* versionRow(name, repo, selector)
          return yield* unitsAt(repo, version.number, folder)
        }),
      diff: (name, from, to) =>
        Effect.gen(function* () {
          const repo = yield* repository(name)
          const a = yield* versionRow(name, repo, from)
          const b = yield* versionRow(name, repo, to)
          const [before, after] = yield* Effect.all([unitsAt(repo, a.number), unitsAt(repo, b.number)])
          return { repository: name, from: a.number, to: b.number, ...diffUnits(before, after) }
        }),
      resolve: (name, selector, path: UnitPath) =>
        Effect.gen(function* () {
          const repo = yield* repository(name)
          const version = yield* versionRow(name, repo, selector)
          const rows = yield* sql<UnitSql>`SELECT ${sql.literal(unitColumns)} FROM repository_units
            WHERE repository = ${repo.id} AND path = ${path} AND added <= ${version.number}
              AND (removed IS NULL OR removed > ${version.number})`.pipe(asCatalogError("resolve repository path"))
          return { version, unit: Option.fromNullable(rows[0]).pipe(Option.map(toUnit)) }
        })
    }
    return service
  }
)

/** Repositories over the SqlClient in context. */
export const layerSqlRepositories: Layer.Layer<Repositories, CatalogError, SqlClient.SqlClient> = Layer.effect(
  Repositories,
  makeSqlRepositories
)
