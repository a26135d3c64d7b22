/**
 * The Repositories contract on SQLite and PostgreSQL, on the same database as the catalog (one migration history).
 */
import { layerSqlCatalogWithRepositoriesFromUrl, layerSecretBoxKey } from "@cargohold/catalog-sql"
import { afterAll, beforeAll } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Layer } from "effect"
import { createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { repositoriesContract } from "./contract.js"

const dir = mkdtempSync(join(tmpdir(), "cargohold-repos-sqlite-"))
const box = layerSecretBoxKey(randomBytes(32))
let db: PgDatabase
beforeAll(async () => {
  db = await createPgDatabase("repos")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await db?.drop()
})
let n = 0

repositoriesContract("sqlite", {
  layer: () => Layer.fresh(layerSqlCatalogWithRepositoriesFromUrl(`sqlite://${join(dir, `r${n++}.db`)}`, { secretBox: box }))
})
repositoriesContract("postgresql", {
  layer: () => Layer.fresh(layerSqlCatalogWithRepositoriesFromUrl(db.url, { secretBox: box }))
})
