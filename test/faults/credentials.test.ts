/**
 * Fault case "a password written in a download URL" (issue 11, item 4): `http://user:pw@host/x` is used as Basic
 * auth for that URL's own origin only — never sent to a redirect target elsewhere, never printed, logged, stored
 * in clear or put into an error; every URL is stored and shown without it. Over real loopback servers, through the
 * built CLI, with the SQLite catalog dumped row by row afterwards.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { dumpSqlite, leakedIn } from "../support/secrets.js"
import { startServer, type TestServer } from "../support/servers.js"

const secrets = {
  argument: { value: "ARG-pw-3c9d1e", username: "alice" },
  mirror: { value: "MIRROR-pw-77aa01", username: "bob" },
  manifest: { value: "MANIFEST-pw-5e5e12", username: "carol" },
  location: { value: "LOCATION-pw-0b0b33", username: "mallory" }
}
const body = "artifact bytes behind basic auth"
const sha256 = sha256Hex(body)
const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`
const accepted = new Set([
  basic("alice", secrets.argument.value),
  basic("bob", secrets.mirror.value),
  basic("carol", secrets.manifest.value)
])

const dir = tempDir("cargohold-credentials-")
let origin: TestServer
let elsewhere: TestServer

beforeAll(async () => {
  // another origin: a redirect target that must never see the credentials
  elsewhere = await startServer((_req, res) => {
    res.writeHead(200, { "content-length": String(Buffer.byteLength(body)) }).end(body)
  })
  origin = await startServer((req, res) => {
    const path = req.url ?? "/"
    if (path === "/away") {
      res.writeHead(302, { location: elsewhere.url("/target"), "content-length": "0" }).end()
      return
    }
    if (path === "/planted-location") {
      const target = new URL(elsewhere.url("/target"))
      target.username = secrets.location.username
      target.password = secrets.location.value
      res.writeHead(302, { location: target.href, "content-length": "0" }).end()
      return
    }
    if (!accepted.has(req.headers.authorization ?? "")) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="x"', "content-length": "0" }).end()
      return
    }
    if (path === "/x") res.writeHead(200, { "content-length": String(Buffer.byteLength(body)) }).end(body)
    else res.writeHead(404, { "content-length": "0" }).end()
  })
})
afterAll(async () => {
  await origin.close()
  await elsewhere.close()
  dir.remove()
})

const withUserinfo = (url: string, secret: { value: string; username: string }) => {
  const parsed = new URL(url)
  parsed.username = secret.username
  parsed.password = secret.value
  return parsed.href
}

describe("credentials written into URLs", () => {
  it("are used for their own origin only, and appear in no output, no catalog row, no request elsewhere", async () => {
    const home = join(dir.path, "home")
    const outputs: Array<string> = []
    const cli = async (args: ReadonlyArray<string>, input = "") => {
      const result = await runCli([...args, "--home", home], { input })
      outputs.push(result.stdout, result.stderr)
      return result
    }
    // an argument with a password, and a mirror with another, both for the origin that checks them
    const ok = await cli(["fetch", "--json", withUserinfo(origin.url("/x"), secrets.argument), "--sha256", sha256])
    expect(ok.code).toBe(0)
    expect(jsonLines(ok.stdout)[0]).toMatchObject({ status: "ok", sha256, url: origin.url("/x") })
    const viaMirror = await cli([
      "fetch",
      "--json",
      origin.url("/missing-without-auth"),
      "--mirror",
      withUserinfo(origin.url("/x"), secrets.mirror),
      "--store",
      `file://${join(dir.path, "store-2")}`
    ])
    expect(viaMirror.code).toBe(0)
    // from a manifest, then a failure (404) whose error names the URL without its password
    const manifest = [
      JSON.stringify({ url: withUserinfo(origin.url("/x"), secrets.manifest) }),
      JSON.stringify({ url: withUserinfo(origin.url("/nothing-here"), secrets.manifest) })
    ].join("\n")
    const fromManifest = await cli(["fetch", "--json", "-i", "-", "--store", `file://${join(dir.path, "store-3")}`], manifest)
    expect(fromManifest.code).toBe(1)
    const failed = jsonLines(fromManifest.stdout).find((line) => line.status === "failed")
    expect(failed).toMatchObject({ url: origin.url("/nothing-here"), error: { _tag: "HttpStatusError" } })
    expect(String((failed!.error as { message: string }).message)).toContain(origin.url("/nothing-here"))
    // plain output lines (no --json) too
    const plain = await cli(["fetch", withUserinfo(origin.url("/nothing-here"), secrets.argument)])
    expect(plain.code).toBe(1)
    expect(plain.stdout).toContain(origin.url("/nothing-here"))
    // a malformed URL with a password is a usage error that does not repeat it
    const malformed = await cli(["fetch", `http://alice:${secrets.argument.value}@127.0.0.1:99999/x`])
    expect(malformed.code).toBe(2)

    // a redirect to another origin: the credentials stay behind
    const before = elsewhere.stats.requests.length
    const away = await cli(["fetch", "--json", withUserinfo(origin.url("/away"), secrets.argument), "--store", `file://${join(dir.path, "store-4")}`])
    expect(away.code).toBe(0)
    const atTarget = elsewhere.stats.requests.slice(before)
    expect(atTarget.length).toBe(1)
    expect(atTarget[0]!.headers.authorization).toBeUndefined()
    // credentials a server writes into a Location are neither used nor kept
    const located = await cli(["fetch", "--json", origin.url("/planted-location"), "--store", `file://${join(dir.path, "store-5")}`])
    expect(located.code).toBe(0)
    expect(elsewhere.stats.requests.at(-1)!.headers.authorization).toBeUndefined()

    // the catalog knows the URLs, without credentials
    const where = await cli(["whereis", "--json", sha256])
    expect(where.code).toBe(0)
    const sources = (JSON.parse(where.stdout) as { sources: Array<{ url: string }> }).sources.map((s) => s.url)
    expect(sources).toContain(origin.url("/x"))
    const byUrl = await cli(["whereis", "--json", withUserinfo(origin.url("/x"), secrets.argument)])
    expect(byUrl.code).toBe(0)
    // declaring a source with credentials is refused without repeating them
    const declared = await cli(["sources", "add", sha256, withUserinfo(origin.url("/x"), secrets.argument)])
    expect(declared.code).toBe(2)
    expect(declared.stderr).toMatch(/must not contain credentials/)
    await cli(["ls", "--json"])

    const everything = outputs.join("\n")
    expect(everything).not.toMatch(/internal error|\n\s+at /)
    expect(leakedIn(everything, secrets)).toEqual([])
    expect(leakedIn(await dumpSqlite(join(home, "catalog.db")), secrets)).toEqual([])
    // nothing went to the other origin's server: not in a header, not in a URL
    for (const request of elsewhere.stats.requests) {
      expect(leakedIn(`${request.url} ${JSON.stringify(request.headers)}`, secrets)).toEqual([])
    }
  })
})
