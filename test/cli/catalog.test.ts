/**
 * The catalog commands and manifests through the built binary: whereis, ls, remote, sources, fetch --remote,
 * fetch -i, cat, export. No secret may appear in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { bytesOf, type FileServer, filesUnder, jsonLines, runCli, serveFiles, sha256Hex, tempDir } from "./helpers.js"

const one = bytesOf(12_345, 31)
const two = bytesOf(4_000, 32)
const three = bytesOf(800, 33)
let server: FileServer
const work = tempDir()
const secret = "s3cr3t-T0ken-never-printed"

beforeAll(async () => {
  server = await serveFiles(
    new Map([
      ["/repo/one.rpm", one],
      ["/repo/two.rpm", two],
      ["/repo/three.rpm", three]
    ])
  )
})
afterAll(async () => {
  await server.close()
  work.remove()
})

describe("whereis, ls, cat, export", () => {
  const home = join(work.path, "home-a")
  it("after a fetch: whereis by URL and by sha256, ls, cat, export", async () => {
    const url = server.url("/repo/one.rpm")
    expect((await runCli(["fetch", url, "--home", home])).code).toBe(0)

    const human = await runCli(["whereis", url, "--home", home])
    expect(human.code).toBe(0)
    expect(human.stdout).toContain(sha256Hex(one))
    expect(human.stdout).toContain(url)
    expect(human.stdout).toMatch(/ok/)

    const json = await runCli(["whereis", sha256Hex(one), "--json", "--home", home])
    expect(json.code).toBe(0)
    const [entry] = jsonLines(json.stdout)
    expect(entry).toMatchObject({ sha256: sha256Hex(one), size: one.length, digests: { sha256: sha256Hex(one) } })
    expect(entry!.locations).toMatchObject([{ state: "ok" }])
    expect(entry!.sources).toMatchObject([{ url }])

    const missing = await runCli(["whereis", sha256Hex("nothing"), "--home", home])
    expect(missing.code).toBe(1)

    const ls = await runCli(["ls", "--json", "--home", home])
    expect(jsonLines(ls.stdout)).toMatchObject([{ sha256: sha256Hex(one), size: one.length }])

    const cat = await runCli(["cat", sha256Hex(one), "--home", home])
    expect(cat.code).toBe(0)
    expect(sha256Hex(cat.stdoutBytes)).toBe(sha256Hex(one))
    const out = join(work.path, "one.out")
    const exported = await runCli(["export", sha256Hex(one), out, "--home", home])
    expect(exported.code).toBe(0)
    expect(sha256Hex(readFileSync(out))).toBe(sha256Hex(one))
  })
})

describe("remotes and sources", () => {
  const home = join(work.path, "home-b")
  const env = { CARGOHOLD_TOKEN: secret, PROXY_PASS: `${secret}-proxy` }
  const outputs: Array<string> = []
  const run = async (args: Array<string>) => {
    const result = await runCli([...args, "--home", home], { env })
    outputs.push(result.stdout, result.stderr)
    return result
  }

  it("remote add / list / show / fetch --remote / remove, secrets never printed", async () => {
    const base = server.url("/repo/")
    const added = await run(["remote", "add", "upstream", base, "--bearer-env", "CARGOHOLD_TOKEN", "--priority", "50", "--header", "X-Trace: demo"])
    expect(added.code, added.stderr).toBe(0)
    expect((await run(["remote", "add", "upstream", base])).code).toBe(2)
    expect((await run(["remote", "add", "bad", base, "--bearer-env", "UNSET_VARIABLE"])).code).toBe(2)

    const list = await run(["remote", "list"])
    expect(list.stdout).toContain("upstream")
    const show = await run(["remote", "show", "upstream"])
    expect(show.code).toBe(0)
    expect(show.stdout).toContain("<redacted>")
    const showJson = await run(["remote", "show", "upstream", "--json"])
    expect(jsonLines(showJson.stdout)[0]).toMatchObject({ name: "upstream", url: base, priority: 50, auth: { _tag: "Bearer", token: "<redacted>" } })

    const fetched = await run(["fetch", "--remote", "upstream", "two.rpm", "--json"])
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(jsonLines(fetched.stdout)).toMatchObject([{ status: "ok", sha256: sha256Hex(two) }])
    const request = server.seen.filter((s) => s.path === "/repo/two.rpm").at(-1)
    expect(request?.headers.authorization).toBe(`Bearer ${secret}`)

    const whereis = await run(["whereis", sha256Hex(two), "--json"])
    expect(jsonLines(whereis.stdout)[0]!.sources).toMatchObject([{ url: server.url("/repo/two.rpm"), remote: "upstream" }])

    const declared = await run(["sources", "add", sha256Hex(three), "three.rpm", "--remote", "upstream", "--priority", "7"])
    expect(declared.code, declared.stderr).toBe(0)
    const lazy = await run(["whereis", sha256Hex(three), "--json"])
    expect(lazy.code).toBe(0)
    expect(jsonLines(lazy.stdout)[0]).toMatchObject({ sha256: sha256Hex(three), locations: [], sources: [{ url: server.url("/repo/three.rpm"), priority: 7 }] })

    expect((await run(["remote", "remove", "upstream"])).code).toBe(0)
    expect((await run(["remote", "show", "upstream"])).code).toBe(2)
    expect((await run(["remote", "remove", "upstream"])).code).toBe(1)

    // and the network flags on fetch itself
    const direct = await run(["fetch", server.url("/repo/three.rpm"), "--proxy", "http://127.0.0.1:9", "--proxy-user", "u", "--proxy-password-env", "PROXY_PASS", "--json", "--retries", "0"])
    expect(direct.code).toBe(1)
    // a password written into a URL is refused (it would be stored and printed with the URL), without repeating it
    const inProxyUrl = await run(["fetch", server.url("/repo/three.rpm"), "--proxy", `http://u:${secret}@127.0.0.1:9`])
    expect(inProxyUrl.code).toBe(2)
    expect(inProxyUrl.stderr).toMatch(/proxy URL must not contain a password/)
    const inRemoteUrl = await run(["remote", "add", "leaky", server.url("/repo/").replace("http://", `http://u:${secret}@`)])
    expect(inRemoteUrl.code).toBe(2)
    expect(inRemoteUrl.stderr).toMatch(/URL must not contain a password/)
    for (const text of outputs) {
      expect(text).not.toContain(secret)
      expect(text).not.toContain(Buffer.from(`u:${secret}-proxy`).toString("base64"))
    }
  })
})

describe("fetch -i", () => {
  it("a malformed manifest exits 2 naming each bad line, and nothing is requested", async () => {
    const home = join(work.path, "home-c")
    const manifest = join(work.path, "bad.txt")
    writeFileSync(
      manifest,
      [`${server.url("/repo/one.rpm")} sha256:${sha256Hex(one)} ${one.length}`, "ftp://nope/x", `${server.url("/repo/two.rpm")} sha256:zz`, ""].join("\n")
    )
    const before = server.seen.length
    const result = await runCli(["fetch", "-i", manifest, "--home", home])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("line 2")
    expect(result.stderr).toContain("line 3")
    expect(server.seen.length).toBe(before)
    expect(filesUnder(join(home, "store"))).toEqual([])
  })

  it("a manifest on stdin with one bad artifact: exit 1, the others stored", async () => {
    const home = join(work.path, "home-d")
    const lines = [
      `${server.url("/repo/one.rpm")} sha256:${sha256Hex(one)} ${one.length}`,
      `${server.url("/repo/missing.rpm")}`,
      `${server.url("/repo/three.rpm")} sha256:${sha256Hex(three)}`
    ]
    const result = await runCli(["fetch", "-i", "-", "--json", "--home", home], { input: `${lines.join("\n")}\n` })
    expect(result.code).toBe(1)
    const byStatus = jsonLines(result.stdout).map((line) => line.status).sort()
    expect(byStatus).toEqual(["failed", "ok", "ok"])
    expect(filesUnder(join(home, "store")).length).toBe(2)
  })
})

describe("exit codes of the catalog queries", () => {
  it("whereis with something that is no digest or URL is a usage error (2); an unknown sha256 is 1", async () => {
    const home = join(work.path, "home-e")
    for (const query of ["nothex", "abc123", "sha512:abcd", "example.com/x"]) {
      const result = await runCli(["whereis", query, "--home", home])
      expect(result.code, `${query}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toMatch(/^cargohold: whereis '.*': /)
      expect(result.stderr).not.toContain("internal error")
    }
    const unknown = await runCli(["whereis", "a".repeat(64), "--home", home])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("is not in the catalog")
  })

  it("ls --limit 0 and -1 are refused (2); --limit 1 works", async () => {
    const home = join(work.path, "home-e")
    for (const limit of ["0", "-1"]) {
      const result = await runCli(["ls", "--limit", limit, "--home", home])
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toContain("--limit must be at least 1")
    }
    expect((await runCli(["ls", "--limit", "1", "--home", home])).code).toBe(0)
  })
})
