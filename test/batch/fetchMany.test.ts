import { describe, expect, it } from "@effect/vitest"
import { type BatchResult, Catalog, fetchMany, type ProgressEvent } from "@cargohold/core"
import { CollectedProgress, MemoryBackends } from "@cargohold/core/testing"
import { Chunk, Effect, Stream } from "effect"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { bodyOf, layerBatchNull, layerBatchTest, serve, sha256 } from "./helpers.js"

const counter = { records: 0, writes: 0 }

/** A full garbage collection, without starting node with --expose-gc. */
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const files = (path: string) => (path.startsWith("/missing") ? undefined : bodyOf(path, 2048))

const collect = <R>(stream: Stream.Stream<BatchResult, never, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

describe("fetchMany", () => {
  it.live("one bad artifact: the others are stored, that one failed with its typed error", () =>
    Effect.gen(function* () {
      const server = yield* serve(files)
      const paths = ["/a", "/b", "/missing", "/c", "/d"]
      const requests = paths.map((p) => ({ url: server.url(p), sha256: p === "/missing" ? sha256("x") : sha256(files(p)!) }))
      const results = yield* fetchMany(Stream.fromIterable(requests), { concurrency: 2 }).pipe(
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      expect(results.length).toBe(5)
      const failed = results.filter((r) => r._tag === "Failed")
      expect(failed.length).toBe(1)
      expect(failed[0]!.index).toBe(2)
      if (failed[0]!._tag === "Failed") expect(failed[0]!.error._tag).toBe("HttpStatusError")
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(4)
      expect((yield* catalog.list()).length).toBe(4)
      expect(yield* storage.openTemps).toBe(0)
      const events = yield* (yield* CollectedProgress).events
      const batch = events.filter((e): e is Extract<ProgressEvent, { _tag: "BatchProgress" }> => e._tag === "BatchProgress")
      const last = batch[batch.length - 1]!
      expect(last).toMatchObject({ final: true, aborted: false, done: 4, failed: 1, total: 5, active: 0 })
      expect(last.bytesDone).toBe(4 * 2048)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("duplicates and already stored artifacts make no second request", () =>
    Effect.gen(function* () {
      const server = yield* serve(files, { delayMs: 50 })
      const one = { url: server.url("/dup"), sha256: sha256(files("/dup")!) }
      const first = yield* collect(fetchMany(Stream.make(one, one, one), { concurrency: 3 }))
      expect(first.every((r) => r._tag === "Ok")).toBe(true)
      expect(server.total()).toBe(1)
      const again = yield* collect(fetchMany(Stream.make(one)))
      expect(again[0]!._tag === "Ok" && again[0]!.artifact.cached).toBe(true)
      expect(server.total()).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("catalog reads are grouped (lookupMany), and duplicates in later chunks still make no second request", () =>
    Effect.gen(function* () {
      const server = yield* serve(files, { delayMs: 20 })
      const { catalog } = yield* MemoryBackends
      const lookupMany = catalog.lookupMany
      let groups = 0
      let singles = 0
      const counting = {
        ...catalog,
        lookupMany: (sha256s: Parameters<typeof lookupMany>[0]) => {
          groups += 1
          return lookupMany(sha256s)
        },
        lookup: (sha: Parameters<typeof catalog.lookup>[0]) => {
          singles += 1
          return catalog.lookup(sha)
        }
      }
      const request = (i: number) => ({ url: server.url(`/g${i}`), sha256: sha256(files(`/g${i}`)!) })
      // chunks of 10: the duplicates of /g0 come while it is still running and again after it finished
      const input = Stream.fromIterable([...Array.from({ length: 30 }, (_, i) => request(i % 20)), request(0)]).pipe(
        Stream.rechunk(10)
      )
      const results = yield* collect(fetchMany(input, { concurrency: 4 })).pipe(Effect.provideService(Catalog, counting))
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      expect(server.total()).toBe(20)
      expect(groups).toBeGreaterThan(0)
      expect(groups).toBeLessThanOrEqual(4)
      // only requests whose sha256 the batch was still working on looked themselves up
      expect(singles).toBeLessThan(31)
      expect((yield* catalog.list()).length).toBe(20)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("failFast stops at the first failure", () =>
    Effect.gen(function* () {
      const server = yield* serve(files)
      const requests = [
        { url: server.url("/missing1"), sha256: sha256("a") },
        ...Array.from({ length: 50 }, (_, i) => ({ url: server.url(`/ff${i}`), sha256: sha256(files(`/ff${i}`)!) }))
      ]
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 1, failFast: true }))
      expect(results.length).toBe(1)
      expect(results[0]!._tag).toBe("Failed")
      expect(server.total()).toBeLessThan(5)
      const { storage } = yield* MemoryBackends
      expect(yield* storage.openTemps).toBe(0)
      const events = yield* (yield* CollectedProgress).events
      expect(events[events.length - 1]).toMatchObject({ _tag: "BatchProgress", final: true, aborted: true })
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live("catalog writes are grouped", () =>
    Effect.gen(function* () {
      const server = yield* serve(files)
      const { catalog } = yield* MemoryBackends
      let calls = 0
      let recorded = 0
      const counting = {
        ...catalog,
        recordDownloads: (records: Parameters<typeof catalog.recordDownloads>[0]) => {
          calls += 1
          recorded += records.length
          return Effect.zipRight(Effect.sleep("20 millis"), catalog.recordDownloads(records))
        }
      }
      const requests = Array.from({ length: 60 }, (_, i) => ({ url: server.url(`/w${i}`), sha256: sha256(files(`/w${i}`)!) }))
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 16 })).pipe(
        Effect.provideService(Catalog, counting)
      )
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      expect(recorded).toBe(60)
      expect(calls).toBeLessThan(30)
      expect((yield* catalog.list()).length).toBe(60)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.live(
    "1,000 requests against a local server: all verified, catalog writes grouped, heap stays flat",
    () =>
      Effect.gen(function* () {
        const small = (path: string) => Buffer.from(`artifact ${path}`)
        const server = yield* serve(small)
        const n = 1000
        const requests = Stream.range(0, n - 1).pipe(
          Stream.map((i) => ({ url: server.url(`/s${i}`), sha256: sha256(small(`/s${i}`)) }))
        )
        let ok = 0
        const heap: Array<number> = []
        yield* fetchMany(requests, { concurrency: 32 }).pipe(
          Stream.runForEach((r) =>
            Effect.sync(() => {
              if (r._tag === "Ok") ok += 1
              if (ok % (n / 4) === 0) {
                gc()
                heap.push(process.memoryUsage().heapUsed)
              }
            })
          )
        )
        expect(ok).toBe(n)
        expect(server.total()).toBe(n)
        expect(counter.records).toBe(n)
        expect(counter.writes).toBeLessThanOrEqual(n)
        // nothing is kept per request: after a full GC the heap is the same at a quarter and at the end
        expect(heap.length).toBe(4)
        expect(heap[3]! - heap[0]!).toBeLessThan(8 * 1024 * 1024)
      }).pipe(Effect.scoped, Effect.provide(layerBatchNull(counter))),
    240_000
  )

  it.live("maxInFlightBytes: no more expected bytes in flight than the limit, however many workers", () =>
    Effect.gen(function* () {
      let inFlight = 0
      let most = 0
      const server = yield* serve(files, {
        route: (path, response) => {
          inFlight += 1
          most = Math.max(most, inFlight)
          setTimeout(() => {
            inFlight -= 1
            const body = files(path)!
            response.writeHead(200, { "content-length": body.length }).end(body)
          }, 30)
        }
      })
      const paths = Array.from({ length: 8 }, (_, i) => `/limited${i}`)
      const requests = paths.map((p) => ({ url: server.url(p), sha256: sha256(files(p)!), size: 2048 }))
      // two of 2,048 bytes fit in 5,000, three do not
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 8, maxInFlightBytes: 5000 }))
      expect(results.filter((r) => r._tag === "Ok").length).toBe(8)
      expect(most).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )
})
