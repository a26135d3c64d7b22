/**
 * Issue 13: segmented downloads into the real file store (layerNode), where the prefix hashes are read back from
 * the temp file in bounded reads: a size that is not a whole number of read buffers, and a watched first stream
 * stopped at an odd offset. The digest reported must be the bytes' own, and the object must sit under it.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll } from "vitest"
import { describe, expect, it } from "@effect/vitest"
import { download } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { Effect } from "effect"
import { tempDir } from "../cli/helpers.js"
import { bytesOf, serverScoped } from "../support/servers.js"
import { rangeServer } from "./rangeServer.js"

const MiB = 1024 * 1024
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const work = tempDir("cargohold-segments-file-")

/** A file store of its own per test, segments from 1 MiB; `belowRate`: the watch's rate (0: ranges at once). */
const fileStore = (name: string, belowRate: number) =>
  layerNode({
    home: join(work.path, name),
    catalog: "memory:",
    store: pathToFileURL(join(work.path, name, "store")).href,
    settings: { segments: 4, segmentThreshold: MiB, segmentBelowRate: belowRate }
  })

/** The digest of the bytes stored under the artifact's key in test `name`'s store. */
const storedDigest = (name: string, key: string) => sha256(readFileSync(join(work.path, name, "store", key)))

afterAll(() => work.remove())

describe("segments into the file store", () => {
  it.scopedLive("a size that is not a whole number of read-back buffers: the digest is the bytes' own", () =>
    Effect.gen(function* () {
      const body = bytesOf(9 * MiB + 12_345, 21)
      const server = yield* serverScoped(rangeServer({ version: () => ({ body, etag: '"odd"' }), bytesPerSecond: 16 * MiB }))
      // no digest given: nothing but the read-back can say what the bytes are
      const artifact = yield* download({ url: server.url("/odd.iso"), size: body.length })
      expect(server.stats.requests.length).toBeGreaterThanOrEqual(4)
      expect(artifact.sha256).toBe(sha256(body))
      expect(storedDigest("odd", artifact.location.key)).toBe(sha256(body))
    }).pipe(Effect.provide(fileStore("odd", 0)))
  )

  it.scopedLive("a watched stream stopped at an odd offset: its bytes kept, the digest the bytes' own", () =>
    Effect.gen(function* () {
      const body = bytesOf(12 * MiB, 22)
      // 2 MiB/s in 64 KiB writes: the watch stops it after ≈ 600 KiB, not on a megabyte
      const server = yield* serverScoped(rangeServer({ version: () => ({ body, etag: '"w"' }), bytesPerSecond: 2 * MiB }))
      const artifact = yield* download({ url: server.url("/watched.iso") })
      const starts = server.stats.requests.slice(1).flatMap(({ headers }) => {
        const m = /^bytes=(\d+)-/.exec(headers.range ?? "")
        return m === null ? [] : [Number(m[1])]
      })
      expect(starts.length).toBeGreaterThanOrEqual(4)
      expect(Math.min(...starts) % MiB).not.toBe(0)
      expect(artifact.sha256).toBe(sha256(body))
      expect(storedDigest("watched", artifact.location.key)).toBe(sha256(body))
    }).pipe(Effect.provide(fileStore("watched", 64 * MiB)))
  )
})
