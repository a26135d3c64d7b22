/**
 * Process-wide pools: layers built separately (each `layerNode`, each home of the facade) share one undici pool per
 * transport setting, so they share its connections; `httpPool: "private"` gives a layer pools of its own.
 */
import { join } from "node:path"
import { download } from "@cargohold/core"
import { close, fetchArtifact, layerNode } from "@cargohold/node"
import { Effect, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"
import { tempDir } from "./helpers.js"

const body = bytesOf(64 * 1024, 5)
let server: TestServer
const dir = tempDir()

beforeAll(async () => {
  server = await startServer((_req, res) => {
    res.writeHead(200, { "content-length": String(body.length) })
    res.end(body)
  })
})
afterAll(async () => {
  await close()
  await server.close()
  dir.remove()
})

/**
 * undici marks a connection free again (its "drain") one turn of the event loop after the response ended; a
 * request sent before that turn takes a second connection of the same pool. The pause keeps the count about
 * sharing, not about that timing.
 */
const drained = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Builds `n` runtimes (all alive at once) and downloads one URL through each, one after the other. */
const downloadThroughEach = async (n: number, httpPool: "shared" | "private" | undefined, tag: string) => {
  const runtimes = Array.from({ length: n }, () =>
    ManagedRuntime.make(layerNode({ catalog: "memory:", store: "memory:", httpPool }))
  )
  try {
    for (const [i, runtime] of runtimes.entries()) {
      await runtime.runPromise(download({ url: server.url(`/${tag}/${i}`) }))
      await drained()
    }
  } finally {
    await Promise.all(runtimes.map((runtime) => runtime.dispose()))
  }
}

describe("process-wide pools", () => {
  it("4 layerNode builds fetching from one server use 1 connection", async () => {
    const before = server.stats.connections
    await downloadThroughEach(4, undefined, "shared")
    expect(server.stats.requests.filter((r) => r.url.startsWith("/shared/")).length).toBe(4)
    expect(server.stats.connections - before).toBe(1)
  })

  it('httpPool: "private" gives each build its own connections', async () => {
    const before = server.stats.connections
    await downloadThroughEach(4, "private", "private")
    expect(server.stats.connections - before).toBe(4)
  })

  it("the last layer to close releases the pool's sockets", async () => {
    await downloadThroughEach(1, undefined, "released")
    // the shared pool was destroyed with its last holder: no socket of it is left open on the server
    await Effect.runPromise(Effect.sleep("100 millis"))
    expect(server.stats.open).toBe(0)
  })

  it("the facade's homes share one pool too", async () => {
    const before = server.stats.connections
    for (const name of ["a", "b", "c"]) {
      await fetchArtifact(server.url(`/facade/${name}`), { home: join(dir.path, name), catalog: "memory:", store: "memory:" })
      await drained()
    }
    expect(server.stats.connections - before).toBe(1)
  })
})
