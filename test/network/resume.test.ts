/**
 * Issue 3: resume with Range + If-Range against servers that cut bodies, honour or ignore Range, or change
 * the file in between.
 */
import { describe, expect, it } from "@effect/vitest"
import { download } from "@cargohold/core"
import { Effect } from "effect"
import { sha256Hex } from "../support/downloads.js"
import { CollectedProgress, layerNetworkTest } from "../support/layers.js"
import { bytesOf, rangeHandler, serverScoped } from "../support/servers.js"

const size = 1024 * 1024
const file = bytesOf(size)

describe("resume", () => {
  it.scopedLive("a body cut at 50% resumes with Range + If-Range (ETag) and costs about 1× its size", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeHandler(file, { etag: '"v1"', cutAt: size / 2 }))
      const artifact = yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(artifact.size).toBe(size)
      const [first, second] = server.stats.requests
      expect(first!.headers.range).toBeUndefined()
      expect(second!.headers.range).toMatch(/^bytes=\d+-$/)
      expect(second!.headers["if-range"]).toBe('"v1"')
      const ratio = server.stats.bytesServed / size
      console.log(`resume: 1 MiB cut at 50% → ${server.stats.bytesServed} bytes served (${ratio.toFixed(3)}× the size), resumed from ${second!.headers.range}`)
      expect(ratio).toBeLessThanOrEqual(1.1)
      const events = yield* (yield* CollectedProgress).events
      expect(events.some((e) => e._tag === "Retrying")).toBe(true)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("resume with Last-Modified when there is no strong ETag", () =>
    Effect.gen(function* () {
      const lastModified = "Wed, 21 Oct 2015 07:28:00 GMT"
      const server = yield* serverScoped(rangeHandler(file, { etag: 'W/"weak"', lastModified, cutAt: size / 4 }))
      yield* download({ url: server.url("/f"), sha256: sha256Hex(file) })
      expect(server.stats.requests[1]!.headers["if-range"]).toBe(lastModified)
      expect(server.stats.bytesServed).toBeLessThanOrEqual(size * 1.1)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a server that ignores Range answers 200: the transfer restarts cleanly", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeHandler(file, { etag: '"v1"', cutAt: size / 2, ignoreRange: true }))
      const artifact = yield* download({ url: server.url("/f"), sha256: sha256Hex(file) })
      expect(artifact.sha256).toBe(sha256Hex(file))
      expect(server.stats.requests[1]!.headers.range).toBeDefined()
      expect(server.stats.bytesServed).toBeGreaterThanOrEqual(size * 1.5)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a changed validator restarts: the new file is fetched whole and verified", () =>
    Effect.gen(function* () {
      const changed = bytesOf(size, 42)
      let served = 0
      const oldVersion = rangeHandler(file, { etag: '"v1"', cutAt: size / 2 })
      const newVersion = rangeHandler(changed, { etag: '"v2"' })
      const server = yield* serverScoped((req, res, stats) => (served++ === 0 ? oldVersion : newVersion)(req, res, stats))
      const artifact = yield* download({ url: server.url("/f") })
      expect(artifact.sha256).toBe(sha256Hex(changed))
      expect(server.stats.requests[1]!.headers["if-range"]).toBe('"v1"')
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
