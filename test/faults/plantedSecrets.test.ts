/**
 * Fault case "a grep for planted secrets" (issue 11): distinct secrets are planted — a basic-auth password
 * (--password-env), a proxy password, a bearer token, header values (--header-env and --header), credentials
 * written into a URL, AWS-style environment variables — and many CLI commands run (fetch ok and failing, --json,
 * whereis --json, remote list/show --json, ls, verify) on a SQLite and a PostgreSQL catalog. No secret may occur in
 * any stdout or stderr, nor in any row of any table of either catalog. Real loopback servers and a real proxy.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { runCli, tempDir } from "../cli/helpers.js"
import { startProxy, type TestProxy } from "../support/proxy.js"
import { dumpPg, dumpSqlite, leakedIn } from "../support/secrets.js"
import { startServer, type TestServer } from "../support/servers.js"

const secrets = {
  password: { value: "PLANT-basic-pw-a1b2c3", username: "alice" },
  proxyPassword: { value: "PLANT-proxy-pw-d4e5f6", username: "pxuser" },
  bearer: { value: "PLANT-bearer-0a9b8c" },
  headerEnv: { value: "PLANT-header-env-7e6d5c" },
  headerArgv: { value: "PLANT-header-argv-4f3e2d" },
  urlPassword: { value: "PLANT-url-pw-1c2b3a", username: "urluser" },
  awsSecret: { value: "PLANTawsSECRETkey0123456789abcdef" },
  awsSession: { value: "PLANTawsSESSIONtoken9876543210" }
}
const env = {
  PW: secrets.password.value,
  PROXY_PW: secrets.proxyPassword.value,
  TOKEN: secrets.bearer.value,
  API_KEY: secrets.headerEnv.value,
  AWS_ACCESS_KEY_ID: "AKIAPLANTEDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: secrets.awsSecret.value,
  AWS_SESSION_TOKEN: secrets.awsSession.value
}
const body = "planted-secrets artifact"

const dir = tempDir("cargohold-planted-")
let server: TestServer
let proxy: TestProxy
let pgDb: PgDatabase

beforeAll(async () => {
  server = await startServer((req, res) => {
    if (req.url?.startsWith("/missing")) res.writeHead(404, { "content-length": "0" }).end()
    else res.writeHead(200, { "content-length": String(body.length) }).end(body)
  })
  proxy = await startProxy({ username: secrets.proxyPassword.username, password: secrets.proxyPassword.value })
  pgDb = await createPgDatabase("planted")
})
afterAll(async () => {
  await server.close()
  await proxy.close()
  await pgDb.drop()
  dir.remove()
})

describe.each([
  { name: "SQLite", catalog: (home: string) => `sqlite://${join(home, "catalog.db")}`, dump: (home: string) => dumpSqlite(join(home, "catalog.db")) },
  { name: "PostgreSQL", catalog: () => pgDb.url, dump: () => dumpPg(pgDb.query) }
])("planted secrets on $name", ({ name, catalog, dump }) => {
  it("appear in no output of any command and in no catalog row", async () => {
    const home = join(dir.path, name)
    const where = ["--home", home, "--catalog", catalog(home)]
    const outputs: Array<string> = []
    const codes: Array<number | null> = []
    const cli = async (args: ReadonlyArray<string>) => {
      const result = await runCli([...args, ...where], { env })
      // the output only: the arguments themselves hold the --header value and the URL's password
      outputs.push(`${result.stdout}\n${result.stderr}`)
      codes.push(result.code)
      return result
    }
    const userinfo = new URL(server.url("/u.bin"))
    userinfo.username = secrets.urlPassword.username
    userinfo.password = secrets.urlPassword.value

    await cli(["remote", "add", "basic", server.url("/"), "--user", "alice", "--password-env", "PW", "--header-env", "X-Api-Key: API_KEY"])
    await cli(["remote", "add", "bearer", server.url("/"), "--bearer-env", "TOKEN", "--header", `Private-Token: ${secrets.headerArgv.value}`])
    await cli(["remote", "add", "proxied", server.url("/"), "--proxy", proxy.url, "--proxy-user", "pxuser", "--proxy-password-env", "PROXY_PW"])
    await cli(["fetch", "--remote", "basic", "a.bin"])
    await cli(["fetch", "--json", "--remote", "bearer", "b.bin", "missing-b.bin"])
    await cli(["fetch", "--json", "--remote", "proxied", "c.bin"])
    await cli(["fetch", "--json", "--remote", "basic", "missing-a.bin", "--retries", "0"])
    await cli(["fetch", "--json", userinfo.href])
    await cli(["fetch", userinfo.href.replace("/u.bin", "/missing-u.bin"), "--retries", "0"])
    await cli(["fetch", server.url("/d.bin"), "--header-env", "X-Api-Key: API_KEY", "--bearer-env", "TOKEN", "--retries", "0"])
    await cli(["fetch", server.url("/missing-e.bin"), "--user", "alice", "--password-env", "PW", "--proxy", proxy.url, "--proxy-user", "pxuser", "--proxy-password-env", "PROXY_PW", "--retries", "0"])
    await cli(["remote", "list", "--json"])
    await cli(["remote", "list"])
    for (const remote of ["basic", "bearer", "proxied"]) {
      await cli(["remote", "show", remote, "--json"])
      await cli(["remote", "show", remote])
    }
    await cli(["ls", "--json"])
    await cli(["ls"])
    await cli(["whereis", "--json", server.url("/a.bin")])
    await cli(["whereis", "--json", userinfo.href])
    await cli(["verify", "--json"])
    await cli(["verify"])

    const everything = outputs.join("\n")
    // the commands did run: remotes added, downloads both ok and failed
    expect(codes.filter((c) => c === 0).length).toBeGreaterThan(10)
    expect(codes).toContain(1)
    expect(everything).toMatch(/"status":"ok"/)
    expect(everything).toMatch(/"status":"failed"/)
    expect(everything).not.toMatch(/internal error|\n\s+at /)
    expect(leakedIn(everything, secrets)).toEqual([])
    const tables = await dump(home)
    expect(tables).toContain("basic")
    expect(leakedIn(tables, secrets)).toEqual([])
    // some thirty CLI processes, each a Node start-up on a busy machine
  }, 300_000)
})
