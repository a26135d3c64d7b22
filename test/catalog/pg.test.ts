import { layerSecretBoxKey } from "@cargohold/catalog-sql"
import { layerPgCatalog } from "@cargohold/catalog-sql/pg"
import { afterAll, beforeAll, beforeEach } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { catalogContract } from "./contract.js"
import { createPgDatabase, type PgDatabase } from "./databases.js"

let db: PgDatabase
beforeAll(async () => {
  db = await createPgDatabase("contract")
})
afterAll(() => db?.drop())
// One database for the file; every test starts from empty tables.
beforeEach(async () => {
  const tables = await db.query("SELECT 1 FROM pg_tables WHERE tablename = 'artifacts'")
  if (tables.length > 0) await db.query("TRUNCATE artifacts, locations, sources, remotes, provenance")
})
const key = randomBytes(32)

catalogContract("postgresql", { layer: () => layerPgCatalog({ url: db.url, secretBox: layerSecretBoxKey(key) }) })
