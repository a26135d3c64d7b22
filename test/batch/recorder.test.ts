/**
 * The group commit's store steps (batch/recorder.ts): run once per key for the whole group, by their promise form
 * when every step has one (no fiber per step), and a failed step fails only the downloads that listed it, whose
 * records are not written.
 */
import { describe, expect, it } from "@effect/vitest"
import { ByteSize, type DownloadRecord, type PendingSync, Sha256, StorageError } from "@cargohold/core"
import { makeBatchRecorder } from "@cargohold/core/internal/batch/recorder"
import { makeMemoryCatalog } from "@cargohold/core/testing"
import { Effect, Option } from "effect"
import { sha256 } from "./helpers.js"

const recordOf = (name: string): DownloadRecord => ({
  sha256: Sha256.make(sha256(name)),
  size: ByteSize.make(name.length),
  digests: { sha256: Sha256.make(sha256(name)) },
  store: "test-store",
  key: sha256(name),
  url: `http://example.test/${name}`,
  finalUrl: `http://example.test/${name}`,
  at: new Date()
})

describe("group commit steps", () => {
  it.live("steps with a promise form: each key run once for the group; a failed one fails only its downloads", () =>
    Effect.gen(function* () {
      const catalog = yield* makeMemoryCatalog
      const recorder = makeBatchRecorder(catalog, { lingerMs: 20 })
      const runs = new Map<string, number>()
      const step = (key: string, fails: boolean): PendingSync => ({
        key,
        run: Effect.die("the effect form is not used when every step has its promise form"),
        start: async () => {
          runs.set(key, (runs.get(key) ?? 0) + 1)
          return fails ? new StorageError({ operation: "commit", reason: "Io", detail: `sync of ${key} failed` }) : undefined
        }
      })
      const good = step("folder-a", false)
      const bad = step("folder-b", true)
      const outcomes = yield* Effect.all(
        [
          recorder.record({ record: recordOf("one"), pending: [good] }),
          recorder.record({ record: recordOf("two"), pending: [good] }),
          recorder.record({ record: recordOf("three"), pending: [good, bad] })
        ].map(Effect.either),
        { concurrency: "unbounded" }
      )
      expect(outcomes.map((o) => o._tag)).toEqual(["Right", "Right", "Left"])
      const failure = outcomes[2]
      expect(failure?._tag === "Left" ? failure.left._tag : undefined).toBe("StorageError")
      expect(Object.fromEntries(runs)).toEqual({ "folder-a": 1, "folder-b": 1 })
      expect(recorder.stats()).toEqual({ records: 2, writes: 1 })
      expect(Option.isSome(yield* catalog.lookup(Sha256.make(sha256("one"))))).toBe(true)
      expect(Option.isNone(yield* catalog.lookup(Sha256.make(sha256("three"))))).toBe(true)
    })
  )
})
