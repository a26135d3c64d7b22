import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { DigestMismatch, HttpStatusError, InvalidRequest, StorageError } from "@cargohold/core"
import { close, fetchArtifact } from "@cargohold/node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytes, filesUnder, sha256Hex, startServer, type TestServer, tempDir } from "./helpers.js"

const dir = tempDir()
const home = join(dir.path, "home")
const body = bytes(700_000, 11)
let server: TestServer

beforeAll(async () => {
  server = await startServer((req, res) => {
    if (req.url === "/a.bin") {
      res.writeHead(200, { "content-length": String(body.length) })
      res.end(body)
    } else {
      res.writeHead(404).end()
    }
  })
})
afterAll(async () => {
  await close()
  await server.close()
  dir.remove()
})

// the catalog is in memory here; the embedded SQLite default is @cargohold/catalog-sql's to test
const options = { home, catalog: "memory:" }

describe("fetchArtifact (Promise facade)", () => {
  it("downloads, stores read-only under the home, then answers from the store without a request", async () => {
    const result = await fetchArtifact(server.url("/a.bin"), { ...options, sha256: sha256Hex(body), size: body.length })
    expect(result.sha256).toBe(sha256Hex(body))
    expect(result.size).toBe(body.length)
    expect(result.cached).toBe(false)
    expect(result.path).toBe(join(home, "store", result.key))
    expect(readFileSync(result.path!).equals(Buffer.from(body))).toBe(true)
    expect(statSync(result.path!).mode & 0o777).toBe(0o444)
    expect(statSync(home).mode & 0o777).toBe(0o700)
    const again = await fetchArtifact(server.url("/a.bin"), { ...options, sha256: sha256Hex(body) })
    expect(again.cached).toBe(true)
    expect(server.requests.filter((r) => r === "/a.bin").length).toBe(1)
  })

  it("rejects with the typed error instances, storing nothing", async () => {
    const storeFiles = () => filesUnder(join(home, "store"))
    const before = storeFiles()
    const wrong = await fetchArtifact(server.url("/a.bin"), {
      ...options,
      digests: { sha512: "ab".repeat(64) }
    }).catch((error: unknown) => error)
    expect(wrong).toBeInstanceOf(DigestMismatch)
    expect((wrong as DigestMismatch).expected).toBe("ab".repeat(64))
    expect((wrong as DigestMismatch).message).toContain(server.url("/a.bin"))
    expect(storeFiles()).toEqual(before)
    expect(filesUnder(join(home, "store", ".tmp"))).toEqual([])

    const missing = await fetchArtifact(server.url("/nope"), options).catch((error: unknown) => error)
    expect(missing).toBeInstanceOf(HttpStatusError)
    expect((missing as HttpStatusError).status).toBe(404)

    await expect(fetchArtifact("ftp://127.0.0.1/x", options)).rejects.toBeInstanceOf(InvalidRequest)
  })

  it("a bad store URL rejects with StorageError; a good configuration still works afterwards", async () => {
    const bad = await fetchArtifact(server.url("/a.bin"), { ...options, store: "nope://x" }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(StorageError)
    expect((bad as StorageError).message).toMatch(/unknown store scheme 'nope'/)
    const ok = await fetchArtifact(server.url("/a.bin"), { ...options, sha256: sha256Hex(body) })
    expect(ok.cached).toBe(true)
  })

  it("close() releases the runtimes; the next call builds a fresh one", async () => {
    await close()
    const result = await fetchArtifact(server.url("/a.bin"), { ...options, store: "temp:" })
    expect(result.cached).toBe(false)
    expect(result.path).toBeDefined()
    expect(statSync(result.path!).size).toBe(body.length)
    await close()
    expect(() => statSync(result.path!)).toThrow()
  })

  it("on the embedded default (SQLite catalog under the home): a second runtime finds what the first stored", async () => {
    const sqliteHome = join(dir.path, "sqlite-home")
    const first = await fetchArtifact(server.url("/a.bin"), { home: sqliteHome, sha256: sha256Hex(body) })
    expect(first.cached).toBe(false)
    expect(filesUnder(sqliteHome)).toContain("catalog.db")
    await close()
    const requests = server.requests.length
    const second = await fetchArtifact(server.url("/a.bin"), { home: sqliteHome, sha256: sha256Hex(body) })
    expect(second.cached).toBe(true)
    expect(second.path).toBe(first.path)
    expect(server.requests.length).toBe(requests)
  })
})
