/**
 * The Remotes on @effect/sql: the `remotes` table of the catalog's database (the catalog joins it for a source's
 * priority), secrets sealed by the SecretBox in context (see remotes.ts).
 */
import type { CatalogError, Remote, RemotesService } from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option, Schema } from "effect"
import { asCatalogError } from "./errors.js"
import { remoteToRow, resealRemotes, rowToRemote } from "./remotes.js"
import { SecretBox } from "./SecretBox.js"
import type { SqlCatalogOptions } from "./SqlCatalog.js"

const RemoteSql = Schema.Struct({ name: Schema.String, settings: Schema.String, secrets: Schema.NullOr(Schema.String) })
const decodeRemotes = Schema.decodeUnknown(Schema.Array(RemoteSql))

/**
 * The Remotes over the SqlClient in context; the database must be migrated (`makeSqlCatalog` does it). Rows from
 * before header values were sealed are sealed first, so no header value stays in the clear at rest.
 */
export const makeSqlRemotes = (
  options?: SqlCatalogOptions
): Effect.Effect<RemotesService, CatalogError, SqlClient.SqlClient | SecretBox> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const box = yield* SecretBox
    const fail = (operation: string) => asCatalogError(operation, options?.secrets ?? [])
    yield* resealRemotes(box).pipe(fail("reseal remotes"))
    return {
      put: (remote: Remote) =>
        Effect.gen(function* () {
          const row = yield* remoteToRow(box, remote)
          yield* sql`INSERT INTO remotes ${sql.insert({ ...row, updated_at: Date.now() })}
                     ON CONFLICT (name) DO UPDATE SET url = excluded.url, priority = excluded.priority,
                       settings = excluded.settings, secrets = excluded.secrets, updated_at = excluded.updated_at`
        }).pipe(fail("put remote")),
      get: (name) =>
        Effect.gen(function* () {
          const rows = yield* decodeRemotes(yield* sql`SELECT name, settings, secrets FROM remotes WHERE name = ${name}`)
          const row = rows[0]
          return row === undefined ? Option.none() : Option.some(yield* rowToRemote(box, row))
        }).pipe(fail("get remote")),
      list: () =>
        Effect.gen(function* () {
          const rows = yield* decodeRemotes(yield* sql`SELECT name, settings, secrets FROM remotes ORDER BY name ASC`)
          return yield* Effect.forEach(rows, (row) => rowToRemote(box, row))
        }).pipe(fail("list remotes")),
      remove: (name) =>
        sql`DELETE FROM remotes WHERE name = ${name} RETURNING name`.pipe(
          Effect.map((rows) => rows.length > 0),
          fail("remove remote")
        )
    }
  })
