/**
 * Real databases for the catalog tests: a temporary SQLite folder, and a PostgreSQL database of the test's own
 * (created on 127.0.0.1:5432 and dropped afterwards). PostgreSQL missing is a clear failure, not a skip.
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"

export const adminUrl = process.env.CARGOHOLD_TEST_PG ?? "postgresql://postgres@127.0.0.1:5432/test"

const unreachable = (error: unknown) =>
  new Error(
    `PostgreSQL is not reachable at ${adminUrl.replace(/:[^:@/]*@/, ":<redacted>@")} (${
      error instanceof Error ? error.message : String(error)
    }). The catalog tests need a PostgreSQL 15 server on 127.0.0.1:5432 with trust auth and a database "test".`
  )

export interface PgDatabase {
  readonly name: string
  readonly url: string
  readonly query: (text: string, params?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>
  /** `pg_dump` of the whole database (schema and data). */
  readonly dump: () => string
  readonly drop: () => Promise<void>
}

/** Creates `cargohold_t_<pid>_<random>` and returns a handle on it. */
export const createPgDatabase = async (label = "t"): Promise<PgDatabase> => {
  const admin = new pg.Client({ connectionString: adminUrl })
  try {
    await admin.connect()
  } catch (error) {
    throw unreachable(error)
  }
  const name = `cargohold_${label}_${process.pid}_${randomBytes(4).toString("hex")}`
  await admin.query(`CREATE DATABASE ${name}`)
  const base = new URL(adminUrl)
  base.pathname = `/${name}`
  const url = base.toString()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return {
    name,
    url,
    query: async (text, params) => (await client.query(text, params as Array<unknown>)).rows,
    dump: () =>
      execFileSync("pg_dump", ["--no-owner", "-d", url], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }),
    drop: async () => {
      await client.end()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    }
  }
}

export const hasPgDump = (): boolean => {
  try {
    execFileSync("pg_dump", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

export interface SqliteFolder {
  readonly dir: string
  readonly file: (name: string) => string
  /** The bytes of a database file and of its WAL, as one latin1 text to search. */
  readonly bytes: (file: string) => string
  readonly remove: () => void
}

export const createSqliteFolder = (): SqliteFolder => {
  const dir = mkdtempSync(join(tmpdir(), "cargohold-catalog-"))
  return {
    dir,
    file: (name) => join(dir, name),
    bytes: (file) =>
      [file, `${file}-wal`, `${file}-journal`]
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f).toString("latin1"))
        .join("\n"),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}
