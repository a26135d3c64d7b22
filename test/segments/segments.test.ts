/**
 * Issue 13: one large artifact fetched as several ranges at once, over real sockets — the split and its limits,
 * a size learned from the first answer, a cut segment that resumes alone, a server without ranges (one stream),
 * a mirror that serves one wrong piece (Metalink pieces), and a file that changes between segments.
 */
import { describe, expect, it } from "@effect/vitest"
import { download } from "@cargohold/core"
import { Effect } from "effect"
import { sha256Hex, tryDownload } from "../support/downloads.js"
import { CollectedProgress, expectNothingLeft, layerNetworkTest, MemoryBackends } from "../support/layers.js"
import { bytesOf, serverScoped } from "../support/servers.js"
import { rangeServer } from "./rangeServer.js"

const MiB = 1024 * 1024
const size = 8 * MiB
const file = bytesOf(size, 13)
const v1 = { body: file, etag: '"v1"' }
/** N segments from the first answer's head (`segmentBelowRate: 0`: no watching the first stream's speed). */
const segmentsOf = (n: number) => ({ settings: { segments: n, segmentThreshold: MiB, segmentBelowRate: 0 } })

/** The ranges the server was asked for, as [start, end) pairs. */
const rangesAsked = (headers: ReadonlyArray<{ readonly headers: { readonly range?: string | undefined } }>) =>
  headers.flatMap(({ headers: h }) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(h.range ?? "")
    return m === null ? [] : [[Number(m[1]), m[2] === "" ? size : Number(m[2]) + 1] as const]
  })

describe("segmented download", () => {
  it.scopedLive("a declared size above the threshold: N ranges at once, each byte asked for once, verified", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeServer({ version: () => v1, bytesPerSecond: 8 * MiB }))
      const artifact = yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(artifact.sha256).toBe(sha256Hex(file))
      const ranges = rangesAsked(server.stats.requests)
      expect(ranges.length).toBeGreaterThanOrEqual(4)
      expect(server.stats.maxOpen).toBeGreaterThanOrEqual(4)
      // the first four lanes take the first four stripes (1 MiB each for 8 MiB over 4 lanes); the rest in order
      expect(ranges.slice(0, 4).map(([a]) => a)).toEqual([0, 1 * MiB, 2 * MiB, 3 * MiB])
      expect(server.stats.bytesServed).toBeLessThanOrEqual(size * 1.15)
      console.log(`segments: ${ranges.length} ranges, ${server.stats.maxOpen} connections at once, ${server.stats.bytesServed} bytes served`)
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("the per-host limit holds: at most that many ranges at once", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeServer({ version: () => v1, bytesPerSecond: 8 * MiB }))
      yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(server.stats.maxOpen).toBeLessThanOrEqual(2)
    }).pipe(Effect.provide(layerNetworkTest({ ...segmentsOf(8), limits: { global: 64, perHost: 2 } })))
  )

  it.scopedLive("no size declared: the first answer's length and Accept-Ranges divert the download to ranges", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeServer({ version: () => v1 }))
      const artifact = yield* download({ url: server.url("/big.iso") })
      expect(artifact.sha256).toBe(sha256Hex(file))
      expect(artifact.size).toBe(size)
      expect(server.stats.requests[0]!.headers.range).toBeUndefined()
      expect(rangesAsked(server.stats.requests.slice(1)).length).toBeGreaterThanOrEqual(4)
      // the ranges name the first answer's validator
      expect(server.stats.requests.slice(1).every((r) => r.headers["if-range"] === '"v1"')).toBe(true)
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("by default a capped stream is watched, then the rest comes in ranges: its bytes are kept, each byte asked once", () =>
    Effect.gen(function* () {
      // 4 MiB/s per connection, far below the default 64 MiB/s (segments/watch.ts); no segmentBelowRate set
      const server = yield* serverScoped(rangeServer({ version: () => v1, bytesPerSecond: 4 * MiB }))
      const artifact = yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(artifact.sha256).toBe(sha256Hex(file))
      expect(server.stats.requests[0]!.headers.range).toBeUndefined()
      const ranges = rangesAsked(server.stats.requests.slice(1))
      expect(ranges.length).toBeGreaterThanOrEqual(4)
      // the first stream's bytes stay: no range asks for byte 0 again
      expect(Math.min(...ranges.map(([a]) => a))).toBeGreaterThan(0)
      expect(server.stats.bytesServed).toBeLessThanOrEqual(size * 1.2)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { segments: 4, segmentThreshold: MiB } })))
  )

  it.scopedLive("a burst at full speed, then a cap: watched past the burst, the rest in ranges", () =>
    Effect.gen(function* () {
      const big = bytesOf(16 * MiB, 17)
      // a token bucket's burst of 6 MiB, then 1 MiB/s: fast over the first window, slow over a later one
      const server = yield* serverScoped(
        rangeServer({ version: () => ({ body: big, etag: '"b1"' }), bytesPerSecond: MiB, burstBytes: 6 * MiB })
      )
      const artifact = yield* download({ url: server.url("/burst.iso"), sha256: sha256Hex(big), size: big.length })
      expect(artifact.sha256).toBe(sha256Hex(big))
      expect(server.stats.requests[0]!.headers.range).toBeUndefined()
      const starts = server.stats.requests.slice(1).flatMap(({ headers: h }) => {
        const m = /^bytes=(\d+)-/.exec(h.range ?? "")
        return m === null ? [] : [Number(m[1])]
      })
      expect(starts.length).toBeGreaterThanOrEqual(2)
      // the burst's bytes (and the first slow second's) were kept
      expect(Math.min(...starts)).toBeGreaterThanOrEqual(6 * MiB)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { segments: 4, segmentThreshold: MiB, segmentBelowRate: 4 * MiB } })))
  )

  it.scopedLive("by default two mirrors of a declared size are spread over in ranges from the start, unwatched", () =>
    Effect.gen(function* () {
      const a = yield* serverScoped(rangeServer({ version: () => v1 }))
      const b = yield* serverScoped(rangeServer({ version: () => v1 }))
      const artifact = yield* download({ url: a.url("/big.iso"), sources: [{ url: b.url("/big.iso") }], sha256: sha256Hex(file), size })
      expect(artifact.sha256).toBe(sha256Hex(file))
      const requests = [...a.stats.requests, ...b.stats.requests]
      // no whole-body request to watch: every request asks for a range
      expect(requests.every((r) => r.headers.range !== undefined)).toBe(true)
      expect(a.stats.requests.length).toBeGreaterThan(0)
      expect(b.stats.requests.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { segments: 4, segmentThreshold: MiB } })))
  )

  it.scopedLive("a first stream fast enough (segmentBelowRate) stays one stream", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeServer({ version: () => v1 }))
      yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(server.stats.requests).toHaveLength(1)
    }).pipe(Effect.provide(layerNetworkTest({ settings: { segments: 4, segmentThreshold: MiB, segmentBelowRate: 1 } })))
  )

  it.scopedLive("--segments 1: one stream", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeServer({ version: () => v1 }))
      yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(server.stats.requests).toHaveLength(1)
      expect(server.stats.requests[0]!.headers.range).toBeUndefined()
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(1))))
  )

  it.scopedLive("a cut segment resumes alone from where it stopped; the others are not asked again", () =>
    Effect.gen(function* () {
      // the segment starting at 4 MiB breaks after 1 MiB, once
      let cuts = 0
      const server = yield* serverScoped(
        rangeServer({
          version: () => v1,
          bytesPerSecond: 16 * MiB,
          cutAfter: (_n, start) => (start === 4 * MiB && cuts++ === 0 ? MiB : undefined)
        })
      )
      const artifact = yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(artifact.sha256).toBe(sha256Hex(file))
      const starts = rangesAsked(server.stats.requests).map(([a]) => a)
      // the resume asks from where the cut stopped (or later, when a lane took part of it over), never from 4 MiB again
      expect(starts.filter((a) => a === 4 * MiB)).toHaveLength(1)
      expect(starts.some((a) => a > 4 * MiB && a < 6 * MiB)).toBe(true)
      expect(server.stats.bytesServed).toBeLessThanOrEqual(size * 1.2)
      const events = yield* (yield* CollectedProgress).events
      expect(events.some((e) => e._tag === "Done")).toBe(true)
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("a server without range support: one stream (no size declared: a single request)", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeServer({ version: () => v1, noRanges: true }))
      const artifact = yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file) })
      expect(artifact.sha256).toBe(sha256Hex(file))
      expect(server.stats.requests).toHaveLength(1)
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("a server without range support and a declared size: the ranges are answered whole, one stream instead", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeServer({ version: () => v1, noRanges: true }))
      const artifact = yield* download({ url: server.url("/big.iso"), sha256: sha256Hex(file), size })
      expect(artifact.sha256).toBe(sha256Hex(file))
      const last = server.stats.requests[server.stats.requests.length - 1]!
      expect(last.headers.range).toBeUndefined()
      expect(yield* expectNothingLeft.pipe(Effect.map((s) => s.temps))).toBe(0)
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("a mirror with wrong bytes in one piece: the piece is fetched again elsewhere, the mirror recorded as disagreeing", () =>
    Effect.gen(function* () {
      const pieceLength = 512 * 1024
      // wrong bytes in piece 0: the first lane always starts on the first-ranked source, the bad one
      const bad = yield* serverScoped(rangeServer({ version: () => v1, corrupt: { start: 10, end: 20 } }))
      const good = yield* serverScoped(rangeServer({ version: () => v1, bytesPerSecond: 32 * MiB }))
      const hashes: Array<string> = []
      for (let at = 0; at < size; at += pieceLength) hashes.push(sha256Hex(file.subarray(at, at + pieceLength)))
      const artifact = yield* download({
        // ranked first: the first stripe's lane goes to it
        url: bad.url("/big.iso"),
        priority: 200,
        sha256: sha256Hex(file),
        size,
        sources: [{ url: good.url("/big.iso") }],
        pieces: { algorithm: "sha256", length: pieceLength, hashes }
      })
      expect(artifact.sha256).toBe(sha256Hex(file))
      // piece 0 came again from the good mirror
      expect(rangesAsked(good.stats.requests)).toContainEqual([0, pieceLength])
      const events = yield* (yield* CollectedProgress).events
      const failed = events.filter((e) => e._tag === "SourceFailed")
      expect(failed.map((e) => (e as { url: string }).url)).toEqual([bad.url("/big.iso")])
      expect(failed[0]).toMatchObject({ errorTag: "DigestMismatch" })
      const { catalog } = yield* MemoryBackends
      const sources = yield* catalog.sourcesFor(artifact.sha256)
      expect(sources.find((s) => s.url === bad.url("/big.iso"))?.lastFailure).toBeDefined()
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("a slow mirror's segments are taken over by the faster one; the slow one serves little", () =>
    Effect.gen(function* () {
      const slow = yield* serverScoped(rangeServer({ version: () => v1, bytesPerSecond: 256 * 1024 }))
      const fast = yield* serverScoped(rangeServer({ version: () => v1, bytesPerSecond: 8 * MiB }))
      const artifact = yield* download({
        // the URL is the slow one: half the lanes start there (stripe 0 among them)
        url: slow.url("/big.iso"),
        sha256: sha256Hex(file),
        size,
        sources: [{ url: fast.url("/big.iso") }]
      })
      expect(artifact.sha256).toBe(sha256Hex(file))
      // the fast mirror took over the rest of a range the slow one was asked for
      const slowRanges = rangesAsked(slow.stats.requests)
      expect(rangesAsked(fast.stats.requests).some(([a]) => slowRanges.some(([from, to]) => from < a && a < to))).toBe(true)
      expect(slow.stats.bytesServed).toBeLessThan(size / 4)
      console.log(`slow mirror served ${slow.stats.bytesServed} of ${size} bytes; fast ${fast.stats.bytesServed}`)
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("the file changes between segments (a new ETag): the download restarts cleanly on the new file", () =>
    Effect.gen(function* () {
      const changed = { body: bytesOf(size, 99), etag: '"v2"' }
      const server = yield* serverScoped(rangeServer({ version: (n) => (n < 2 ? v1 : changed), bytesPerSecond: 8 * MiB }))
      const artifact = yield* download({ url: server.url("/big.iso"), size })
      expect(artifact.sha256).toBe(sha256Hex(changed.body))
      const events = yield* (yield* CollectedProgress).events
      expect(events.some((e) => e._tag === "Retrying" && /starting over/.test((e as { reason: string }).reason))).toBe(true)
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )

  it.scopedLive("a pinned digest and a file that changed for good: a typed mismatch, nothing stored", () =>
    Effect.gen(function* () {
      const changed = { body: bytesOf(size, 99), etag: '"v2"' }
      const server = yield* serverScoped(rangeServer({ version: (n) => (n < 2 ? v1 : changed) }))
      const exit = yield* tryDownload({ url: server.url("/big.iso"), size, sha256: sha256Hex(file) })
      expect(exit._tag).toBe("Failure")
      expect(yield* expectNothingLeft).toEqual({ objects: 0, temps: 0, catalogued: 0 })
    }).pipe(Effect.provide(layerNetworkTest(segmentsOf(4))))
  )
})
