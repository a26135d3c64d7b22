/**
 * `cargohold fetch` end to end: the built binary against a real loopback HTTP server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { join } from "node:path"
import { bytesOf, type FileServer, filesUnder, jsonLines, runCli, serveFiles, sha256Hex, tempDir } from "./helpers.js"

const small = Buffer.from("hello, cargohold\n")
const large = bytesOf(3 * 1024 * 1024 + 17, 3)
const other = bytesOf(40_000, 5)

let server: FileServer
let homes: Array<{ remove: () => void }> = []

const freshHome = () => {
  const home = tempDir()
  homes.push(home)
  return home.path
}

beforeAll(async () => {
  server = await serveFiles(
    new Map<string, Uint8Array>([
      ["/small.txt", small],
      ["/large.bin", large],
      ["/other.bin", other],
      ["/again.bin", bytesOf(1000, 9)],
      ["/after.bin", bytesOf(2000, 11)]
    ])
  )
})

afterAll(async () => {
  await server.close()
  for (const home of homes) home.remove()
  homes = []
})

describe("cargohold fetch", () => {
  it("fetches one artifact: exit 0 and one JSON line", async () => {
    const home = freshHome()
    const result = await runCli(["fetch", "--json", "--home", home, server.url("/small.txt")])
    expect(result.stderr).not.toContain("internal error")
    expect(result.code).toBe(0)
    const lines = jsonLines(result.stdout)
    const stored = filesUnder(join(home, "store"))
    expect(stored.length).toBe(1)
    expect(lines).toEqual([
      { url: server.url("/small.txt"), status: "ok", sha256: sha256Hex(small), size: small.length, cached: false, path: stored[0] }
    ])
  })

  it("a digest mismatch exits 1 with a failed JSON line and stores nothing", async () => {
    const home = freshHome()
    const wrong = sha256Hex("not these bytes")
    const result = await runCli(["fetch", server.url("/other.bin"), "--sha256", wrong, "--json", "--retries", "0", "--home", home])
    expect(result.code).toBe(1)
    const [line, ...rest] = jsonLines(result.stdout)
    expect(rest).toEqual([])
    expect(line).toMatchObject({ url: server.url("/other.bin"), status: "failed", error: { _tag: "DigestMismatch" } })
    expect(String((line!.error as { message: string }).message)).toContain(wrong)
    expect(line).not.toHaveProperty("sha256")
    expect(filesUnder(join(home, "store"))).toEqual([])
  })

  it("several URLs: fetched concurrently, each reported; one failure gives exit 1 and keeps the others", async () => {
    const home = freshHome()
    const urls = [server.url("/small.txt"), server.url("/large.bin"), server.url("/missing.bin")]
    const result = await runCli(["fetch", ...urls, "--json", "--home", home])
    expect(result.code).toBe(1)
    const byUrl = new Map(jsonLines(result.stdout).map((line) => [line.url, line]))
    expect(byUrl.size).toBe(3)
    expect(byUrl.get(urls[0]!)).toMatchObject({ status: "ok", sha256: sha256Hex(small) })
    expect(byUrl.get(urls[1]!)).toMatchObject({ status: "ok", sha256: sha256Hex(large), size: large.length })
    expect(byUrl.get(urls[2]!)).toMatchObject({ status: "failed", error: { _tag: "HttpStatusError" } })
    expect(filesUnder(join(home, "store")).length).toBe(2)
  })

  it("options may follow the URLs", async () => {
    const home = freshHome()
    const body = bytesOf(2000, 11)
    const result = await runCli(["fetch", server.url("/after.bin"), "--sha256", sha256Hex(body), "--size", "2000", "--home", home, "--json"])
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout)).toMatchObject([{ status: "ok", sha256: sha256Hex(body), size: 2000 }])
  })

  it("a second fetch of a stored artifact makes no request", async () => {
    const home = freshHome()
    const body = bytesOf(1000, 9)
    const args = ["fetch", server.url("/again.bin"), "--sha256", sha256Hex(body), "--json", "--home", home]
    const first = await runCli(args)
    expect(first.code).toBe(0)
    const before = server.hits.get("/again.bin") ?? 0
    const second = await runCli(args)
    expect(second.code).toBe(0)
    expect(jsonLines(second.stdout)).toMatchObject([{ status: "ok", cached: true, sha256: sha256Hex(body) }])
    expect(server.hits.get("/again.bin") ?? 0).toBe(before)
  })

  it("the summary names the sources that misbehaved", async () => {
    const home = freshHome()
    const expected = sha256Hex("bytes no source has")
    const result = await runCli([
      "fetch",
      server.url("/again.bin"),
      "--mirror",
      server.url("/after.bin"),
      "--sha256",
      expected,
      "--retries",
      "0",
      "--home",
      home
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`sources that misbehaved: ${new URL(server.url("/")).origin} (DigestMismatch ×2)`)
    expect(filesUnder(join(home, "store"))).toEqual([])
  })

  it("plain output: one result line per artifact on stdout, the summary on stderr", async () => {
    const home = freshHome()
    const result = await runCli(["fetch", server.url("/small.txt"), "--home", home])
    expect(result.code).toBe(0)
    const [stored] = filesUnder(join(home, "store"))
    expect(result.stdout).toBe(`fetched\t${sha256Hex(small)}\t${small.length}\t${stored}\t${server.url("/small.txt")}\n`)
    expect(result.stderr).not.toContain(sha256Hex(small))
    expect(result.stderr).toContain("1 artifact")
  })
})

describe("cargohold fetch: usage errors exit 2 and fetch nothing", () => {
  const cases: Array<[string, (home: string) => Array<string>]> = [
    ["--sha256 with two URLs", (home) => ["fetch", "--sha256", sha256Hex(small), server.url("/small.txt"), server.url("/large.bin"), "--home", home]],
    ["--size with two URLs", (home) => ["fetch", server.url("/small.txt"), server.url("/large.bin"), "--size", "3", "--home", home]],
    ["an unknown flag", (home) => ["fetch", server.url("/small.txt"), "--no-such-flag", "--home", home]],
    ["an unknown flag before the URL", (home) => ["fetch", "--bogus", server.url("/small.txt"), "--home", home]],
    ["a non-numeric --size", (home) => ["fetch", server.url("/small.txt"), "--size", "big", "--home", home]],
    ["a malformed --sha256", (home) => ["fetch", server.url("/small.txt"), "--sha256", "xyz", "--home", home]],
    ["a malformed --digest", (home) => ["fetch", server.url("/small.txt"), "--digest", "sha512", "--home", home]],
    ["an unsupported scheme", (home) => ["fetch", "ftp://127.0.0.1/x", "--home", home]],
    ["no URL", (home) => ["fetch", "--home", home]],
    ["an unknown command", () => ["fletch", server.url("/small.txt")]]
  ]
  for (const [name, args] of cases) {
    it(name, async () => {
      const home = freshHome()
      const before = server.hits.get("/small.txt") ?? 0
      const result = await runCli(args(home))
      expect(result.code, result.stderr).toBe(2)
      expect(result.stdout).toBe("")
      expect(result.stderr.trim()).not.toBe("")
      expect(server.hits.get("/small.txt") ?? 0).toBe(before)
      expect(filesUnder(join(home, "store"))).toEqual([])
    })
  }

  it("--version and --help exit 0", async () => {
    const version = await runCli(["--version"])
    expect(version.code).toBe(0)
    expect(version.stdout).toMatch(/\d+\.\d+\.\d+/)
    const help = await runCli(["fetch", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("--sha256")
  })
})
