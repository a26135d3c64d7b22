/**
 * Looking for a secret in everything a test can see: errors (message, String, JSON, inspect), progress events,
 * log lines.
 */
import { inspect } from "node:util"

/** Every rendering of `value` a user could come across. */
export const renderings = (value: unknown): ReadonlyArray<string> => {
  const out: Array<string> = [String(value), inspect(value, { depth: 12 })]
  try {
    out.push(JSON.stringify(value) ?? "")
  } catch {
    // not serialisable: String and inspect cover it
  }
  if (value instanceof Error) out.push(value.message, value.stack ?? "")
  return out
}

/** The renderings of `values` that contain `secret` (or its base64 in a Basic header); empty when none do. */
export const leaks = (secret: string, values: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const needles = [secret]
  return values.flatMap(renderings).filter((text) => needles.some((needle) => text.includes(needle)))
}

/** The ways a secret can be written: as is, URL-encoded, and inside a Basic `Authorization` value (base64). */
export const encodings = (secret: string, username?: string): ReadonlyArray<string> => {
  const out = [secret, encodeURIComponent(secret)]
  if (username !== undefined) out.push(Buffer.from(`${username}:${secret}`).toString("base64"))
  return [...new Set(out)]
}

/** Which of `secrets` (in any of their `encodings`) occur in `text`: names of the leaked ones. */
export const leakedIn = (
  text: string,
  secrets: Readonly<Record<string, { readonly value: string; readonly username?: string }>>
): ReadonlyArray<string> =>
  Object.entries(secrets)
    .filter(([, secret]) => encodings(secret.value, secret.username).some((needle) => text.includes(needle)))
    .map(([name]) => name)

/** Every row of every table of a SQLite catalog, as one JSON text (read with better-sqlite3, read-only). */
export const dumpSqlite = async (file: string): Promise<string> => {
  const { default: Database } = await import("better-sqlite3")
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
    const dump: Record<string, unknown> = {}
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all() as Array<Record<string, unknown>>
      dump[name] = rows.map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v]))
      )
    }
    return JSON.stringify(dump)
  } finally {
    db.close()
  }
}

/** Every row of every table in the public schema of a PostgreSQL catalog, as one JSON text. */
export const dumpPg = async (
  query: (text: string) => Promise<ReadonlyArray<Record<string, unknown>>>
): Promise<string> => {
  const tables = await query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
  const dump: Record<string, unknown> = {}
  for (const { table_name } of tables) {
    const name = String(table_name).replace(/"/g, '""')
    const rows = await query(`SELECT * FROM "${name}"`)
    dump[String(table_name)] = rows.map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("latin1") : v]))
    )
  }
  return JSON.stringify(dump)
}
