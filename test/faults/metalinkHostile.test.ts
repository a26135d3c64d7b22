/**
 * Fault case "a Metalink with a DOCTYPE entity" (issue 11, item 10): exit 2, a manifest error naming the line,
 * nothing resolved, no request made, nothing stored — never "internal error" or a stack trace. Through the built
 * CLI; the Metalink's URLs point at a loopback server that counts requests.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { filesUnder, runCli, tempDir } from "../cli/helpers.js"
import { startServer, type TestServer } from "../support/servers.js"

const dir = tempDir("cargohold-metalink-")
let server: TestServer

beforeAll(async () => {
  server = await startServer((_req, res) => res.writeHead(200, { "content-length": "2" }).end("ok"))
})
afterAll(async () => {
  await server.close()
  dir.remove()
})

const file = (url: string) => `<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="a.bin"><url>${url}</url></file>
</metalink>`

describe("hostile Metalink documents", () => {
  const cases = [
    {
      name: "billion laughs",
      line: 2,
      text: (url: string) => `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
${file(`${url}?&lol3;`)}`
    },
    {
      name: "external entity",
      line: 3,
      text: (url: string) => `<?xml version="1.0"?>

<!DOCTYPE metalink [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
${file(`${url}?&xxe;`)}`
    },
    { name: "a bare DOCTYPE", line: 1, text: (url: string) => `<!doctype metalink>\n${file(url)}` },
    { name: "an ENTITY without DOCTYPE", line: 2, text: (url: string) => `<?xml version="1.0"?>\n<!ENTITY x "y">\n${file(url)}` }
  ]
  it.each(cases)("$name: exit 2, the line named, nothing fetched", async ({ name, line, text }) => {
    const path = join(dir.path, `${name.replace(/\W+/g, "-")}.meta4`)
    writeFileSync(path, text(server.url("/a.bin")))
    const home = join(dir.path, `home-${name.replace(/\W+/g, "-")}`)
    const run = await runCli(["fetch", "-i", path, "--home", home])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(new RegExp(`line ${line}: <!(DOCTYPE|ENTITY)> is not allowed`))
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/internal error|\n\s+at |root:|lollol/)
    expect(server.stats.requests).toEqual([])
    expect(filesUnder(join(home, "store"))).toEqual([])
  })
})
