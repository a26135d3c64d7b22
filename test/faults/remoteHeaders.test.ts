/**
 * Fault case "header values of a remote are stored in clear" (issue 11, item 5): a remote's header values are
 * sealed at rest with the catalog's SecretBox like its passwords, shown as `<redacted>`, still sent on fetch; and
 * `--header-env 'Name: VAR'` takes a value from the environment so that it never sits on argv. On SQLite and
 * PostgreSQL catalogs, every table dumped row by row.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { jsonLines, runCli, tempDir } from "../cli/helpers.js"
import { dumpPg, dumpSqlite, leakedIn } from "../support/secrets.js"
import { startServer, type TestServer } from "../support/servers.js"

const secrets = {
  argvHeader: { value: "ARGV-KEY-41d0c2" },
  envHeader: { value: "ENV-TOKEN-9ce3b7" },
  authorizationHeader: { value: "Basic QVVUSC1IRUFERVItNzc=" }
}
const dir = tempDir("cargohold-remote-headers-")
let server: TestServer
let pgDb: PgDatabase

beforeAll(async () => {
  server = await startServer((req, res) => {
    const ok = req.headers["x-api-key"] === secrets.argvHeader.value && req.headers["private-token"] === secrets.envHeader.value
    if (ok) res.writeHead(200, { "content-length": "7" }).end(`bytes ${req.url?.length ?? 0}`.slice(0, 7))
    else res.writeHead(403, { "content-length": "0" }).end()
  })
  pgDb = await createPgDatabase("hdr")
})
afterAll(async () => {
  await server.close()
  await pgDb.drop()
  dir.remove()
})

const env = { TOKEN_VAR: secrets.envHeader.value }

describe.each([
  { name: "SQLite", catalog: (home: string) => `sqlite://${join(home, "catalog.db")}`, dump: (home: string) => dumpSqlite(join(home, "catalog.db")) },
  { name: "PostgreSQL", catalog: () => pgDb.url, dump: () => dumpPg(pgDb.query) }
])("remote header values on $name", ({ name, catalog, dump }) => {
  it("are sealed at rest, shown as <redacted>, and sent on fetch", async () => {
    const home = join(dir.path, name)
    const where = ["--home", home, "--catalog", catalog(home)]
    const outputs: Array<string> = []
    const cli = async (args: ReadonlyArray<string>) => {
      const result = await runCli([...args, ...where], { env })
      outputs.push(result.stdout, result.stderr)
      return result
    }
    const added = await cli([
      "remote",
      "add",
      "vendor",
      server.url("/"),
      "--header",
      `X-Api-Key: ${secrets.argvHeader.value}`,
      "--header-env",
      "Private-Token: TOKEN_VAR",
      "--header",
      `Authorization: ${secrets.authorizationHeader.value}`
    ])
    expect(added.code).toBe(0)
    const shown = await cli(["remote", "show", "vendor", "--json"])
    expect(JSON.parse(shown.stdout).headers).toEqual({
      "X-Api-Key": "<redacted>",
      "Private-Token": "<redacted>",
      Authorization: "<redacted>"
    })
    await cli(["remote", "list", "--json"])
    await cli(["remote", "show", "vendor"])
    const fetched = await cli(["fetch", "--json", "--remote", "vendor", "a.bin"])
    expect(fetched.code).toBe(0)
    expect(jsonLines(fetched.stdout)[0]).toMatchObject({ status: "ok" })
    const unset = await cli(["fetch", "--json", server.url("/b.bin"), "--header-env", "Private-Token: NOT_SET_ANYWHERE"])
    expect(unset.code).toBe(2)
    expect(unset.stderr).toMatch(/environment variable NOT_SET_ANYWHERE is not set/)

    expect(outputs.join("\n")).not.toMatch(/internal error|\n\s+at /)
    expect(leakedIn(outputs.join("\n"), secrets)).toEqual([])
    const tables = await dump(home)
    expect(tables).toContain("vendor")
    expect(leakedIn(tables, secrets)).toEqual([])
  })
})
