/**
 * Fault case "custom headers follow a redirect to another origin" (issue 11, item 6): only headers known to be
 * harmless (user-agent, accept, accept-encoding, accept-language, range, if-range) cross origins; `X-Api-Key`,
 * `Private-Token`, `Authorization`, `Cookie` and any other stay with the origin they were given for. Through the
 * built CLI, over two loopback servers.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { jsonLines, runCli, tempDir } from "../cli/helpers.js"
import { startServer, type TestServer } from "../support/servers.js"

const body = "redirected bytes"
const dir = tempDir("cargohold-redirect-headers-")
let origin: TestServer
let other: TestServer

beforeAll(async () => {
  other = await startServer((_req, res) => {
    res.writeHead(200, { "content-length": String(body.length) }).end(body)
  })
  origin = await startServer((req, res) => {
    if (req.url === "/away") res.writeHead(302, { location: other.url("/target"), "content-length": "0" }).end()
    else if (req.url === "/here") res.writeHead(302, { location: "/target", "content-length": "0" }).end()
    else res.writeHead(200, { "content-length": String(body.length) }).end(body)
  })
})
afterAll(async () => {
  await origin.close()
  await other.close()
  dir.remove()
})

const headerFlags = [
  "--header",
  "X-Api-Key: KEY-4a4a",
  "--header",
  "Private-Token: TOKEN-5b5b",
  "--header",
  "Cookie: session=COOKIE-6c6c",
  "--header",
  "X-Custom-Auth: CUSTOM-7d7d",
  "--header",
  "Accept: application/octet-stream",
  "--header",
  "Accept-Language: de"
]
const secretHeaders = ["x-api-key", "private-token", "cookie", "x-custom-auth", "authorization"]

describe("headers across redirects", () => {
  it("only the allow-listed headers reach another origin; all of them stay at the same origin", async () => {
    const home = join(dir.path, "home")
    const away = await runCli(["fetch", "--json", origin.url("/away"), ...headerFlags, "--home", home], {
      env: { PW: "BASIC-8e8e" }
    })
    expect(away.code).toBe(0)
    expect(jsonLines(away.stdout)[0]).toMatchObject({ status: "ok" })
    const first = origin.stats.requests.find((r) => r.url === "/away")!
    expect(first.headers["x-api-key"]).toBe("KEY-4a4a")
    expect(first.headers["private-token"]).toBe("TOKEN-5b5b")
    const atOther = other.stats.requests.find((r) => r.url === "/target")!
    for (const name of secretHeaders) expect(atOther.headers[name], name).toBeUndefined()
    expect(atOther.headers.accept).toBe("application/octet-stream")
    expect(atOther.headers["accept-language"]).toBe("de")
    expect(atOther.headers["user-agent"]).toMatch(/cargohold/)
    expect(JSON.stringify(atOther.headers)).not.toMatch(/KEY-4a4a|TOKEN-5b5b|COOKIE-6c6c|CUSTOM-7d7d/)

    // basic auth from --user/--password-env: the same rule
    const withAuth = await runCli(
      ["fetch", "--json", origin.url("/away"), "--user", "u", "--password-env", "PW", "--home", join(dir.path, "home-2")],
      { env: { PW: "BASIC-8e8e" } }
    )
    expect(withAuth.code).toBe(0)
    expect(other.stats.requests.at(-1)!.headers.authorization).toBeUndefined()

    // a redirect within the origin keeps them all
    const here = await runCli(["fetch", "--json", origin.url("/here"), ...headerFlags, "--home", join(dir.path, "home-3")])
    expect(here.code).toBe(0)
    const sameOrigin = origin.stats.requests.filter((r) => r.url === "/target").at(-1)!
    expect(sameOrigin.headers["x-api-key"]).toBe("KEY-4a4a")
    expect(sameOrigin.headers["x-custom-auth"]).toBe("CUSTOM-7d7d")
  })
})
