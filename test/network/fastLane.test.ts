/**
 * A batch's fast lane (pipeline/fastLane.ts) over real sockets: whatever the lane takes or hands over, a batch's
 * results, store, catalog and events are the pipeline's. Run over both transfer paths (vitest.config.ts): over the
 * platform HttpClient there is no lane and the same expectations hold, except the one request a declining host
 * costs the lane.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { type BatchResult, download, fetchMany, type ProgressEvent, Remote, type Sha256 } from "@cargohold/core"
import { Chunk, Duration, Effect, Fiber, Stream } from "effect"
import { sha256Hex } from "../support/downloads.js"
import { CollectedProgress, expectNothingLeft, layerNetworkTest, MemoryBackends, transferPath } from "../support/layers.js"
import { bytesOf, serverScoped, startServer } from "../support/servers.js"

const nothingLeft = { objects: 0, temps: 0, catalogued: 0 }
const files = Array.from({ length: 24 }, (_, i) => bytesOf(4096 + i, i + 1))
const lean = transferPath === "lean"

const collect = <E, R>(stream: Stream.Stream<BatchResult, E, R>) =>
  Effect.map(Stream.runCollect(stream), (chunk) => Chunk.toReadonlyArray(chunk).slice().sort((a, b) => a.index - b.index))

const requestsFor = (url: (path: string) => string) =>
  files.map((bytes, i) => ({ url: url(`/f${i}`), sha256: sha256Hex(bytes), size: bytes.length }))

const fileOf = (url: string | undefined) => files[Number((url ?? "").replace(/^.*\/f/, ""))]

/** Each download's event tags (Bytes left out), by progress id. */
const tagsById = (events: ReadonlyArray<ProgressEvent>) => {
  const perDownload = new Map<number, Array<string>>()
  for (const event of events) {
    if (!("id" in event) || event._tag === "Bytes") continue
    perDownload.set(event.id, [...(perDownload.get(event.id) ?? []), event._tag])
  }
  return perDownload
}

/** A server that refuses each path once with `status`, then serves its file. */
const refusingOnce = (status: number, headers: Record<string, string | number>) => {
  const seen = new Set<string>()
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/"
    if (!seen.has(path)) {
      seen.add(path)
      res.writeHead(status, headers).end()
      return
    }
    const bytes = fileOf(path)
    res.writeHead(200, { "content-length": bytes!.length }).end(bytes)
  }
}

/** The events of one kind. */
const eventsTagged = <T extends ProgressEvent["_tag"]>(events: ReadonlyArray<ProgressEvent>, tag: T) =>
  events.filter((e): e is Extract<ProgressEvent, { _tag: T }> => e._tag === tag)

const count = (tags: ReadonlyArray<string>, tag: string) => tags.filter((t) => t === tag).length

describe("a batch's fast lane", () => {
  it.scopedLive("pinned small files: each stored and catalogued after one request, its events in order", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => {
        const bytes = fileOf(req.url)
        res.writeHead(200, { "content-length": bytes!.length, etag: '"v1"' }).end(bytes)
      })
      const results = yield* collect(fetchMany(Stream.fromIterable(requestsFor(server.url)), { concurrency: 8 }))
      expect(results.map((r) => r._tag)).toEqual(files.map(() => "Ok"))
      expect(server.stats.requests.length).toBe(files.length)
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(files.length)
      expect(yield* storage.openTemps).toBe(0)
      const entry = yield* catalog.lookup(sha256Hex(files[3]!) as Sha256)
      expect(entry._tag).toBe("Some")
      const sources = yield* catalog.sourcesFor(sha256Hex(files[3]!) as Sha256)
      expect(sources.map((s) => [s.url, s.etag])).toEqual([[server.url("/f3"), '"v1"']])
      const events = yield* (yield* CollectedProgress).events
      const perDownload = tagsById(events)
      expect(perDownload.size).toBe(files.length)
      for (const tags of perDownload.values()) expect(tags).toEqual(["Queued", "Started", "Done"])
      const bytes = eventsTagged(events, "Bytes")
      expect(bytes.length).toBeGreaterThanOrEqual(files.length)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a redirecting host: every artifact arrives through the redirect; the lane asks it once", () =>
    Effect.gen(function* () {
      const target = yield* serverScoped((req, res) => {
        const bytes = fileOf(req.url)
        res.writeHead(200, { "content-length": bytes!.length }).end(bytes)
      })
      const mirror = yield* serverScoped((req, res) => res.writeHead(302, { location: target.url(req.url ?? "/") }).end())
      const results = yield* collect(fetchMany(Stream.fromIterable(requestsFor(mirror.url)), { concurrency: 1 }))
      expect(results.every((r) => r._tag === "Ok" && r.artifact.finalUrl.startsWith(target.origin))).toBe(true)
      expect(target.stats.requests.length).toBe(files.length)
      // the lane's own request to the redirecting host, then the host is the pipeline's
      expect(mirror.stats.requests.length).toBe(files.length + (lean ? 1 : 0))
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("wrong bytes: a typed DigestMismatch for each after two requests, nothing stored, the disagreement recorded", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => {
        const bytes = Buffer.from(fileOf(req.url)!)
        bytes[0] = bytes[0]! ^ 0xff
        res.writeHead(200, { "content-length": bytes.length }).end(bytes)
      })
      const requests = requestsFor(server.url).slice(0, 4)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 4 }))
      expect(results.map((r) => (r._tag === "Failed" ? r.error._tag : r._tag))).toEqual(requests.map(() => "DigestMismatch"))
      const { catalog } = yield* MemoryBackends
      const sources = yield* catalog.sourcesFor(requests[0]!.sha256 as Sha256)
      expect(sources[0]?.lastErrorTag).toBe("DigestMismatch")
      expect(sources[0]?.servedSha256).toMatch(/^[0-9a-f]{64}$/)
      expect(yield* expectNothingLeft).toEqual({ ...nothingLeft, catalogued: 0 })
      const events = yield* (yield* CollectedProgress).events
      expect(events.filter((e) => e._tag === "Failed").length).toBe(requests.length)
      // the lane's attempt is the pipeline's first: a source that served wrong bytes is asked once more, no more
      expect(server.stats.requests.length).toBe(2 * requests.length)
      for (const tags of tagsById(events).values()) {
        expect(tags[0]).toBe("Queued")
        expect(count(tags, "Started")).toBe(1)
        expect(count(tags, "Retrying")).toBe(1)
        expect(tags.at(-1)).toBe("Failed")
      }
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("answers that settle it at once cost one request: a 404, a body announced longer than its size", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => {
        const path = req.url ?? "/"
        const bytes = fileOf(path)!
        if (path === "/f0" || path === "/f1") res.writeHead(404, { "content-length": 9 }).end("not found")
        else res.writeHead(200, { "content-length": bytes.length + 10 }).end(Buffer.concat([bytes, Buffer.alloc(10)]))
      })
      const requests = requestsFor(server.url).slice(0, 4)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 2 }))
      expect(results.map((r) => (r._tag === "Failed" ? r.error._tag : r._tag))).toEqual([
        "HttpStatusError",
        "HttpStatusError",
        "SizeMismatch",
        "SizeMismatch"
      ])
      expect(server.stats.requests.length).toBe(requests.length)
      const { catalog } = yield* MemoryBackends
      for (const [i, tag] of [[0, "HttpStatusError"], [2, "SizeMismatch"]] as const) {
        const sources = yield* catalog.sourcesFor(requests[i]!.sha256 as Sha256)
        expect(sources[0]?.lastErrorTag).toBe(tag)
      }
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
      const perDownload = tagsById(yield* (yield* CollectedProgress).events)
      expect(perDownload.size).toBe(requests.length)
      for (const tags of perDownload.values()) {
        expect(tags).toEqual(["Queued", "Started", "SourceFailed", "Failed"])
      }
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a 429 with Retry-After: the host backs off before it is asked again, then every file arrives", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(refusingOnce(429, { "content-length": 0, "retry-after": "1" }))
      const requests = requestsFor(server.url).slice(0, 2)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 1 }))
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      expect(server.stats.requests.length).toBe(2 * requests.length)
      const events = yield* (yield* CollectedProgress).events
      const backoffs = eventsTagged(events, "HostBackoff")
      expect(backoffs.length).toBeGreaterThanOrEqual(1)
      expect(backoffs[0]?.status).toBe(429)
      const times = server.stats.requests.map((r) => r.at)
      // the 429 and the next request to the host: Retry-After's second apart (the server's clock, 10 % slack)
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(900)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a remote's requests per second hold for the batch's small files", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => {
        const bytes = fileOf(req.url)
        res.writeHead(200, { "content-length": bytes!.length }).end(bytes)
      })
      const remote = new Remote({ name: "paced", url: server.origin, headers: {}, limits: { requestsPerSecond: 5 } })
      const requests = requestsFor((path) => path).slice(0, 8).map((r) => ({ ...r, remote }))
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 8 }))
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      const times = server.stats.requests.map((r) => r.at).sort((a, b) => a - b)
      // 8 at 5/s: arrivals 2..8 over ≈ 1200 ms (unlimited, a few ms); the bound leaves 25 % for a busy machine
      expect(times.at(-1)! - times[1]!).toBeGreaterThanOrEqual(900)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a remote whose connection cannot be made: a typed failure for each, announced once, no request", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((_req, res) => res.end("never"))
      const remote = new Remote({ name: "bad-tls", url: server.origin, headers: {}, tls: { caCert: "/nonexistent/ca.pem" } })
      const requests = requestsFor((path) => path).slice(0, 3).map((r) => ({ ...r, remote }))
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 3 }))
      const tags = results.map((r) => (r._tag === "Failed" ? r.error._tag : r._tag))
      expect(new Set(tags).size).toBe(1)
      expect(tags[0]).not.toBe("Ok")
      expect(server.stats.requests.length).toBe(0)
      const perDownload = tagsById(yield* (yield* CollectedProgress).events)
      expect(perDownload.size).toBe(requests.length)
      for (const tags of perDownload.values()) {
        expect(tags[0]).toBe("Queued")
        expect(count(tags, "Failed")).toBe(1)
        expect(tags.at(-1)).toBe("Failed")
      }
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a 503 before each file, then the file: stored, within the retry budget", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(refusingOnce(503, { "content-length": 0 }))
      const requests = requestsFor(server.url).slice(0, 6)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 2 }))
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      expect(server.stats.requests.length).toBe(2 * requests.length)
      const { storage } = yield* MemoryBackends
      expect(yield* storage.openTemps).toBe(0)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a body cut short once: the artifact is stored whole, no temp object left", () =>
    Effect.gen(function* () {
      let cut = false
      const server = yield* serverScoped((req, res) => {
        const bytes = fileOf(req.url)!
        res.writeHead(200, { "content-length": bytes.length })
        if (!cut) {
          cut = true
          res.write(bytes.subarray(0, 1000))
          setTimeout(() => res.destroy(), 20)
          return
        }
        res.end(bytes)
      })
      const requests = requestsFor(server.url).slice(0, 3)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 1 }))
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      const { storage } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(3)
      expect(yield* storage.openTemps).toBe(0)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("the same sha256 twice in one batch: one request, both results", () =>
    Effect.gen(function* () {
      const bytes = files[0]!
      const server = yield* serverScoped((_req, res) => {
        setTimeout(() => res.writeHead(200, { "content-length": bytes.length }).end(bytes), 100)
      })
      const one = { url: server.url("/a"), sha256: sha256Hex(bytes), size: bytes.length }
      const two = { ...one, url: server.url("/b") }
      const results = yield* collect(fetchMany(Stream.make(one, two), { concurrency: 2 }))
      expect(results.map((r) => r._tag)).toEqual(["Ok", "Ok"])
      expect(server.stats.requests.length).toBe(1)
      expect(results.filter((r) => r._tag === "Ok" && r.artifact.cached).length).toBe(1)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a download outside the batch that joined it survives the batch's interruption", () =>
    Effect.gen(function* () {
      const bytes = files[1]!
      const server = yield* serverScoped((_req, res) => {
        setTimeout(() => res.writeHead(200, { "content-length": bytes.length }).end(bytes), 300)
      })
      const request = { url: server.url("/x"), sha256: sha256Hex(bytes), size: bytes.length }
      const batch = yield* Effect.fork(collect(fetchMany(Stream.make(request))))
      yield* Effect.sleep("100 millis")
      const alone = yield* Effect.fork(download(request))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(batch)
      const artifact = yield* Fiber.join(alone)
      expect(artifact.sha256).toBe(sha256Hex(bytes))
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(1)
      expect((yield* catalog.list()).length).toBe(1)
      expect(yield* storage.openTemps).toBe(0)
      // a shared run (the pipeline's) goes on for the joiner; the lane's claim ends with the batch and the joiner
      // starts over
      expect(server.stats.requests.length).toBe(lean ? 2 : 1)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a body announced shorter than its size: retried as a broken transfer, the retry budget's requests", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => {
        const bytes = fileOf(req.url)!
        res.writeHead(200, { "content-length": bytes.length - 10 }).end(bytes.subarray(0, bytes.length - 10))
      })
      const requests = requestsFor(server.url).slice(0, 2)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 2 }))
      expect(results.map((r) => (r._tag === "Failed" ? r.error._tag : r._tag))).toEqual(["SizeMismatch", "SizeMismatch"])
      // attempts: 2 (the settings below): the lane's request and the pipeline's one retry, per file
      expect(server.stats.requests.length).toBe(2 * requests.length)
      for (const tags of tagsById(yield* (yield* CollectedProgress).events).values()) {
        expect(tags).toEqual(["Queued", "Started", "Retrying", "SourceFailed", "Failed"])
      }
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { attempts: 2 } })))
  )

  it.scopedLive("a body that stalls once: TimeoutError (idle-read) counted as the first attempt, then stored", () =>
    Effect.gen(function* () {
      const stalled = new Set<string>()
      const server = yield* serverScoped((req, res) => {
        const path = req.url ?? "/"
        const bytes = fileOf(path)!
        res.writeHead(200, { "content-length": bytes.length })
        if (stalled.has(path)) return res.end(bytes)
        stalled.add(path)
        res.write(bytes.subarray(0, 1000))
      })
      const requests = requestsFor(server.url).slice(0, 2)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 2 }))
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      expect(server.stats.requests.length).toBe(2 * requests.length)
      const events = yield* (yield* CollectedProgress).events
      const retries = eventsTagged(events, "Retrying")
      expect(retries.length).toBe(requests.length)
      expect(retries.every((e) => e.attempt === 2 && e.reason.startsWith("TimeoutError"))).toBe(true)
      const { storage } = yield* MemoryBackends
      expect(yield* storage.openTemps).toBe(0)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { idleTimeout: Duration.millis(300), attempts: 2 } })))
  )

  it.scopedLive("a host that refuses connections: ConnectError after the retry budget's attempts, not one more", () =>
    Effect.gen(function* () {
      const gone = yield* Effect.promise(() => startServer((_req, res) => res.end()))
      yield* Effect.promise(() => gone.close())
      const requests = requestsFor(gone.url).slice(0, 2)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 1 }))
      expect(results.map((r) => (r._tag === "Failed" ? r.error._tag : r._tag))).toEqual(["ConnectError", "ConnectError"])
      const perDownload = tagsById(yield* (yield* CollectedProgress).events)
      // attempts: 3, the lane's the first of the first file's; the host is the pipeline's after it
      for (const tags of perDownload.values()) {
        expect(count(tags, "Started")).toBe(1)
        expect(count(tags, "Retrying")).toBe(2)
      }
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { attempts: 3 } })))
  )

  it.scopedLive("files the pipeline would fetch in segments are not the lane's: asked for in ranges", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((req, res) => {
        const bytes = fileOf(req.url)!
        const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "")
        if (range === null) return res.writeHead(200, { "content-length": bytes.length, "accept-ranges": "bytes" }).end(bytes)
        const [start, end] = [Number(range[1]), Math.min(Number(range[2]), bytes.length - 1)]
        res.writeHead(206, {
          "content-length": end - start + 1,
          "content-range": `bytes ${start}-${end}/${bytes.length}`,
          "accept-ranges": "bytes"
        })
        res.end(bytes.subarray(start, end + 1))
      })
      const requests = requestsFor(server.url).slice(0, 2)
      const results = yield* collect(fetchMany(Stream.fromIterable(requests), { concurrency: 2 }))
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      // the lane would have sent one plain GET per file; the pipeline asks for ranges (one each: a small file)
      expect(server.stats.requests.length).toBeGreaterThanOrEqual(requests.length)
      expect(server.stats.requests.every((r) => r.headers.range !== undefined)).toBe(true)
    }).pipe(
      Effect.provide(layerNetworkTest({ settings: { segments: 2, segmentThreshold: 1024, segmentBelowRate: 0 } }))
    )
  )
})
