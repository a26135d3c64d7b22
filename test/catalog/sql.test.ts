/**
 * What only the SQL backends do: migrations, several processes on one database, secrets encrypted at rest.
 * Every test runs on SQLite (a temporary file) and on PostgreSQL (a database of this run's own).
 */
import { layerSqlCatalogFromUrl, layerSecretBoxKey, migrate } from "@cargohold/catalog-sql"
import { layerPgClient } from "@cargohold/catalog-sql/pg"
import { layerSqliteClient } from "@cargohold/catalog-sql/sqlite"
import { Catalog, type CatalogError, Remote, Remotes } from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createPgDatabase, createSqliteFolder, hasPgDump, type PgDatabase, type SqliteFolder } from "./databases.js"
import { allSecretTexts, record, remoteWithSecrets, secrets, sha, unique } from "./fixtures.js"

const key = randomBytes(32)
const box = layerSecretBoxKey(key)

interface Backend {
  readonly name: string
  /**
   * Whether several clients in one process may migrate at once. better-sqlite3 is synchronous: a second connection
   * in the same thread waiting on the lock blocks the thread that holds it, so SQLite shares one client per process
   * (concurrent SQLite migrations are covered by the processes test, which starts on an empty file).
   */
  readonly concurrentClients: boolean
  /** A fresh, empty database: its catalog URL, a raw SqlClient on it, and a dump of everything in it. */
  readonly fresh: () => Promise<{
    readonly url: string
    readonly client: () => Layer.Layer<SqlClient.SqlClient, CatalogError>
    readonly dump: () => Promise<string>
  }>
}

let folder: SqliteFolder
const pgDatabases: Array<PgDatabase> = []
beforeAll(() => {
  folder = createSqliteFolder()
})
afterAll(async () => {
  folder?.remove()
  for (const db of pgDatabases) await db.drop()
})

const backends: ReadonlyArray<Backend> = [
  {
    name: "sqlite",
    concurrentClients: false,
    fresh: async () => {
      const file = folder.file(`${unique("db")}.db`)
      return {
        url: `sqlite://${file}`,
        client: () => layerSqliteClient({ filename: file }),
        dump: async () => folder.bytes(file)
      }
    }
  },
  {
    name: "postgresql",
    concurrentClients: true,
    fresh: async () => {
      const db = await createPgDatabase("sql")
      pgDatabases.push(db)
      return {
        url: db.url,
        client: () => layerPgClient({ url: db.url }),
        dump: async () =>
          hasPgDump()
            ? db.dump()
            : JSON.stringify(await db.query("SELECT * FROM remotes")) + JSON.stringify(await db.query("SELECT * FROM sources"))
      }
    }
  }
]

/** Runs `node --import tsx child.ts` and resolves with its exit code and output. */
const child = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const proc = spawn(process.execPath, ["--import", "tsx", "test/catalog/child.ts", ...args], {
      env: { ...process.env, TSX_TSCONFIG_PATH: "test/tsconfig.json", CARGOHOLD_SECRET_KEY: key.toString("base64") },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    proc.stdout.on("data", (d) => (out += d))
    proc.stderr.on("data", (d) => (out += d))
    proc.on("close", (code) => resolve({ code, out }))
  })

for (const backend of backends) {
  describe(`SQL catalog on ${backend.name}`, () => {
    it.live("migrates from empty, and running again (also from several clients at once) is a no-op", () =>
      Effect.gen(function* () {
        const db = yield* Effect.promise(backend.fresh)
        const results = yield* Effect.all(
          Array.from({ length: 4 }, () => Effect.provide(migrate, db.client())),
          { concurrency: backend.concurrentClients ? "unbounded" : 1 }
        )
        expect(results.flat()).toEqual([1, 2, 3])
        expect(yield* Effect.provide(migrate, db.client())).toEqual([])
        const tables = yield* Effect.provide(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            Effect.all([
              sql`SELECT id, name FROM cargohold_migrations ORDER BY id`,
              ...["artifacts", "locations", "sources", "remotes", "provenance"].map((t) => sql`SELECT COUNT(*) AS n FROM ${sql(t)}`)
            ])
          ),
          db.client()
        )
        expect(tables[0]).toEqual([
          { id: 1, name: "catalog" },
          { id: 2, name: "repositories" },
          { id: 3, name: "provenance protocol" }
        ])
        // a catalog opened on the migrated database works, and opening it again keeps the data
        const r = record(unique("m"))
        yield* Effect.provide(Effect.flatMap(Catalog, (c) => c.recordDownload(r)), layerSqlCatalogFromUrl(db.url, { secretBox: box }))
        const again = yield* Effect.provide(Effect.flatMap(Catalog, (c) => c.lookup(r.sha256)), layerSqlCatalogFromUrl(db.url, { secretBox: box }))
        expect(Option.isSome(again)).toBe(true)
      })
    )

    it.live("three processes recording the same artifacts at once: one row each, all succeed", () =>
      Effect.gen(function* () {
        const db = yield* Effect.promise(backend.fresh)
        const text = unique("proc")
        const startAt = String(Date.now() + 4000)
        const runs = yield* Effect.promise(() => Promise.all([1, 2, 3].map(() => child([db.url, text, startAt]))))
        for (const run of runs) expect(run, run.out).toMatchObject({ code: 0 })
        const catalog = Layer.fresh(layerSqlCatalogFromUrl(db.url, { secretBox: box }))
        const entry = Option.getOrThrow(yield* Effect.provide(Effect.flatMap(Catalog, (c) => c.lookup(sha(text))), catalog))
        expect(entry.locations.length).toBe(1)
        // one source per URL: each process fetched from its own URL, and all declared the same one
        expect(entry.sources.length).toBe(4)
        expect(entry.sources.filter((s) => s.url.endsWith("/declared")).length).toBe(1)
        const counts = yield* Effect.provide(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            Effect.all([
              sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM artifacts`,
              sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM locations`,
              sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM provenance`
            ])
          ),
          db.client()
        )
        expect(counts.map((rows) => Number(rows[0]!.n))).toEqual([51, 51, 3 * 10 * 51])
      })
    )

    it.live("a remote row from before header values were sealed is sealed when a catalog opens on it", () =>
      Effect.gen(function* () {
        const db = yield* Effect.promise(backend.fresh)
        const name = unique("legacy")
        const apiKey = "legacy-api-key-7Hq2vX9"
        const layer = layerSqlCatalogFromUrl(db.url, { secretBox: box })
        // the catalog made (migrated) by this version, then one row written the way older versions did: header
        // values kept in the settings JSON, only Redacted values sealed (here: none)
        yield* Effect.provide(Effect.flatMap(Catalog, (c) => c.count()), layer)
        const legacy = new Remote({ name, url: `https://${name}.example.test/`, headers: { "X-Api-Key": apiKey } })
        const settings = JSON.stringify(Schema.encodeSync(Remote)(legacy))
        yield* Effect.provide(
          Effect.flatMap(
            SqlClient.SqlClient,
            (sql) => sql`INSERT INTO remotes ${sql.insert({ name, url: legacy.url, priority: null, settings, secrets: null, updated_at: 1 })}`
          ),
          db.client()
        )
        expect(yield* Effect.promise(db.dump)).toContain(apiKey)
        // the next open reseals it: the remote reads back whole, and no dump shows the value any more
        const back = Option.getOrThrow(yield* Effect.provide(Effect.flatMap(Remotes, (r) => r.get(name)), layer))
        expect(back.headers).toEqual({ "X-Api-Key": apiKey })
        const dump = yield* Effect.promise(db.dump)
        expect(dump).toContain(name)
        expect(dump).not.toContain(apiKey)
        const rows = yield* Effect.provide(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ settings: string; secrets: string }>`SELECT settings, secrets FROM remotes`),
          db.client()
        )
        expect(rows[0]!.secrets).toMatch(/^v1\./)
        expect(JSON.parse(rows[0]!.settings).headers).toEqual({})
      })
    )

    it.live("stores remote secrets encrypted: a dump of the database shows none in the clear", () =>
      Effect.gen(function* () {
        const db = yield* Effect.promise(backend.fresh)
        const name = unique("secretive")
        const layer = layerSqlCatalogFromUrl(db.url, { secretBox: box })
        yield* Effect.provide(Effect.flatMap(Remotes, (r) => r.put(remoteWithSecrets(name))), layer)
        const dump = yield* Effect.promise(db.dump)
        expect(dump).toContain(name)
        expect(dump).toContain("proxy-user")
        for (const secret of allSecretTexts) expect(dump).not.toContain(secret)
        const sealed = yield* Effect.provide(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ secrets: string }>`SELECT secrets FROM remotes`),
          db.client()
        )
        expect(sealed[0]!.secrets).toMatch(/^v1\./)
        // the right key opens them
        const back = Option.getOrThrow(yield* Effect.provide(Effect.flatMap(Remotes, (r) => r.get(name)), layer))
        expect(back.auth?._tag === "Basic" ? back.auth.username : undefined).toBe("alice")
        // another key does not, and says so without showing anything secret
        const wrong = layerSqlCatalogFromUrl(db.url, { secretBox: layerSecretBoxKey(randomBytes(32)) })
        const error = yield* Effect.flip(Effect.provide(Effect.flatMap(Remotes, (r) => r.get(name)), wrong))
        expect(error._tag).toBe("CatalogError")
        expect(error.message).toContain("cannot be decrypted")
        for (const secret of Object.values(secrets)) expect(error.message).not.toContain(secret)
      })
    )
  })
}
