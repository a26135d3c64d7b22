/**
 * The filesystem store's shard layout (packages/node/src/storage/shardLayout.ts): new stores shard one level deep
 * (`ab/<sha256>`) and say so in `.layout`; stores of earlier versions (`ab/cd/<sha256>`, no `.layout`) keep their
 * layout and every object in them; the layout file, once written, decides; a layout file this version does not
 * know is a clear StorageError, never a guess.
 */
import { spawnSync } from "node:child_process"
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type ByteSize, type Sha256, type Storage, StorageError } from "@cargohold/core"
import { makeFileStorage } from "@cargohold/node"
import { Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { bytes, fdsUnder, filesUnder, freshRoots, readBack, sha256Hex } from "./helpers.js"

const freshRoot = freshRoots()

const put = (storage: Storage["Type"], data: Uint8Array) =>
  Effect.scoped(
    Effect.gen(function* () {
      const temp = yield* storage.begin
      yield* temp.write([data])
      return yield* temp.commit(sha256Hex(data) as Sha256, data.length as ByteSize)
    })
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

  it("judging a store without .layout counts only shard folders and objects: stray files and links do not mislead it", async () => {
    const old = Buffer.from(bytes(3000, 12))
    const oldSha = sha256Hex(old)
    // a two-level store with litter beside its folders (the first entries a scan meets), and one with its shard
    // folders as symbolic links to another disk
    const litter = freshRoot()
    const oldDir = join(litter, oldSha.slice(0, 2), oldSha.slice(2, 4))
    mkdirSync(oldDir, { recursive: true })
    writeFileSync(join(oldDir, oldSha), old, { mode: 0o444 })
    for (const stray of [".DS_Store", "._cd", "README", "0000"]) writeFileSync(join(litter, oldSha.slice(0, 2), stray), "x")
    const linked = freshRoot()
    const elsewhere = join(linked, "..", "disk2")
    mkdirSync(join(elsewhere, oldSha.slice(2, 4)), { recursive: true })
    writeFileSync(join(elsewhere, oldSha.slice(2, 4), oldSha), old, { mode: 0o444 })
    mkdirSync(linked, { recursive: true })
    symlinkSync(elsewhere, join(linked, oldSha.slice(0, 2)))
    for (const root of [litter, linked]) {
      const storage = await Effect.runPromise(makeFileStorage({ root }))
      expect(storage.shardLevels).toBe(2)
      expect((await Effect.runPromise(readBack(storage, oldSha))).equals(old)).toBe(true)
    }
    // objects at both depths: which ones count would be a guess, so the open fails and says what to do
    const both = freshRoot()
    mkdirSync(join(both, oldSha.slice(0, 2), oldSha.slice(2, 4)), { recursive: true })
    writeFileSync(join(both, oldSha.slice(0, 2), oldSha.slice(2, 4), oldSha), old)
    const other = sha256Hex(bytes(10, 13))
    mkdirSync(join(both, other.slice(0, 2)), { recursive: true })
    writeFileSync(join(both, other.slice(0, 2), other), bytes(10, 13))
    expect(other.slice(0, 2)).not.toBe(oldSha.slice(0, 2))
    const failure = await Effect.runPromise(Effect.flip(makeFileStorage({ root: both })))
    expect(failure).toBeInstanceOf(StorageError)
    expect(failure.message).toContain("both at ab/<sha256> and at ab/cd/<sha256>")
    expect(readdirSync(both).includes(".layout")).toBe(false)
  })

  it("several processes' worth of opens of one new store at once agree, and a layout recorded meanwhile wins", async () => {
    const root = freshRoot()
    const opened = await Promise.all(Array.from({ length: 6 }, () => Effect.runPromise(makeFileStorage({ root }))))
    expect(opened.map((s) => s.shardLevels)).toEqual([1, 1, 1, 1, 1, 1])
    expect(layoutOf(root)).toEqual({ shardLevels: 1 })
    expect(readdirSync(join(root, ".tmp"))).toEqual([])
  })

  it("a root this user may not write keeps its judged layout unrecorded, and opens as before", async () => {
    const root = freshRoot()
    const old = Buffer.from(bytes(2000, 14))
    const sha = sha256Hex(old)
    mkdirSync(join(root, sha.slice(0, 2), sha.slice(2, 4)), { recursive: true })
    mkdirSync(join(root, ".tmp"))
    writeFileSync(join(root, sha.slice(0, 2), sha.slice(2, 4), sha), old, { mode: 0o444 })
    // the store's user may write .tmp and the shard folders, not the root; as root (CI) the check runs as nobody
    const asRoot = process.getuid?.() === 0
    if (asRoot) {
      for (const path of [join(root, ".."), root, join(root, ".tmp"), join(root, sha.slice(0, 2)), join(root, sha.slice(0, 2), sha.slice(2, 4))]) {
        chownSync(path, 65534, 65534)
      }
    }
    chmodSync(root, 0o555)
    try {
      const check = `
        import { makeFileStorage } from "@cargohold/node"
        import { Effect } from "effect"
        const storage = await Effect.runPromise(makeFileStorage({ root: ${JSON.stringify(root)} }))
        const found = await Effect.runPromise(storage.stat(${JSON.stringify(sha)}))
        console.log(JSON.stringify({ levels: storage.shardLevels, found: found._tag }))`
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", check], {
        cwd: process.cwd(),
        encoding: "utf8",
        ...(asRoot ? { uid: 65534, gid: 65534 } : {})
      })
      expect(run.stderr).toBe("")
      expect(JSON.parse(run.stdout)).toEqual({ levels: 2, found: "Some" })
      expect(readdirSync(root).includes(".layout")).toBe(false)
      expect(readdirSync(join(root, ".tmp"))).toEqual([])
    } finally {
      chmodSync(root, 0o755)
    }
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
    for (const content of ['{"shardLevels":3}\n', "not json\n", '{"levels":1}\n', '{"shardLevels":1,"hash":"blake3"}\n']) {
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
