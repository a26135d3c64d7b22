/**
 * Issue 2 over real sockets: the Node HTTP layer against Node servers started in the test.
 */
import { describe, expect, it } from "@effect/vitest"
import { download } from "@cargohold/core"
import { Duration, Effect } from "effect"
import type { ServerResponse } from "node:http"
import { failureOf, sha256Hex, tryDownload } from "../support/downloads.js"
import { CollectedProgress, expectNothingLeft, layerNetworkTest, MemoryBackends } from "../support/layers.js"
import { bytesOf, rangeHandler, serverScoped, startServer } from "../support/servers.js"

const body = bytesOf(300 * 1024)
const small = bytesOf(1000, 3)
const nothingLeft = { objects: 0, temps: 0, catalogued: 0 }

describe("HTTP downloads over real sockets", () => {
  it.scopedLive("fetches, verifies, stores and catalogs (streamed and small bodies)", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => res.end(req.url === "/small" ? small : body))
      const big = yield* download({ url: server.url("/big"), sha256: sha256Hex(body), size: body.length })
      expect(big.sha256).toBe(sha256Hex(body))
      expect(big.size).toBe(body.length)
      expect(big.finalUrl).toBe(server.url("/big"))
      const little = yield* download({ url: server.url("/small"), digests: { md5: undefined } })
      expect(little.sha256).toBe(sha256Hex(small))
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(2)
      expect((yield* catalog.list()).length).toBe(2)
      expect(yield* storage.openTemps).toBe(0)
      expect(server.stats.requests[0]?.headers["accept-encoding"]).toBe("identity")
      expect(server.stats.requests[0]?.headers["user-agent"]).toMatch(/^cargohold\//)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("the same artifact twice: one stored copy, no second request", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((_req, res) => res.end(body))
      const first = yield* download({ url: server.url("/a"), sha256: sha256Hex(body) })
      const second = yield* download({ url: server.url("/a"), sha256: sha256Hex(body) })
      expect(first.cached).toBe(false)
      expect(second.cached).toBe(true)
      expect(server.stats.requests.length).toBe(1)
      const { storage } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(1)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("digest mismatch: typed error naming expected and actual, retried, nothing left", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((_req, res) => res.end(body))
      const wrong = sha256Hex("something else")
      const error = failureOf(yield* tryDownload({ url: server.url("/a"), sha256: wrong }))
      expect(error._tag).toBe("DigestMismatch")
      expect(error.message).toContain(wrong)
      expect(error.message).toContain(sha256Hex(body))
      expect(error.message).toContain(server.url("/a"))
      // asked again once, not the whole schedule: the same source gives the same wrong bytes (issue 11)
      expect(server.stats.requests.length).toBe(2)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("expected size too small on an endless body: stops within one chunk, one request", () =>
    Effect.gen(function* () {
      const chunk = bytesOf(16 * 1024, 5)
      const endless = (res: ServerResponse) => {
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) {}
          if (!res.destroyed) res.once("drain", pump)
        }
        pump()
      }
      const server = yield* serverScoped((_req, res) => {
        res.writeHead(200, { "content-type": "application/octet-stream" })
        endless(res)
      })
      const error = failureOf(yield* tryDownload({ url: server.url("/endless"), size: 100_000 }))
      expect(error._tag).toBe("SizeMismatch")
      if (error._tag === "SizeMismatch") {
        expect(error.actual).toBeGreaterThan(100_000)
        expect(error.actual).toBeLessThanOrEqual(100_000 + 256 * 1024)
      }
      expect(server.stats.requests.length).toBe(1)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a body cut mid-stream is retried (no validator: from the start)", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeHandler(body, { cutAt: 100 * 1024 }))
      const artifact = yield* download({ url: server.url("/cut"), sha256: sha256Hex(body) })
      expect(artifact.size).toBe(body.length)
      expect(server.stats.requests.length).toBe(2)
      expect(server.stats.requests[1]?.headers.range).toBeUndefined()
      const events = yield* (yield* CollectedProgress).events
      const retry = events.find((e) => e._tag === "Retrying")
      expect(retry?._tag === "Retrying" && retry.reason).toMatch(/TransferError/)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a short body on every attempt fails with nothing left", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((_req, res) => {
        res.writeHead(200, { "content-length": String(body.length) })
        res.write(body.subarray(0, 1000), () => res.socket?.destroy())
      })
      const error = failureOf(yield* tryDownload({ url: server.url("/short") }))
      expect(error._tag).toBe("TransferError")
      expect(server.stats.requests.length).toBe(4)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("404: exactly one request, HttpStatusError", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((_req, res) => res.writeHead(404).end("no"))
      const error = failureOf(yield* tryDownload({ url: server.url("/missing") }))
      expect(error._tag).toBe("HttpStatusError")
      expect(error.message).toContain("404")
      expect(error.message).toContain(server.url("/missing"))
      expect(server.stats.requests.length).toBe(1)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("503 twice then 200", () =>
    Effect.gen(function* () {
      let n = 0
      const server = yield* serverScoped((_req, res) => (++n <= 2 ? res.writeHead(503).end() : res.end(small)))
      const artifact = yield* download({ url: server.url("/flaky"), sha256: sha256Hex(small) })
      expect(artifact.size).toBe(small.length)
      expect(server.stats.requests.length).toBe(3)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("429 with Retry-After: 1 waits at least a second", () =>
    Effect.gen(function* () {
      let n = 0
      const server = yield* serverScoped((_req, res) =>
        ++n === 1 ? res.writeHead(429, { "retry-after": "1" }).end() : res.end(small)
      )
      yield* download({ url: server.url("/throttled"), sha256: sha256Hex(small) })
      const [first, second] = server.stats.requests
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("connection refused: ConnectError after the retries, nothing left", () =>
    Effect.gen(function* () {
      const gone = yield* Effect.promise(() => startServer((_req, res) => res.end()))
      yield* Effect.promise(() => gone.close())
      const error = failureOf(yield* tryDownload({ url: gone.url("/x") }))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain("ECONNREFUSED")
      const events = yield* (yield* CollectedProgress).events
      expect(events.filter((e) => e._tag === "Retrying").length).toBe(3)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("idle timeout on a stalled body and on missing headers", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => {
        if (req.url === "/stall-body") {
          res.writeHead(200, { "content-length": String(body.length) })
          res.write(body.subarray(0, 1000))
        }
        // otherwise: never answer
      })
      const body1 = failureOf(yield* tryDownload({ url: server.url("/stall-body") }))
      expect(body1._tag).toBe("TimeoutError")
      if (body1._tag === "TimeoutError") expect(body1.phase).toBe("idle-read")
      const headers = failureOf(yield* tryDownload({ url: server.url("/stall-headers") }))
      expect(headers._tag).toBe("TimeoutError")
      if (headers._tag === "TimeoutError") expect(headers.phase).toBe("response")
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { idleTimeout: Duration.millis(300), attempts: 2 } })))
  )

  it.scopedLive("invalid URL and unknown scheme: InvalidRequest before any I/O", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((_req, res) => res.end())
      for (const url of ["not a url", `ftp://127.0.0.1:${server.port}/x`, "http://[::1/x", "https://exa mple.test/x"]) {
        const error = failureOf(yield* tryDownload({ url }))
        expect(error._tag).toBe("InvalidRequest")
      }
      expect(server.stats.connections).toBe(0)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a server never sees more simultaneous connections than the per-host limit", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => setTimeout(() => res.end(`${req.url}`), 50))
      const urls = Array.from({ length: 20 }, (_, i) => server.url(`/f${i}`))
      const artifacts = yield* Effect.forEach(urls, (url) => download({ url }), { concurrency: "unbounded" })
      expect(artifacts.length).toBe(20)
      expect(server.stats.maxOpen).toBeLessThanOrEqual(3)
      expect(server.stats.maxOpen).toBeGreaterThanOrEqual(2)
    }).pipe(Effect.provide(layerNetworkTest({ limits: { global: 64, perHost: 3 } })))
  )
})
