import { layerSecretBoxKey } from "@cargohold/catalog-sql"
import { layerSqliteCatalog } from "@cargohold/catalog-sql/sqlite"
import { afterAll } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { catalogContract } from "./contract.js"

const dir = mkdtempSync(join(tmpdir(), "cargohold-catalog-sqlite-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const key = randomBytes(32)
let n = 0

catalogContract("sqlite", {
  layer: () => layerSqliteCatalog({ filename: join(dir, `c${n++}.db`), secretBox: layerSecretBoxKey(key) })
})
