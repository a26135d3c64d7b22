/**
 * The README's two API examples (test/cli/examples/) run against a real loopback server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { mirror } from "./examples/effect-api.js"
import { fetchVerified, shutdown } from "./examples/promise-api.js"
import { bytesOf, type FileServer, serveFiles, sha256Hex, tempDir } from "./helpers.js"

const a = bytesOf(5000, 21)
const b = bytesOf(70_000, 22)
let server: FileServer
const home = tempDir()

beforeAll(async () => {
  server = await serveFiles(new Map([["/a.rpm", a], ["/b.rpm", b]]))
})
afterAll(async () => {
  await shutdown()
  await server.close()
  home.remove()
})

describe("README examples", () => {
  it("Effect API: mirrors a batch, reports the failure, stores the rest", async () => {
    const result = await Effect.runPromise(
      mirror(home.path + "/effect", [
        { url: server.url("/a.rpm"), sha256: sha256Hex(a), size: a.length },
        { url: server.url("/b.rpm"), sha256: sha256Hex("other bytes") },
        { url: server.url("/missing.rpm") }
      ])
    )
    expect(result).toEqual({ failed: 2, index: sha256Hex(a) })
  })

  it("Promise API: returns the stored file, undefined on a digest mismatch", async () => {
    const path = await fetchVerified(server.url("/b.rpm"), sha256Hex(b), b.length, home.path + "/promise")
    expect(path).toBeDefined()
    expect(sha256Hex(readFileSync(path!))).toBe(sha256Hex(b))
    expect(await fetchVerified(server.url("/a.rpm"), sha256Hex("other bytes"), a.length, home.path + "/promise")).toBeUndefined()
  })
})
