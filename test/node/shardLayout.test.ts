/**
 * The filesystem store's shard layout (packages/node/src/storage/shardLayout.ts): new stores shard one level deep
 * (`ab/<sha256>`) and say so in `.layout`; stores of earlier versions (`ab/cd/<sha256>`, no `.layout`) keep their
 * layout and every object in them; the layout file, once written, decides; a layout file this version does not
 * know is a clear StorageError, never a guess.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type ByteSize, type Sha256, type Storage, StorageError } from "@cargohold/core"
import { makeFileStorage } from "@cargohold/node"
import { Chunk, Effect, Option, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { bytes, fdsUnder, filesUnder, freshRoots, sha256Hex } from "./helpers.js"

const freshRoot = freshRoots()

const put = (storage: Storage["Type"], data: Uint8Array) =>
  Effect.scoped(
    Effect.gen(function* () {
      const temp = yield* storage.begin
      yield* temp.write([data])
      return yield* temp.commit(sha256Hex(data) as Sha256, data.length as ByteSize)
    })
  )

const readBack = (storage: Storage["Type"], sha256: string) =>
  Stream.runCollect(storage.read(sha256 as Sha256)).pipe(
    Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks).map((c) => Buffer.from(c))))
  )

const layoutOf = (root: string): unknown => JSON.parse(readFileSync(join(root, ".layout"), "utf8"))

/** Shard folders at each depth below the root (`.tmp` aside). */
const folderDepths = (root: string): ReadonlyArray<number> =>
  readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !join(entry.parentPath, entry.name).includes("/.tmp"))
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1).split("/").length)

describe("the filesystem store's shard layout", () => {
  it("a new store shards one level deep (ab/<sha256>), records it read-only in .layout, and keeps it on reopening", async () => {
    const root = freshRoot()
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    expect(storage.shardLevels).toBe(1)
    expect(layoutOf(root)).toEqual({ shardLevels: 1 })
    expect(statSync(join(root, ".layout")).mode & 0o777).toBe(0o444)
    const shas: Array<string> = []
    for (let i = 0; i < 300; i++) {
      const data = bytes(100 + i, i + 1)
      shas.push(sha256Hex(data))
      const result = await Effect.runPromise(put(storage, data))
      expect(result.object.key).toBe(`${shas[i]!.slice(0, 2)}/${shas[i]}`)
    }
    // 300 objects in at most 256 folders, all directly below the root
    const depths = folderDepths(root)
    expect(depths.every((depth) => depth === 1)).toBe(true)
    expect(depths.length).toBeLessThanOrEqual(256)
    expect(filesUnder(root).filter((f) => !f.startsWith(".tmp")).sort()).toEqual(shas.map((s) => `${s.slice(0, 2)}/${s}`).sort())
    const again = await Effect.runPromise(makeFileStorage({ root }))
    expect(again.shardLevels).toBe(1)
    expect(Option.getOrThrow(again.localPath(shas[7] as Sha256))).toBe(join(root, shas[7]!.slice(0, 2), shas[7]!))
    expect((await Effect.runPromise(readBack(again, shas[7]!))).equals(Buffer.from(bytes(107, 8)))).toBe(true)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
    expect(fdsUnder(root)).toEqual([])
  })

  it("a store of an earlier version (ab/cd/<sha256>, no .layout) keeps its layout: old objects found, new ones beside them", async () => {
    const root = freshRoot()
    const old = Buffer.from(bytes(4000, 5))
    const oldSha = sha256Hex(old)
    const oldDir = join(root, oldSha.slice(0, 2), oldSha.slice(2, 4))
    mkdirSync(oldDir, { recursive: true })
    mkdirSync(join(root, ".tmp"))
    writeFileSync(join(oldDir, oldSha), old, { mode: 0o444 })
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    expect(storage.shardLevels).toBe(2)
    expect(layoutOf(root)).toEqual({ shardLevels: 2 })
    expect(Option.getOrThrow(await Effect.runPromise(storage.stat(oldSha as Sha256)))).toMatchObject({
      key: `${oldSha.slice(0, 2)}/${oldSha.slice(2, 4)}/${oldSha}`,
      size: old.length
    })
    expect((await Effect.runPromise(readBack(storage, oldSha))).equals(old)).toBe(true)
    // the same bytes again: the copy there is kept, not duplicated at another depth
    expect(await Effect.runPromise(put(storage, old))).toMatchObject({ created: false })
    const fresh = bytes(5000, 6)
    const freshSha = sha256Hex(fresh)
    const result = await Effect.runPromise(put(storage, fresh))
    expect(result).toMatchObject({ created: true, object: { key: `${freshSha.slice(0, 2)}/${freshSha.slice(2, 4)}/${freshSha}` } })
    expect(filesUnder(root).filter((f) => !f.startsWith(".tmp")).sort()).toEqual(
      [`${oldSha.slice(0, 2)}/${oldSha.slice(2, 4)}/${oldSha}`, `${freshSha.slice(0, 2)}/${freshSha.slice(2, 4)}/${freshSha}`].sort()
    )
  })

  it("the layout file decides over what the store holds", async () => {
    const root = freshRoot()
    mkdirSync(join(root, ".tmp"), { recursive: true })
    writeFileSync(join(root, ".layout"), `${JSON.stringify({ shardLevels: 2 })}\n`)
    const storage = await Effect.runPromise(makeFileStorage({ root }))
    expect(storage.shardLevels).toBe(2)
    const data = bytes(700, 9)
    const sha = sha256Hex(data)
    await Effect.runPromise(put(storage, data))
    expect(statSync(join(root, sha.slice(0, 2), sha.slice(2, 4), sha)).isFile()).toBe(true)
    expect([...folderDepths(root)].sort()).toEqual([1, 2])
  })

  it("a layout file this version does not know fails the open with a StorageError naming it, and writes nothing", async () => {
    for (const content of ['{"shardLevels":3}\n', "not json\n", '{"levels":1}\n']) {
      const root = freshRoot()
      mkdirSync(root, { recursive: true })
      writeFileSync(join(root, ".layout"), content)
      const failure = await Effect.runPromise(Effect.flip(makeFileStorage({ root })))
      expect(failure).toBeInstanceOf(StorageError)
      expect(failure.message).toContain(".layout")
      expect(failure.message).toContain("not a store layout")
      expect(readFileSync(join(root, ".layout"), "utf8")).toBe(content)
      expect(readdirSync(join(root, ".tmp"))).toEqual([])
    }
  })
})
