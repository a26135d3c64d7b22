/**
 * Re-fetch over a copy that is not known good: the verified bytes replace it, and the catalog calls a location `ok`
 * (verified now) only for bytes this operation wrote. The same contract on the filesystem store (SQLite catalog),
 * the in-memory store and S3 on moto_server (an emulator); a real node:http source on loopback.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { PutObjectCommand } from "@aws-sdk/client-s3"
import { NodeHttpClient } from "@effect/platform-node"
import type * as HttpClient from "@effect/platform/HttpClient"
import { layerSqlCatalogFromUrl } from "@cargohold/catalog-sql"
import {
  Catalog,
  download,
  layerSilent,
  type Progress,
  type Remotes,
  replicate,
  type Sha256,
  Storage,
  type StorageService,
  verify
} from "@cargohold/core"
import { layerMemoryCatalog, makeMemoryStorage } from "@cargohold/core/testing"
import { layerNodeHasher, makeFileStorage } from "@cargohold/node"
import { acquireS3Storage } from "@cargohold/s3"
import { Chunk, Effect, Layer, Option, Redacted, type Scope, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { randomArtifact, startHttp, type TestServer } from "../storage/support/http.js"
import { type Moto, motoCredentials, startMoto } from "../storage/support/moto.js"
import { createBucket, s3Client } from "../storage/support/s3.js"

const bucket = "cargohold-faults-replace"
let moto: Moto
let http: TestServer
let client: ReturnType<typeof s3Client>
let scratch: string

beforeAll(async () => {
  ;[moto, http] = await Promise.all([startMoto(), startHttp()])
  client = s3Client(moto.endpoint)
  await createBucket(client, bucket)
  scratch = await mkdtemp(join(tmpdir(), "cargohold-faults-replace-"))
})

afterAll(async () => {
  client?.destroy()
  await Promise.all([moto?.stop(), http?.close(), scratch ? rm(scratch, { recursive: true, force: true }) : undefined])
})

/** A store under test: how to open it, and how to plant bytes under an address behind the store's back. */
interface Backend {
  readonly name: string
  readonly open: (n: number) => Effect.Effect<StorageService, unknown, Scope.Scope>
  readonly catalog: (n: number) => Layer.Layer<Catalog | Remotes, unknown>
  readonly plant: (storage: StorageService, sha256: Sha256, bytes: Uint8Array) => Promise<void>
}

/** The in-memory store hands out its objects by reference: planting overwrites the bytes in place or adds them. */
const memoryBackend = (): Backend => {
  const stores = new Map<StorageService, Effect.Effect<ReadonlyMap<string, Uint8Array>>>()
  return {
    name: "memory store, memory catalog",
    open: () =>
      Effect.map(makeMemoryStorage(), (storage) => {
        stores.set(storage, storage.objects)
        return storage
      }),
    catalog: () => layerMemoryCatalog,
    plant: async (storage, sha256, bytes) => {
      const objects = await Effect.runPromise(stores.get(storage)!)
      const held = objects.get(storage.keyFor(sha256))
      if (held !== undefined && held.length === bytes.length) {
        held.set(bytes)
        return
      }
      // not yet stored: commit through the store itself, then overwrite in place
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const temp = yield* storage.begin
            yield* temp.write([new Uint8Array(bytes.length)])
            yield* temp.commit(sha256, bytes.length as never)
          })
        )
      )
      const again = await Effect.runPromise(stores.get(storage)!)
      again.get(storage.keyFor(sha256))!.set(bytes)
    }
  }
}

const backends: ReadonlyArray<Backend> = [
  {
    name: "file store, SQLite catalog",
    open: (n) => makeFileStorage({ root: join(scratch, `store-${n}`) }),
    catalog: (n) => layerSqlCatalogFromUrl(`sqlite://${join(scratch, `catalog-${n}.db`)}`),
    plant: async (storage, sha256, bytes) => {
      const path = Option.getOrThrow(storage.localPath(sha256))
      await rm(path, { force: true })
      await writeFile(path, bytes).catch(async () => {
        const { mkdir } = await import("node:fs/promises")
        await mkdir(dirname(path), { recursive: true })
        await writeFile(path, bytes)
      })
      await chmod(path, 0o444)
    }
  },
  memoryBackend(),
  {
    name: "S3 store (emulator), memory catalog",
    open: (n) =>
      acquireS3Storage(
        Effect.succeed({
          bucket,
          prefix: `replace-${n}`,
          endpoint: moto.endpoint,
          credentials: { ...motoCredentials, secretAccessKey: Redacted.make(motoCredentials.secretAccessKey) },
          partSize: 5 * 1024 * 1024
        })
      ),
    catalog: () => layerMemoryCatalog,
    plant: async (storage, sha256, bytes) => {
      const prefix = new URL(storage.id).pathname.replace(/^\//, "")
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${storage.keyFor(sha256)}`, Body: bytes })
      )
    }
  }
]

let counter = 0
const run = <A>(
  backend: Backend,
  f: (storage: StorageService) => Effect.Effect<A, unknown, Storage | Catalog | Remotes | Progress | HttpClient.HttpClient>
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const n = ++counter
        const storage = yield* backend.open(n)
        return yield* f(storage).pipe(
          Effect.provide(
            Layer.mergeAll(
              Layer.succeed(Storage, storage),
              backend.catalog(n),
              layerSilent,
              NodeHttpClient.layerUndici,
              layerNodeHasher
            )
          )
        )
      })
    )
  )

const readBack = (storage: StorageService, sha256: Sha256) =>
  Effect.map(Stream.runCollect(storage.read(sha256)), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

const location = (sha256: Sha256, store: string) =>
  Effect.flatMap(Catalog, (catalog) =>
    Effect.map(catalog.lookup(sha256), (entry) => Option.getOrThrow(entry).locations.find((l) => l.store === store))
  )

/** Same size, one byte different. */
const corrupted = (body: Uint8Array, at: number): Uint8Array => {
  const out = Uint8Array.from(body)
  out[at] = out[at]! ^ 0xff
  return out
}

describe.each(backends)("re-fetch over a copy not known good: $name", (backend) => {
  it("a copy verify marked corrupt is replaced by the re-fetched bytes; the catalog says ok only then", async () => {
    const artifact = randomArtifact(300_000)
    const path = `/corrupt-${counter}.bin`
    http.set(path, { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(backend, (storage) =>
      Effect.gen(function* () {
        yield* download({ url: http.url(path), sha256 })
        yield* Effect.promise(() => backend.plant(storage, sha256, corrupted(artifact.body, 1234)))
        const report = yield* verify()
        const marked = yield* location(sha256, storage.id)
        yield* Effect.sleep(5)
        const again = yield* download({ url: http.url(path), sha256 })
        const bytes = yield* readBack(storage, sha256)
        const after = yield* location(sha256, storage.id)
        const recheck = yield* verify({ sha256s: [sha256] })
        return { report, marked, again, bytes, after, recheck }
      })
    )
    expect(out.report.checked).toEqual([expect.objectContaining({ state: "corrupt" })])
    expect(out.marked?.state).toBe("corrupt")
    expect(out.again.cached).toBe(false)
    expect(Buffer.compare(out.bytes, Buffer.from(artifact.body))).toBe(0)
    expect(out.after?.state).toBe("ok")
    expect(out.after!.verifiedAt!.getTime()).toBeGreaterThan(out.marked!.verifiedAt!.getTime())
    expect(out.recheck.checked).toEqual([expect.objectContaining({ state: "ok" })])
  })

  it("an uncatalogued same-size copy (not known good) is replaced, not adopted", async () => {
    const artifact = randomArtifact(70_000)
    const path = `/uncatalogued-${counter}.bin`
    http.set(path, { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(backend, (storage) =>
      Effect.gen(function* () {
        yield* Effect.promise(() => backend.plant(storage, sha256, corrupted(artifact.body, 7)))
        // unpinned (the sha256 is learnt from the bytes) and pinned alike
        const first = yield* download({ url: http.url(path) })
        const bytes = yield* readBack(storage, sha256)
        const report = yield* verify({ sha256s: [sha256] })
        return { first, bytes, report }
      })
    )
    expect(out.first.sha256).toBe(sha256)
    expect(Buffer.compare(out.bytes, Buffer.from(artifact.body))).toBe(0)
    expect(out.report.checked).toEqual([expect.objectContaining({ state: "ok" })])
  })

  it("a commit without replace keeps a same-size copy; recording a kept copy leaves its state and verification alone", async () => {
    const artifact = randomArtifact(50_000)
    const path = `/kept-${counter}.bin`
    http.set(path, { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(backend, (storage) =>
      Effect.gen(function* () {
        const catalog = yield* Catalog
        const done = yield* download({ url: http.url(path), sha256 })
        // the caller vouches for the copy (no `replace`): the store keeps it and says so
        const commit = yield* Effect.scoped(
          Effect.gen(function* () {
            const temp = yield* storage.begin
            yield* temp.write([artifact.body])
            return yield* temp.commit(sha256, done.size)
          })
        )
        const markedAt = new Date(Date.now() + 1000)
        yield* catalog.setLocationState(sha256, storage.id, "corrupt", markedAt)
        yield* catalog.recordDownload({
          sha256,
          size: done.size,
          digests: done.digests,
          store: storage.id,
          key: commit.object.key,
          kept: true,
          url: http.url(path),
          finalUrl: http.url(path),
          at: new Date(Date.now() + 2000)
        })
        return { commit, markedAt, after: yield* location(sha256, storage.id) }
      })
    )
    expect(out.commit).toEqual(expect.objectContaining({ created: false, kept: true }))
    // nothing verified the stored bytes: the catalog still says what verify found
    expect(out.after?.state).toBe("corrupt")
    expect(out.after?.verifiedAt?.getTime()).toBe(out.markedAt.getTime())
  })
})

describe("replicate over a corrupt replica", () => {
  it("the target's copy marked corrupt is replaced by verified bytes from the healthy one", async () => {
    const artifact = randomArtifact(120_000)
    http.set("/replica.bin", { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(backends[0]!, () =>
      Effect.gen(function* () {
        const target = yield* makeFileStorage({ root: join(scratch, `replica-${++counter}`) })
        yield* download({ url: http.url("/replica.bin"), sha256 })
        yield* replicate(sha256, target)
        yield* Effect.promise(() => backends[0]!.plant(target, sha256, corrupted(artifact.body, 99)))
        yield* verify({ stores: [target] })
        const marked = yield* location(sha256, target.id)
        const again = yield* replicate(sha256, target)
        const bytes = yield* Effect.promise(() => readFile(Option.getOrThrow(target.localPath(sha256))))
        return { marked, again, bytes }
      })
    )
    expect(out.marked?.state).toBe("corrupt")
    expect(out.again).toEqual([expect.objectContaining({ status: "copied" })])
    expect(Buffer.compare(out.bytes, Buffer.from(artifact.body))).toBe(0)
  })
})
