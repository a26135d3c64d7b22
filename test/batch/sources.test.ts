import { describe, expect, it } from "@effect/vitest"
import { download, type Sha256, Storage } from "@cargohold/core"
import { inFlightCount } from "@cargohold/core/internal/pipeline/coalesce"
import { CollectedProgress, MemoryBackends } from "@cargohold/core/testing"
import { Effect, Fiber } from "effect"
import { bodyOf, layerBatchTest, refusedUrl, serve, sha256 } from "./helpers.js"

describe("several sources", () => {
  it.live("refused, then wrong bytes, then good: stored, and the catalog shows health and the disagreement", () =>
    Effect.gen(function* () {
      const good = bodyOf("artifact")
      const wrong = bodyOf("something else")
      const bad = yield* serve(() => wrong)
      const mirror = yield* serve(() => good)
      const refused = yield* refusedUrl("/a.bin")
      const artifact = yield* download({
        url: refused,
        sha256: sha256(good),
        priority: 300,
        sources: [
          { url: bad.url("/a.bin"), priority: 200 },
          { url: mirror.url("/a.bin"), priority: 100 }
        ]
      })
      expect(artifact.sha256).toBe(sha256(good))
      expect(artifact.finalUrl).toBe(mirror.url("/a.bin"))
      // a digest mismatch is not retried on the bad mirror when another source is left
      expect(bad.total()).toBe(1)
      expect(mirror.total()).toBe(1)
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(1)
      const sources = yield* catalog.sourcesFor(artifact.sha256)
      const byUrl = new Map(sources.map((s) => [s.url, s]))
      expect(byUrl.get(refused)?.lastErrorTag).toBe("ConnectError")
      expect(byUrl.get(refused)?.consecutiveFailures).toBe(1)
      expect(byUrl.get(bad.url("/a.bin"))?.lastErrorTag).toBe("DigestMismatch")
      expect(byUrl.get(bad.url("/a.bin"))?.servedSha256).toBe(sha256(wrong))
      expect(byUrl.get(mirror.url("/a.bin"))?.lastSuccess).toBeInstanceOf(Date)
      expect(byUrl.get(mirror.url("/a.bin"))?.consecutiveFailures).toBe(0)
      const events = yield* (yield* CollectedProgress).events
      expect(events.filter((e) => e._tag === "Retrying").length).toBe(2)
      expect(yield* storage.openTemps).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("all sources bad: fails with the last error, nothing stored, each source tried once but the last", () =>
    Effect.gen(function* () {
      const wrong = bodyOf("wrong")
      const a = yield* serve(() => wrong)
      const b = yield* serve(() => undefined)
      const exit = yield* Effect.exit(
        download({ url: a.url("/x"), sha256: sha256("right"), priority: 200, sources: [{ url: b.url("/x") }] })
      )
      expect(exit._tag).toBe("Failure")
      expect(String(exit)).toContain("HttpStatusError")
      expect(a.total()).toBe(1)
      expect(b.total()).toBe(1) // 404 is not retried
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(0)
      expect((yield* catalog.list()).length).toBe(0)
      expect(yield* storage.openTemps).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("sources of equal priority share the load", () =>
    Effect.gen(function* () {
      const files = (path: string) => bodyOf(path, 256)
      const one = yield* serve(files)
      const two = yield* serve(files)
      yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => `/f${i}`),
        (path) => download({ url: one.url(path), sha256: sha256(files(path)), sources: [{ url: two.url(path) }] }),
        { concurrency: 8 }
      )
      expect(one.total() + two.total()).toBe(40)
      expect(one.total()).toBeGreaterThan(5)
      expect(two.total()).toBeGreaterThan(5)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("a source that refused is held back for the next artifacts, unless it is the only one left", () =>
    Effect.gen(function* () {
      const files = (path: string) => bodyOf(path, 128)
      const good = yield* serve(files)
      const dead = yield* refusedUrl("")
      for (let i = 0; i < 5; i++) {
        const path = `/g${i}`
        yield* download({ url: `${dead}${path}`, priority: 500, sha256: sha256(files(path)), sources: [{ url: good.url(path) }] })
      }
      expect(good.total()).toBe(5)
      const { catalog } = yield* MemoryBackends
      // only the first artifact tried the dead origin; later ones went to the healthy mirror first
      const tried = yield* Effect.forEach([0, 1, 2, 3, 4], (i) => catalog.sourcesFor(sha256(files(`/g${i}`)) as Sha256))
      const failures = tried.map((rows) => rows.find((r) => r.url.startsWith(dead))?.consecutiveFailures ?? 0)
      expect(failures).toEqual([1, 0, 0, 0, 0])
      // the only source left: tried despite the cooldown
      const exit = yield* Effect.exit(download({ url: `${dead}/only`, sha256: sha256("x") }))
      expect(String(exit)).toContain("ConnectError")
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )
})

describe("coalescing", () => {
  it.live("N concurrent fetches of one artifact make one upstream request", () =>
    Effect.gen(function* () {
      const body = bodyOf("shared", 64 * 1024)
      const server = yield* serve(() => body, { delayMs: 200 })
      const results = yield* Effect.all(
        Array.from({ length: 10 }, () => download({ url: server.url("/shared"), sha256: sha256(body) })),
        { concurrency: "unbounded" }
      )
      expect(server.total()).toBe(1)
      expect(new Set(results.map((a) => a.sha256)).size).toBe(1)
      expect(results.filter((a) => !a.cached).length).toBe(1)
      expect(inFlightCount(yield* Storage)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("one requester's interruption does not cut the shared download off for the others", () =>
    Effect.gen(function* () {
      const body = bodyOf("shared2", 4096)
      const server = yield* serve(() => body, { delayMs: 300 })
      const request = { url: server.url("/s2"), sha256: sha256(body) }
      const first = yield* Effect.fork(download(request))
      yield* Effect.sleep("50 millis")
      const second = yield* Effect.fork(download(request))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(first)
      const artifact = yield* Fiber.join(second)
      expect(artifact.sha256).toBe(sha256(body))
      expect(server.total()).toBe(1)
      const { storage } = yield* MemoryBackends
      expect(yield* storage.openTemps).toBe(0)
      expect(inFlightCount(storage)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("when every requester leaves, the shared download stops and leaves nothing", () =>
    Effect.gen(function* () {
      const body = bodyOf("shared3", 4096)
      const server = yield* serve(() => body, { delayMs: 300 })
      const request = { url: server.url("/s3"), sha256: sha256(body) }
      const a = yield* Effect.fork(download(request))
      const b = yield* Effect.fork(download(request))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      const { storage, catalog } = yield* MemoryBackends
      expect(inFlightCount(storage)).toBe(0)
      yield* Effect.sleep("400 millis")
      expect(yield* storage.openTemps).toBe(0)
      expect((yield* storage.objects).size).toBe(0)
      expect((yield* catalog.list()).length).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )
})
