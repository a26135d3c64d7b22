import { describe, expect, it } from "@effect/vitest"
import { download } from "@cargohold/core"
import { CollectedProgress, layerTest, MemoryBackends, ScriptedHttpLog } from "@cargohold/core/testing"
import { Effect, Exit } from "effect"
import { createHash } from "node:crypto"

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")
const url = "http://example.test/a.bin"

describe("download pipeline (stub layers)", () => {
  it.effect("fetches, verifies, stores and catalogs", () =>
    Effect.gen(function* () {
      const artifact = yield* download({ url, sha256: sha256("hello") })
      expect(artifact.sha256).toBe(sha256("hello"))
      expect(artifact.size).toBe(5)
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(1)
      expect((yield* catalog.list()).length).toBe(1)
      const again = yield* download({ url, sha256: sha256("hello") })
      expect(again.cached).toBe(true)
      const log = yield* ScriptedHttpLog
      expect((yield* log.requests).length).toBe(1)
      const events = yield* (yield* CollectedProgress).events
      expect(events.map((e) => e._tag)).toContain("Done")
    }).pipe(Effect.provide(layerTest({ [url]: [{ body: "hello", headers: { "content-length": "5" } }] })))
  )

  it.live("digest mismatch leaves nothing behind", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(download({ url, sha256: sha256("other") }))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("DigestMismatch")
      const { storage, catalog } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(0)
      expect(yield* storage.openTemps).toBe(0)
      expect((yield* catalog.list()).length).toBe(0)
      const log = yield* ScriptedHttpLog
      // one request and one retry: a source that served wrong bytes is asked again at most once
      expect((yield* log.requests).length).toBe(2)
    }).pipe(Effect.provide(layerTest({ [url]: [{ body: "hello" }] })))
  )
})
