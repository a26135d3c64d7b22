import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type ByteSize, type Sha256, Storage, StorageError } from "@cargohold/core"
import { layerStorageFromUrl, layerTempStorage, makeFileStorage, makeTempStorage, registerStoreScheme } from "@cargohold/node"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { bytes, fdsUnder, filesUnder, freshRoots, readBack, sha256Hex } from "./helpers.js"

const freshRoot = freshRoots()

/** Writes `data` through a temp object in chunks of `chunk` bytes and commits it. */
const put = (storage: Storage["Type"], data: Uint8Array, chunk = 64 * 1024) =>
  Effect.scoped(
    Effect.gen(function* () {
      const temp = yield* storage.begin
      for (let offset = 0; offset < data.length; offset += chunk * 3) {
        const batch = [0, 1, 2]
          .map((i) => data.subarray(offset + i * chunk, Math.min(data.length, offset + (i + 1) * chunk)))
          .filter((c) => c.length > 0)
        yield* temp.write(batch)
      }
      expect(temp.written()).toBe(data.length)
      return yield* temp.commit(sha256Hex(data) as Sha256, data.length as ByteSize)
    })
  )

describe("filesystem Storage", () => {
  it("commits atomically under the sharded key, read-only, readable, idempotent", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    expect(storage.id).toBe(`file://${root}`)
    for (const size of [0, 1000, 1024 * 1024 - 1, 1024 * 1024, 5 * 1024 * 1024 + 17]) {
      const data = bytes(size, size + 1)
      const sha = sha256Hex(data)
      // small chunks grow the write buffer from 64 KiB to 1 MiB; chunks over 1 MiB are written as they are
      const first = await Effect.runPromise(put(storage, data, size > 2_000_000 ? 1_500_000 : 4096))
      expect(first.created).toBe(true)
      expect(first.object).toEqual({ store: storage.id, key: `${sha.slice(0, 2)}/${sha}`, size })
      const path = Option.getOrThrow(storage.localPath(sha as Sha256))
      expect(path).toBe(join(root, first.object.key))
      expect(statSync(path).mode & 0o777).toBe(0o444)
      expect((await Effect.runPromise(readBack(storage, sha))).equals(Buffer.from(data))).toBe(true)
      const second = await Effect.runPromise(put(storage, data, 64 * 1024))
      expect(second.created).toBe(false)
      expect(second.object).toEqual(first.object)
      expect(Option.getOrThrow(await Effect.runPromise(storage.stat(sha as Sha256))).size).toBe(size)
    }
    expect(filesUnder(root).length).toBe(5)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
    expect(fdsUnder(root)).toEqual([])
  })

  it("a shard folder it made, removed behind its back, is made again: the next commit there succeeds", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const data = bytes(5000, 41)
    const sha = sha256Hex(data)
    const first = await Effect.runPromise(put(storage, data))
    expect(first.created).toBe(true)
    // someone cleans up: the object and its shard folder go, while this store remembers having made them
    rmSync(join(root, sha.slice(0, 2)), { recursive: true, force: true })
    const second = await Effect.runPromise(put(storage, data))
    expect(second.created).toBe(true)
    expect((await Effect.runPromise(readBack(storage, sha))).equals(Buffer.from(data))).toBe(true)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
    expect(fdsUnder(root)).toEqual([])
  })

  it("a deferred folder fsync is left as a step with a promise form that resolves, or names its failure", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const data = bytes(3000, 43)
    const sha = sha256Hex(data)
    const result = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          yield* temp.write([data])
          return yield* temp.commit(sha as Sha256, data.length as ByteSize, { deferSync: true })
        })
      )
    )
    const [step] = result.pending ?? []
    expect(step?.key).toBe(join(root, sha.slice(0, 2)))
    expect(await step?.start?.()).toBeUndefined()
    // the folder gone before its step ran: the step's failure is a StorageError, never a rejection
    rmSync(join(root, sha.slice(0, 2)), { recursive: true, force: true })
    const failure = await step?.start?.()
    expect(failure).toBeInstanceOf(StorageError)
    expect(fdsUnder(root)).toEqual([])
  })

  it("reset discards what was written; a wrong size is refused and leaves nothing", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const data = bytes(2 * 1024 * 1024 + 5, 9)
    const sha = sha256Hex(data) as Sha256
    const result = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          yield* temp.write([bytes(3 * 1024 * 1024, 4)])
          yield* temp.write([bytes(1000, 5)])
          yield* temp.reset
          expect(temp.written()).toBe(0)
          yield* temp.write([data.subarray(0, 100), data.subarray(100)])
          return yield* temp.commit(sha, data.length as ByteSize)
        })
      )
    )
    expect(result.created).toBe(true)
    expect((await Effect.runPromise(readBack(storage, sha))).equals(Buffer.from(data))).toBe(true)

    const short = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          yield* temp.write([bytes(10, 1)])
          return yield* temp.commit(sha256Hex(bytes(11, 1)) as Sha256, 11 as ByteSize)
        })
      )
    )
    expect(Exit.isFailure(short)).toBe(true)
    expect(String(short)).toMatch(/wrote 10 bytes, expected 11/)
    expect(filesUnder(root)).toEqual([result.object.key])
    expect(fdsUnder(root)).toEqual([])
  })

  it("a large file (writes behind, background fdatasyncs) commits every byte; reset midway starts clean", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    // past several 1 MiB write buffers and a background fdatasync (every 32 MiB)
    const data = bytes(40 * 1024 * 1024 + 12345, 7)
    const { object } = await Effect.runPromise(put(storage, data))
    expect(statSync(join(root, object.key)).size).toBe(data.length)
    expect(sha256Hex(await Effect.runPromise(readBack(storage, sha256Hex(data))))).toBe(sha256Hex(data))
    const other = bytes(3 * 1024 * 1024 + 1, 8)
    const committed = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          for (let at = 0; at < 5 * 1024 * 1024; at += 64 * 1024) yield* temp.write([data.subarray(at, at + 64 * 1024)])
          yield* temp.reset
          for (let at = 0; at < other.length; at += 100_000) yield* temp.write([other.subarray(at, at + 100_000)])
          return yield* temp.commit(sha256Hex(other) as Sha256, other.length as ByteSize)
        })
      )
    )
    expect(statSync(join(root, committed.object.key)).size).toBe(other.length)
    expect(sha256Hex(await Effect.runPromise(readBack(storage, sha256Hex(other))))).toBe(sha256Hex(other))
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
  })

  it("concurrent commits of the same bytes: one created, one stored file", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const data = bytes(300_000, 8)
    const results = await Effect.runPromise(Effect.all([put(storage, data), put(storage, data), put(storage, data)], { concurrency: 3 }))
    expect(results.filter((r) => r.created).length).toBe(1)
    expect(filesUnder(root)).toEqual([results[0]!.object.key])
  })

  it("replaces a damaged copy (wrong size) instead of trusting it", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const data = bytes(5000, 2)
    const first = await Effect.runPromise(put(storage, data))
    const path = Option.getOrThrow(storage.localPath(sha256Hex(data) as Sha256))
    await Effect.runPromise(storage.remove(sha256Hex(data) as Sha256))
    writeFileSync(path, "truncated")
    const again = await Effect.runPromise(put(storage, data))
    // the damaged file was there: replaced, not kept; not `created` (removing it would not restore what was there)
    expect(again.created).toBe(false)
    expect(again.kept).toBe(false)
    expect(again.object).toEqual(first.object)
    expect(statSync(path).size).toBe(5000)
  })

  it("commit with replace swaps a same-size corrupt copy for the good bytes (repair)", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const data = bytes(5000, 4)
    const sha = sha256Hex(data) as Sha256
    await Effect.runPromise(put(storage, data))
    const path = Option.getOrThrow(storage.localPath(sha))
    const corrupt = Buffer.from(data)
    corrupt[100] = corrupt[100]! ^ 0xff
    chmodSync(path, 0o644)
    writeFileSync(path, corrupt)
    // a plain commit trusts the same-size copy (it cannot know better); replace does not
    const plain = await Effect.runPromise(put(storage, data))
    expect(plain.created).toBe(false)
    expect(plain.kept).toBe(true)
    const replaced = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          yield* temp.write([data])
          return yield* temp.commit(sha, data.length as ByteSize, { replace: true })
        })
      )
    )
    expect(replaced.created).toBe(false)
    expect(replaced.kept).toBe(false)
    expect(Buffer.compare(await Effect.runPromise(readBack(storage, sha)), Buffer.from(data))).toBe(0)
    expect(statSync(path).mode & 0o222).toBe(0)
    expect(filesUnder(root)).toEqual([replaced.object.key])
  })

  it("an uncommitted temp file disappears with its scope: failure and interruption", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const failed = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          yield* temp.write([bytes(3 * 1024 * 1024, 1)])
          expect(filesUnder(join(root, ".tmp")).length).toBe(1)
          expect(fdsUnder(root).length).toBe(1)
          return yield* Effect.fail("downstream failure")
        })
      )
    )
    expect(Exit.isFailure(failed)).toBe(true)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
    expect(fdsUnder(root)).toEqual([])

    const interrupted = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const temp = yield* storage.begin
          yield* temp.write([bytes(512 * 1024, 1)])
          return yield* Effect.interrupt
        })
      )
    )
    expect(Exit.isInterrupted(interrupted)).toBe(true)
    expect(filesUnder(root)).toEqual([])
    expect(fdsUnder(root)).toEqual([])
  })

  it("remove and stat of missing objects; reading a missing object fails with StorageError", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    const sha = sha256Hex("nothing") as Sha256
    expect(Option.isNone(await Effect.runPromise(storage.stat(sha)))).toBe(true)
    expect(await Effect.runPromise(storage.remove(sha))).toBe(false)
    const exit = await Effect.runPromiseExit(readBack(storage, sha))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
      expect(exit.cause.error).toBeInstanceOf(StorageError)
      expect(exit.cause.error.message).toMatch(/read failed .*not found/)
    }
    const { object } = await Effect.runPromise(put(storage, bytes(10, 10)))
    expect(await Effect.runPromise(storage.remove(sha256Hex(bytes(10, 10)) as Sha256))).toBe(true)
    expect(existsSync(join(root, object.key))).toBe(false)
  })
})

describe("temp Storage", () => {
  it("lives in a private folder removed with its scope", async () => {
    const scope = await Effect.runPromise(Scope.make())
    const storage = await Effect.runPromise(Scope.extend(makeTempStorage(), scope))
    const { object } = await Effect.runPromise(put(storage, bytes(100_000, 3)))
    expect(statSync(storage.root).mode & 0o777).toBe(0o700)
    expect(existsSync(join(storage.root, object.key))).toBe(true)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(existsSync(storage.root)).toBe(false)
  })

  it("as a layer: gone when the layer's scope closes", async () => {
    const root = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const storage = yield* Storage
          yield* put(storage, bytes(10, 1))
          const path = Option.getOrThrow(storage.localPath(sha256Hex(bytes(10, 1)) as Sha256))
          expect(existsSync(path)).toBe(true)
          return path
        }).pipe(Effect.provide(layerTempStorage()))
      )
    )
    expect(existsSync(root)).toBe(false)
  })
})

describe("store selection by URL", () => {
  it("file:// builds a filesystem store; unknown schemes fail clearly without leaking credentials", async () => {
    const root = freshRoot()
    const id = await Effect.runPromise(
      Effect.map(Storage, (s) => s.id).pipe(Effect.provide(layerStorageFromUrl(`file://${root}`)))
    )
    expect(id).toBe(`file://${root}`)
    const exit = await Effect.runPromiseExit(
      Effect.map(Storage, (s) => s.id).pipe(Effect.provide(layerStorageFromUrl("s3://AKIA:topsecret@bucket/prefix")))
    )
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
      expect(exit.cause.error).toBeInstanceOf(StorageError)
      expect(exit.cause.error.message).toMatch(/unknown store scheme 's3'/)
      expect(exit.cause.error.message).not.toMatch(/topsecret|AKIA/)
    }
    const bad = await Effect.runPromiseExit(Effect.provide(Storage, layerStorageFromUrl("not a url")))
    expect(String(bad)).toMatch(/not a valid URL/)
  })

  it("a plugged-in scheme is used (per call and process-wide)", async () => {
    const root = freshRoot()
    const viaOption = await Effect.runPromise(
      Effect.map(Storage, (s) => s.id).pipe(
        Effect.provide(
          layerStorageFromUrl("fake://x", { schemes: { fake: () => layerStorageFromUrl(`file://${root}`) } })
        )
      )
    )
    expect(viaOption).toBe(`file://${root}`)
    registerStoreScheme("fake2:", () => Layer.succeed(Storage, { id: "fake2:" } as Storage["Type"]))
    const viaRegistry = await Effect.runPromise(
      Effect.map(Storage, (s) => s.id).pipe(Effect.provide(layerStorageFromUrl("fake2://y")))
    )
    expect(viaRegistry).toBe("fake2:")
  })
})
