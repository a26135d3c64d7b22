/**
 * A batch's catalog look-ups are grouped (one `lookupMany` per input chunk, see core's batch/prefetch.ts): an
 * artifact another process stores into the same home while the batch runs is still found by the next group,
 * and taken from the store without a request.
 */
import { join } from "node:path"
import { type BatchRequest, fetchMany } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { Chunk, Effect, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { bytesOf, runCli, serveFiles, sha256Hex, tempDir } from "./helpers.js"

const dir = tempDir()
afterAll(() => dir.remove())

describe("a batch beside another process on the same home", () => {
  it("an artifact the other process stored after the batch began is found by the next grouped look-up", async () => {
    const home = join(dir.path, "home")
    const files = new Map([
      ["/a", bytesOf(20_000, 1)],
      ["/b", bytesOf(20_000, 2)],
      ["/c", bytesOf(20_000, 3)]
    ])
    const server = await serveFiles(files)
    try {
      const request = (path: string): BatchRequest => {
        const body = files.get(path) ?? new Uint8Array()
        return { url: server.url(path), sha256: sha256Hex(body), size: body.length }
      }
      // the batch's own process makes the home (and its catalog) first
      await Effect.runPromise(Effect.provide(Effect.void, layerNode({ home })))
      const otherProcess = Effect.promise(() => {
        const body = files.get("/b") ?? new Uint8Array()
        return runCli(["fetch", server.url("/b"), "--sha256", sha256Hex(body), "--size", String(body.length), "--home", home])
      })
      // first chunk: /a; then the other process stores /b; then the second chunk: /b and /c
      const requests = Stream.fromIterable([request("/a")]).pipe(
        Stream.concat(Stream.drain(Stream.fromEffect(Effect.tap(otherProcess, (run) => expect(run.code).toBe(0))))),
        Stream.concat(Stream.fromIterable([request("/b"), request("/c")]))
      )
      const results = Chunk.toReadonlyArray(
        await Effect.runPromise(
          Effect.provide(Stream.runCollect(fetchMany(requests, { concurrency: 1 })), layerNode({ home }))
        )
      )
      const byPath = new Map(results.map((r) => [new URL(r.request.url).pathname, r]))
      expect(results.map((r) => r._tag)).toEqual(["Ok", "Ok", "Ok"])
      const cached = (path: string) => {
        const result = byPath.get(path)
        return result?._tag === "Ok" ? result.artifact.cached : undefined
      }
      expect(cached("/a")).toBe(false)
      expect(cached("/b")).toBe(true)
      expect(cached("/c")).toBe(false)
      // /b was fetched once, by the other process
      expect(server.hits.get("/b")).toBe(1)
      expect(server.hits.get("/a")).toBe(1)
      expect(server.hits.get("/c")).toBe(1)
    } finally {
      await server.close()
    }
  })
})
