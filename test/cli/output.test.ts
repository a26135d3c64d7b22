/**
 * What `cargohold fetch` writes where: results on stdout (a tab-separated line per artifact, or JSON Lines), the
 * summary on stderr; the URL asked for and the one that served the bytes; the manifest line of each result.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { binPath, bytesOf, type FileServer, filesUnder, jsonLines, runCli, serveFiles, sha256Hex, tempDir } from "./helpers.js"

const one = bytesOf(3000, 21)
const two = bytesOf(7000, 22)
let server: FileServer
const dirs: Array<{ remove: () => void }> = []
const fresh = () => {
  const dir = tempDir()
  dirs.push(dir)
  return dir.path
}

/** Runs a shell pipeline without blocking this process (its server must keep answering). */
const shell = (script: string): Promise<{ status: number | null; stdout: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "ignore"] })
    let stdout = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout }))
  })

beforeAll(async () => {
  server = await serveFiles(new Map([["/one.bin", one], ["/two.bin", two]]))
})
afterAll(async () => {
  await server.close()
  for (const dir of dirs) dir.remove()
})

describe("fetch output", () => {
  it("plain lines on stdout: status, sha256, size, stored path, URL; a failure says why; awk can read them", async () => {
    const home = fresh()
    const urls = [server.url("/one.bin"), server.url("/two.bin"), server.url("/gone.bin")]
    const result = await runCli(["fetch", ...urls, "--retries", "0", "--home", home])
    expect(result.code).toBe(1)
    expect(result.stdout + result.stderr).not.toContain("internal error")
    const rows = result.stdout.trim().split("\n").map((line) => line.split("\t"))
    expect(rows).toHaveLength(3)
    const byUrl = new Map(rows.map((row) => [row[4], row]))
    for (const [url, body] of [[urls[0]!, one], [urls[1]!, two]] as const) {
      const [status, sha, size, path] = byUrl.get(url)!
      expect([status, sha, size]).toEqual(["fetched", sha256Hex(body), String(body.length)])
      expect(filesUnder(join(home, "store"))).toContain(path)
    }
    expect(byUrl.get(urls[2]!)!.slice(0, 4)).toEqual(["failed", "-", "-", "-"])
    expect(byUrl.get(urls[2]!)![5]).toMatch(/^HttpStatusError: .*404/)
    // the summary and nothing else on stderr
    expect(result.stderr).toMatch(/3 artifacts: 2 ok, 1 failed/)
    expect(result.stderr).not.toContain(sha256Hex(one))

    // `cargohold fetch URL | awk …`: a pipeline gets the results
    const again = await shell(`node "${binPath}" fetch "${urls[0]}" --home "${home}" | awk '{ print $2, $3 }'`)
    expect(again.status).toBe(0)
    expect(again.stdout).toBe(`${sha256Hex(one)} ${one.length}\n`)
  })

  it("after failover the line shows the URL asked for and the mirror that served it", async () => {
    const home = fresh()
    const asked = server.url("/missing/one.bin")
    const mirror = server.url("/one.bin")
    const plain = await runCli(["fetch", asked, "--mirror", mirror, "--sha256", sha256Hex(one), "--home", home])
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout.trim().split("\t")).toEqual([
      "fetched",
      sha256Hex(one),
      String(one.length),
      filesUnder(join(home, "store"))[0],
      asked,
      `from ${mirror}`
    ])
    const json = await runCli(["fetch", server.url("/missing/two.bin"), "--mirror", server.url("/two.bin"), "--json", "--home", home])
    expect(jsonLines(json.stdout)).toMatchObject([
      { url: server.url("/missing/two.bin"), servedBy: server.url("/two.bin"), status: "ok", sha256: sha256Hex(two) }
    ])
  })

  it("--json lines carry the manifest line of each request", async () => {
    const home = fresh()
    const manifest = join(fresh(), "list.txt")
    writeFileSync(manifest, `# two files\n${server.url("/one.bin")}\n\n${server.url("/gone.bin")}\n${server.url("/two.bin")} ${two.length}\n`)
    const result = await runCli(["fetch", "-i", manifest, "--json", "--retries", "0", "--home", home])
    expect(result.code).toBe(1)
    const byUrl = new Map(jsonLines(result.stdout).map((line) => [line.url, line]))
    expect(byUrl.get(server.url("/one.bin"))).toMatchObject({ line: 2, status: "ok" })
    expect(byUrl.get(server.url("/gone.bin"))).toMatchObject({ line: 4, status: "failed" })
    expect(byUrl.get(server.url("/two.bin"))).toMatchObject({ line: 5, status: "ok", size: two.length })
    expect(result.stdout + result.stderr).not.toContain("internal error")
  })
})

describe("fetch -o FILE / --output-dir DIR", () => {
  it("-o: a verified copy at FILE (its own inode, not the store's), the result line says where", async () => {
    const home = fresh()
    const out = join(fresh(), "copy.bin")
    const result = await runCli(["fetch", server.url("/one.bin"), "-o", out, "--home", home])
    expect(result.code, result.stderr).toBe(0)
    expect(readFileSync(out).equals(one)).toBe(true)
    const [stored] = filesUnder(join(home, "store"))
    expect(statSync(out).ino).not.toBe(statSync(stored!).ino)
    expect(statSync(out).mode & 0o200).not.toBe(0) // the user's file is writable; the store's stays 0444
    expect(result.stdout.trim().split("\t").slice(-1)).toEqual([`saved ${out}`])
    expect(readdirSync(dirname(out))).toEqual(["copy.bin"])
  })

  it("--output-dir: each artifact under its URL's name; --json says where", async () => {
    const home = fresh()
    const dir = join(fresh(), "new", "dir")
    const result = await runCli(["fetch", server.url("/one.bin"), server.url("/two.bin"), "--output-dir", dir, "--json", "--home", home])
    expect(result.code, result.stderr).toBe(0)
    expect(readdirSync(dir).sort()).toEqual(["one.bin", "two.bin"])
    expect(readFileSync(join(dir, "two.bin")).equals(two)).toBe(true)
    const byUrl = new Map(jsonLines(result.stdout).map((line) => [line.url, line]))
    expect(byUrl.get(server.url("/one.bin"))).toMatchObject({ status: "ok", output: join(dir, "one.bin") })
  })

  it("a corrupt stored copy is never copied out: the target keeps its old content, no temp file, exit 1", async () => {
    const home = fresh()
    const first = await runCli(["fetch", server.url("/one.bin"), "--sha256", sha256Hex(one), "--home", home])
    expect(first.code, first.stderr).toBe(0)
    const [stored] = filesUnder(join(home, "store"))
    chmodSync(stored!, 0o644)
    const bad = Buffer.from(one)
    bad[100] = bad[100]! ^ 0xff
    writeFileSync(stored!, bad)
    const dir = fresh()
    const out = join(dir, "one.bin")
    writeFileSync(out, "old content")
    const result = await runCli(["fetch", server.url("/one.bin"), "--sha256", sha256Hex(one), "-o", out, "--json", "--home", home])
    expect(result.code).toBe(1)
    expect(jsonLines(result.stdout)).toMatchObject([{ status: "failed", error: { _tag: "OutputError" } }])
    expect(readFileSync(out, "utf8")).toBe("old content")
    expect(readdirSync(dir)).toEqual(["one.bin"])
    // the kernel copy did not verify, the streamed export found the copy corrupt and said so in the catalog
    const where = await runCli(["whereis", sha256Hex(one), "--json", "--home", home])
    expect(jsonLines(where.stdout)[0]).toMatchObject({ locations: [{ state: "corrupt" }] })
    expect(result.stdout + result.stderr).not.toContain("internal error")
  })

  it("usage errors, before anything is fetched: -o with two URLs, -o and --output-dir, two URLs with one name", async () => {
    const home = fresh()
    const dir = fresh()
    const cases = [
      ["fetch", server.url("/one.bin"), server.url("/two.bin"), "-o", join(dir, "x")],
      ["fetch", server.url("/one.bin"), "-o", join(dir, "x"), "--output-dir", dir],
      ["fetch", server.url("/one.bin"), server.url("/missing/one.bin"), "--output-dir", dir],
      ["fetch", server.url("/one.bin"), "-o", join(dir, "no", "such", "x")]
    ]
    const before = server.hits.get("/one.bin") ?? 0
    for (const args of cases) {
      const result = await runCli([...args, "--home", home])
      expect(result.code, result.stderr).toBe(2)
      expect(result.stdout).toBe("")
    }
    expect(server.hits.get("/one.bin") ?? 0).toBe(before)
    expect(readdirSync(dir)).toEqual([])
  })
})
