/**
 * Remotes at rest: the settings as JSON with every `Redacted` value and every header value taken out, and those
 * secrets sealed together by the SecretBox (bound to the remote's name). Header values count as secrets because
 * they so often are (`Authorization: Basic …`, `X-Api-Key`, `Private-Token`). A dump of the table shows no secret
 * in the clear. Rows written before header values were sealed (their values sit in the settings) still read, and
 * `resealRemotes` rewrites them sealed when a catalog opens, so no header value stays at rest in the clear.
 */
import { CatalogError, Remote } from "@cargohold/core"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Redacted, Schema } from "effect"
import { dialectOf } from "./dialect.js"
import type { SecretBoxService } from "./SecretBox.js"

type Path = ReadonlyArray<string>

/** Every Redacted value in a decoded remote, with its path. */
const findSecrets = (value: unknown, path: Path, out: Array<readonly [Path, unknown]>): void => {
  if (Redacted.isRedacted(value)) {
    out.push([path, Redacted.value(value)])
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) findSecrets(item, [...path, String(i)], out)
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) findSecrets(v, [...path, k], out)
  }
}

const setAt = (target: Record<string, unknown>, path: Path, value: unknown): void => {
  let node: Record<string, unknown> = target
  for (const step of path.slice(0, -1)) {
    const next = node[step]
    if (typeof next !== "object" || next === null) throw new Error(`no ${path.join(".")} in stored settings`)
    node = next as Record<string, unknown>
  }
  const last = path[path.length - 1]!
  if (value === undefined) delete node[last]
  else node[last] = value
}

export interface RemoteAtRest {
  readonly name: string
  readonly url: string
  readonly priority: number | null
  /** JSON of the encoded remote without its secrets. */
  readonly settings: string
  /** The sealed JSON list of [path, secret], or null when the remote has none. */
  readonly secrets: string | null
}

const encodeRemote = Schema.encodeSync(Remote)
const decodeRemote = Schema.decodeUnknown(Remote)
const context = (name: string) => `remote ${name}`

export const remoteToRow = (box: SecretBoxService, remote: Remote): Effect.Effect<RemoteAtRest, CatalogError> =>
  Effect.gen(function* () {
    const secrets: Array<readonly [Path, unknown]> = []
    findSecrets(remote, [], secrets)
    for (const [name, value] of Object.entries(remote.headers)) secrets.push([["headers", name], value])
    const encoded = JSON.parse(JSON.stringify(encodeRemote(remote))) as Record<string, unknown>
    for (const [path] of secrets) setAt(encoded, path, undefined)
    return {
      name: remote.name,
      url: remote.url,
      priority: remote.priority ?? null,
      settings: JSON.stringify(encoded),
      secrets: secrets.length === 0 ? null : yield* box.seal(JSON.stringify(secrets), context(remote.name))
    }
  })

export const rowToRemote = (
  box: SecretBoxService,
  row: { readonly name: string; readonly settings: string; readonly secrets?: string | null | undefined }
): Effect.Effect<Remote, CatalogError> =>
  Effect.gen(function* () {
    const encoded = JSON.parse(row.settings) as Record<string, unknown>
    if (row.secrets !== null && row.secrets !== undefined) {
      const secrets = JSON.parse(yield* box.open(row.secrets, context(row.name))) as Array<[Path, unknown]>
      for (const [path, value] of secrets) setAt(encoded, path, value)
    }
    return yield* decodeRemote(encoded)
  }).pipe(
    Effect.catchAllDefect((defect) => Effect.fail(String(defect))),
    Effect.mapError((error) =>
      error instanceof CatalogError
        ? error
        : new CatalogError({
            operation: "read remote",
            reason: "UnreadableRow",
            detail: `remote ${row.name} is stored in a form this version cannot read`
          })
    )
  )

/** Whether stored settings still hold a header value: a row written before header values were sealed. */
const holdsClearHeaders = (settings: string): boolean => {
  try {
    const headers = (JSON.parse(settings) as { readonly headers?: unknown }).headers
    return typeof headers === "object" && headers !== null && Object.keys(headers).length > 0
  } catch {
    return false // unreadable settings fail where the remote is read, with that error
  }
}

/**
 * Rewrites every remote row whose settings still hold header values in clear the way `remoteToRow` writes them
 * now (headers sealed with the other secrets). Each row is updated only if it is still the one read, so a process
 * writing the remote meanwhile wins. Returns the names rewritten.
 */
export const resealRemotes = (
  box: SecretBoxService
): Effect.Effect<ReadonlyArray<string>, CatalogError | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly name: string; readonly settings: string; readonly secrets: string | null }>`
      SELECT name, settings, secrets FROM remotes`
    const rewritten: Array<string> = []
    for (const row of rows) {
      if (!holdsClearHeaders(row.settings)) continue
      const sealed = yield* remoteToRow(box, yield* rowToRemote(box, row))
      yield* sql`UPDATE remotes SET settings = ${sealed.settings}, secrets = ${sealed.secrets}
                 WHERE name = ${row.name} AND settings = ${row.settings}`
      rewritten.push(row.name)
    }
    // PostgreSQL keeps the old row versions in the table's pages until they are reused; VACUUM FULL writes the
    // (small) table anew. SQLite zeroes them itself (secure_delete, see sqlite.ts). Best effort: a role that may
    // not vacuum still reads and writes its remotes sealed.
    if (rewritten.length > 0 && dialectOf(sql).name === "pg") {
      yield* sql`VACUUM FULL remotes`.pipe(
        Effect.catchAll((error) => Effect.logWarning(`remotes resealed, but VACUUM FULL remotes failed: ${error.message}`))
      )
    }
    return rewritten
  })
