/**
 * `cargohold repo …` end to end: the built binary against a loopback server, on the embedded SQLite catalog.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { bytesOf, type FileServer, jsonLines, runCli, serveFiles, sha256Hex, tempDir } from "./helpers.js"

const a = bytesOf(3000, 1)
const b = bytesOf(5000, 2)
const lazy = bytesOf(7000, 3)
let server: FileServer
const home = tempDir("cargohold-repo-")
const env = { CARGOHOLD_HOME: home.path }

beforeAll(async () => {
  server = await serveFiles(new Map([["/a", a], ["/b", b], ["/lazy", lazy]]))
})
afterAll(async () => {
  await server.close()
  home.remove()
})

const manifest = (name: string, lines: ReadonlyArray<Record<string, unknown>>) => {
  const path = join(home.path, name)
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join("\n"))
  return path
}

describe("cargohold repo", () => {
  it("create, add (fetched and on demand), ls, versions, diff, remove", async () => {
    expect(await runCli(["repo", "create", "main"], { env })).toMatchObject({ code: 0 })
    const again = await runCli(["repo", "create", "main"], { env })
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("already exists")

    const fetched = manifest("m.jsonl", [
      { url: server.url("/a"), path: "pool/a.bin", sha256: sha256Hex(a), size: a.length, metadata: { arch: "amd64" } },
      { url: server.url("/b"), path: "b.bin" },
      { url: server.url("/missing"), path: "gone.bin" }
    ])
    const add = await runCli(["repo", "add", "main", "-i", fetched, "--json"], { env })
    expect(add.code, add.stderr).toBe(1) // one artifact failed: the others are added
    expect(jsonLines(add.stdout).map((r) => r.status).sort()).toEqual(["failed", "ok", "ok"])
    expect(add.stderr).toContain("main@1")

    const onDemand = manifest("lazy.jsonl", [{ url: server.url("/lazy"), path: "pool/lazy.bin", sha256: sha256Hex(lazy), size: lazy.length }])
    const hitsBefore = server.hits.get("/lazy") ?? 0
    const declared = await runCli(["repo", "add", "main", "-i", onDemand, "--on-demand"], { env })
    expect(declared.code, declared.stderr).toBe(0)
    expect(server.hits.get("/lazy") ?? 0).toBe(hitsBefore) // declared, not downloaded

    const ls = await runCli(["repo", "ls", "main", "--json"], { env })
    expect(ls.code, ls.stderr).toBe(0)
    expect(jsonLines(ls.stdout).map((u) => [u.path, u.sha256, u.stored])).toEqual([
      ["b.bin", sha256Hex(b), true],
      ["pool/a.bin", sha256Hex(a), true],
      ["pool/lazy.bin", sha256Hex(lazy), false]
    ])
    expect(jsonLines(ls.stdout)[1]!.metadata).toEqual({ arch: "amd64" })
    const ls1 = await runCli(["repo", "ls", "main@1"], { env })
    expect(ls1.stdout).not.toContain("lazy")
    expect(ls1.stdout).toContain("pool/a.bin")

    const removed = await runCli(["repo", "remove", "main", "b.bin"], { env })
    expect(removed.code, removed.stderr).toBe(0)
    const versions = jsonLines((await runCli(["repo", "versions", "main", "--json"], { env })).stdout)
    expect(versions.map((v) => [v.version, v.units, v.added, v.removed])).toEqual([
      [0, 0, 0, 0],
      [1, 2, 2, 0],
      [2, 3, 1, 0],
      [3, 2, 0, 1]
    ])
    const diff = jsonLines((await runCli(["repo", "diff", "main", "1", "latest", "--json"], { env })).stdout)[0]!
    expect((diff.added as Array<{ path: string }>).map((u) => u.path)).toEqual(["pool/lazy.bin"])
    expect((diff.removed as Array<{ path: string }>).map((u) => u.path)).toEqual(["b.bin"])
  })

  it("bad input exits 2 and changes nothing; unknown repositories and paths exit 1", async () => {
    await runCli(["repo", "create", "strict"], { env })
    const noPath = manifest("nopath.jsonl", [{ url: server.url("/a") }, { url: server.url("/b"), path: "../../etc/passwd" }])
    const bad = await runCli(["repo", "add", "strict", "-i", noPath], { env })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("line 1")
    expect(bad.stderr).toContain("line 2")
    const lazyNoDigest = manifest("nodigest.jsonl", [{ url: server.url("/a"), path: "a" }])
    expect((await runCli(["repo", "add", "strict", "-i", lazyNoDigest, "--on-demand"], { env })).code).toBe(2)
    expect((await runCli(["repo", "ls", "bad/name"], { env })).code).toBe(2)
    expect((await runCli(["repo", "ls", "strict@x"], { env })).code).toBe(2)
    expect((await runCli(["repo", "ls", "nosuch"], { env })).code).toBe(1)
    expect((await runCli(["repo", "ls", "strict@7"], { env })).stderr).toContain("no version 7")
    expect((await runCli(["repo", "remove", "strict", "nothing"], { env })).code).toBe(1)
    expect((await runCli(["repo", "remove", "strict", "a/../b"], { env })).code).toBe(2)
    const versions = jsonLines((await runCli(["repo", "versions", "strict", "--json"], { env })).stdout)
    expect(versions.length).toBe(1)
  })
})
