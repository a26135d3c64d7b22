/**
 * @cargohold/catalog-sql is an optional peer dependency of @cargohold/node: where it is not installed, naming a SQL
 * catalog fails with a CatalogError that says what to install. The failure is Node's own: a process started in an
 * empty folder imports the package and reports the error it got.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { catalogSqlLoadError } from "../../packages/node/src/catalogSql.js"

/** The error Node gives a program that imports the package where it is not installed. */
const missingPackageError = (): Error => {
  const dir = mkdtempSync(join(tmpdir(), "cargohold-no-sql-"))
  try {
    const probe = `import("@cargohold/catalog-sql").then(() => console.log("{}"), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: dir, encoding: "utf8" })
    const { code, message } = JSON.parse(out.stdout) as { code?: string; message?: string }
    return Object.assign(new Error(message), { code })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("@cargohold/catalog-sql not installed", () => {
  it("fails with a CatalogError that says what to install", () => {
    const cause = missingPackageError()
    expect((cause as { code?: string }).code).toBe("ERR_MODULE_NOT_FOUND")
    const error = catalogSqlLoadError(cause)
    expect(error._tag).toBe("CatalogError")
    expect(error.reason).toBe("NotInstalled")
    expect(error.message).toContain("npm install @cargohold/catalog-sql")
  })

  it("another load failure says what the loader said", () => {
    const error = catalogSqlLoadError(new Error("better_sqlite3.node: invalid ELF header"))
    expect(error.message).toBe("catalog configure failed: cannot load @cargohold/catalog-sql: better_sqlite3.node: invalid ELF header")
  })
})
