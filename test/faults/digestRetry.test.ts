/**
 * Fault case "a deterministic DigestMismatch is downloaded 4 times" (issue 11): a source that served wrong bytes
 * is asked again at most once in that download, and only after the other sources; progress numbers attempts by
 * the requests actually made; `file://` sources are named as such in the summary (not `null`). Requests and
 * bytes are counted on the server side.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { download, type ProgressEvent } from "@cargohold/core"
import { Effect } from "effect"
import { runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { CollectedProgress, layerNetworkTest } from "../support/layers.js"
import { bytesOf, serverScoped } from "../support/servers.js"

const size = 4 * 1024 * 1024
const body = bytesOf(size, 3)
const mistyped = sha256Hex("not these bytes")
const attemptsOf = (events: ReadonlyArray<ProgressEvent>) =>
  events.flatMap((e) => (e._tag === "Retrying" ? [e.attempt] : []))

describe("digest mismatch retries", () => {
  it.scopedLive("one source with a mistyped sha256: two requests, not four", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped((_req, res) => {
        res.writeHead(200, { "content-length": String(size) }).end(body)
      })
      const error = yield* Effect.flip(download({ url: server.url("/big.bin"), sha256: mistyped }))
      expect(error._tag).toBe("DigestMismatch")
      expect(server.stats.requests.length).toBe(2)
      expect(server.stats.bytesServed).toBe(2 * size)
      const events = yield* (yield* CollectedProgress).events
      // one retry, numbered as the second request
      expect(attemptsOf(events)).toEqual([2])
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("two sources serving wrong bytes: the other source first, the last one asked again once", () =>
    Effect.gen(function* () {
      const a = yield* serverScoped((_req, res) => res.writeHead(200, { "content-length": String(size) }).end(body))
      const b = yield* serverScoped((_req, res) => res.writeHead(200, { "content-length": String(size) }).end(body))
      const error = yield* Effect.flip(
        download({ url: a.url("/x"), sha256: mistyped, sources: [{ url: b.url("/x") }] })
      )
      expect(error._tag).toBe("DigestMismatch")
      const counts = [a.stats.requests.length, b.stats.requests.length].sort()
      expect(counts).toEqual([1, 2])
      const events = yield* (yield* CollectedProgress).events
      expect(attemptsOf(events)).toEqual([2, 3])
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a bad mirror and a good one: the bad one is asked at most once", () =>
    Effect.gen(function* () {
      const good = bytesOf(64 * 1024, 9)
      const bad = yield* serverScoped((_req, res) => res.writeHead(200, { "content-length": String(good.length) }).end(bytesOf(good.length, 10)))
      const fine = yield* serverScoped((_req, res) => res.writeHead(200, { "content-length": String(good.length) }).end(good))
      for (let i = 0; i < 4; i++) {
        const artifact = yield* download({
          url: bad.url(`/x${i}`),
          sha256: sha256Hex(good),
          sources: [{ url: fine.url(`/x${i}`) }]
        }).pipe(Effect.provide(layerNetworkTest()))
        expect(artifact.sha256).toBe(sha256Hex(good))
      }
      for (let i = 0; i < 4; i++) {
        expect(bad.stats.requests.filter((r) => r.url === `/x${i}`).length).toBeLessThanOrEqual(1)
      }
    })
  )

  it.scopedLive("errors other than a mismatch keep the whole schedule, and attempts count requests", () =>
    Effect.gen(function* () {
      let seen = 0
      const server = yield* serverScoped((_req, res) => {
        seen++
        if (seen <= 3) res.writeHead(503, { "content-length": "0" }).end()
        else res.writeHead(200, { "content-length": "2" }).end("ok")
      })
      yield* download({ url: server.url("/flaky") })
      expect(server.stats.requests.length).toBe(4)
      const events = yield* (yield* CollectedProgress).events
      expect(attemptsOf(events)).toEqual([2, 3, 4])
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it("the CLI: a mistyped sha256 costs two bodies; a file:// source is named file:// in the summary", async () => {
    const dir = tempDir("cargohold-digest-")
    try {
      const path = join(dir.path, "local.bin")
      writeFileSync(path, "local bytes")
      const run = await runCli(["fetch", pathToFileURL(path).href, "--sha256", mistyped, "--home", join(dir.path, "home")])
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/sources that misbehaved: file:\/\/ \(DigestMismatch ×1\)/)
      expect(run.stderr).not.toMatch(/\bnull\b/)
      expect(run.stderr).not.toMatch(/attempt [3-9]/)
    } finally {
      dir.remove()
    }
  })
})
