/**
 * Remotes at rest: the settings as JSON with every `Redacted` value and every header value taken out, and those
 * secrets sealed together by the SecretBox (bound to the remote's name). Header values count as secrets because
 * they so often are (`Authorization: Basic …`, `X-Api-Key`, `Private-Token`). A dump of the table shows no secret
 * in the clear. Rows written before header values were sealed still read (their values sit in the settings).
 */
import { CatalogError, Remote } from "@cargohold/core"
import { Effect, Redacted, Schema } from "effect"
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
        : new CatalogError({ operation: "read remote", reason: `remote ${row.name} is stored in a form this version cannot read` })
    )
  )
