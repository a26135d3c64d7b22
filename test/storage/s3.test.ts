/**
 * S3 storage against moto_server (an S3 emulator on loopback) and a real node:http source.
 */
import { readdirSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeHttpClient } from "@effect/platform-node"
import type * as HttpClient from "@effect/platform/HttpClient"
import {
  type ByteSize,
  type Catalog,
  download,
  layerSilent,
  type Progress,
  type Remotes,
  type Sha256,
  Storage
} from "@cargohold/core"
import { layerMemoryCatalog } from "@cargohold/core/testing"
import { acquireS3Storage, layerS3StorageFromUrl, makeS3Storage, type S3StorageService } from "@cargohold/s3"
import { Chunk, Effect, Exit, Fiber, Layer, Option, Redacted, Stream } from "effect"
import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { randomArtifact, startHttp, type TestServer } from "./support/http.js"
import { type Moto, motoCredentials, startMoto } from "./support/moto.js"
import { createBucket, listKeys, openUploads, s3Client } from "./support/s3.js"

const MiB = 1024 * 1024
const bucket = "cargohold-test"
let moto: Moto
let http: TestServer
let client: ReturnType<typeof s3Client>

beforeAll(async () => {
  ;[moto, http] = await Promise.all([startMoto(), startHttp()])
  client = s3Client(moto.endpoint)
  await createBucket(client, bucket)
})

afterAll(async () => {
  client?.destroy()
  await Promise.all([moto?.stop(), http?.close()])
})

const s3 = (prefix: string) =>
  acquireS3Storage(
    Effect.succeed({ bucket, prefix, endpoint: moto.endpoint, credentials: { ...motoCredentials, secretAccessKey: Redacted.make(motoCredentials.secretAccessKey) }, partSize: 5 * MiB })
  )


/** Runs `f` with the S3 storage of `prefix` as `Storage`, a memory catalog and the undici HTTP client. */
const withS3 = <A, E>(prefix: string, f: (storage: S3StorageService) => Effect.Effect<A, E, Storage | Catalog | Remotes | Progress | HttpClient.HttpClient>) =>
  Effect.runPromiseExit(
    Effect.scoped(
      Effect.gen(function* () {
        const storage = yield* s3(prefix)
        return yield* f(storage).pipe(
          Effect.provide(Layer.mergeAll(Layer.succeed(Storage, storage), layerMemoryCatalog, layerSilent, NodeHttpClient.layerUndici))
        )
      })
    )
  )

const readAll = (storage: S3StorageService, sha256: Sha256) =>
  Stream.runCollect(storage.read(sha256)).pipe(
    Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))
  )

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const nothingLeft = async (prefix: string) => {
  expect(await openUploads(client, bucket)).toEqual([])
  expect(await listKeys(client, bucket, `${prefix}/.tmp/`)).toEqual([])
}

describe("S3 storage", () => {
  it("streams a multi-megabyte download into S3 as a multipart upload and reads it back", async () => {
    const artifact = randomArtifact(13 * MiB + 12345)
    http.set("/big.bin", { body: artifact.body })
    const exit = await withS3("streamed", (storage) =>
      Effect.gen(function* () {
        const result = yield* download({ url: http.url("/big.bin"), sha256: artifact.sha256 })
        const back = yield* readAll(storage, result.sha256)
        const stat = yield* storage.stat(result.sha256)
        return { result, back, stat }
      })
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    const { result, back, stat } = exit.value
    expect(result.location.store).toBe(`s3://${bucket}/streamed`)
    expect(result.location.key).toBe(`${artifact.sha256.slice(0, 2)}/${artifact.sha256.slice(2, 4)}/${artifact.sha256}`)
    expect(back.length).toBe(artifact.size)
    expect(sha(back)).toBe(artifact.sha256)
    expect(Option.getOrThrow(stat).size).toBe(artifact.size)
    expect(await listKeys(client, bucket, "streamed/")).toEqual([`streamed/${result.location.key}`])
    await nothingLeft("streamed")
  })

  it("commits idempotently and PUTs an artifact smaller than a part directly", async () => {
    const artifact = randomArtifact(300 * 1024)
    const exit = await withS3("small", (storage) =>
      Effect.gen(function* () {
        const once = () =>
          Effect.scoped(
            Effect.gen(function* () {
              const temp = yield* storage.begin
              yield* temp.write([artifact.body.subarray(0, 1000), artifact.body.subarray(1000)])
              return yield* temp.commit(artifact.sha256 as Sha256, artifact.size as ByteSize)
            })
          )
        const first = yield* once()
        const second = yield* once()
        return { first: first.created, second: second.created, back: yield* readAll(storage, artifact.sha256 as Sha256) }
      })
    )
    expect(exit).toMatchObject({ _tag: "Success", value: { first: true, second: false } })
    if (Exit.isSuccess(exit)) expect(sha(exit.value.back)).toBe(artifact.sha256)
    await nothingLeft("small")
  })

  it("leaves no object and no multipart upload when the download breaks off", async () => {
    const artifact = randomArtifact(12 * MiB)
    http.set("/broken.bin", { body: artifact.body, breakAfter: 11 * MiB })
    const exit = await withS3("broken", () => download({ url: http.url("/broken.bin"), sha256: artifact.sha256 }))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(await listKeys(client, bucket, "broken/")).toEqual([])
    await nothingLeft("broken")
  })

  it("aborts the multipart upload when the download is interrupted mid-way", async () => {
    const artifact = randomArtifact(16 * MiB)
    http.set("/stall.bin", { body: artifact.body, stallAfter: 12 * MiB })
    const exit = await withS3("interrupted", () =>
      Effect.gen(function* () {
        const fiber = yield* Effect.fork(download({ url: http.url("/stall.bin"), sha256: artifact.sha256 }))
        // wait until parts are on the server, then interrupt
        while ((yield* Effect.promise(() => openUploads(client, bucket))).length === 0) yield* Effect.sleep(50)
        yield* Fiber.interrupt(fiber)
      })
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(await listKeys(client, bucket, "interrupted/")).toEqual([])
    await nothingLeft("interrupted")
  })

  it("reports a deleted object as absent and fails to read it", async () => {
    const artifact = randomArtifact(1000)
    const exit = await withS3("deleted", (storage) =>
      Effect.gen(function* () {
        const { object } = yield* Effect.scoped(
          Effect.flatMap(storage.begin, (temp) =>
            temp.write([artifact.body]).pipe(Effect.zipRight(temp.commit(artifact.sha256 as Sha256, artifact.size as ByteSize)))
          )
        )
        const removed = yield* storage.remove(artifact.sha256 as Sha256)
        const again = yield* storage.remove(artifact.sha256 as Sha256)
        const stat = yield* storage.stat(artifact.sha256 as Sha256)
        const read = yield* Effect.exit(readAll(storage, artifact.sha256 as Sha256))
        return { object, removed, again, stat, read }
      })
    )
    expect(exit).toMatchObject({ _tag: "Success", value: { removed: true, again: false, stat: Option.none() } })
    if (Exit.isSuccess(exit)) expect(exit.value.read).toMatchObject({ _tag: "Failure" })
  })

  it("keeps no local copy when the store is S3", async () => {
    const scratch = await mkdtemp(join(tmpdir(), "cargohold-nolocal-"))
    const saved = { TMPDIR: process.env.TMPDIR, CARGOHOLD_HOME: process.env.CARGOHOLD_HOME }
    process.env.TMPDIR = scratch
    process.env.CARGOHOLD_HOME = scratch
    try {
      const artifact = randomArtifact(11 * MiB)
      http.set("/nolocal.bin", { body: artifact.body })
      const exit = await withS3("nolocal", () => download({ url: http.url("/nolocal.bin"), sha256: artifact.sha256 }))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(readdirSync(scratch, { recursive: true })).toEqual([])
    } finally {
      process.env.TMPDIR = saved.TMPDIR
      process.env.CARGOHOLD_HOME = saved.CARGOHOLD_HOME
      if (saved.TMPDIR === undefined) delete process.env.TMPDIR
      if (saved.CARGOHOLD_HOME === undefined) delete process.env.CARGOHOLD_HOME
      await rm(scratch, { recursive: true, force: true })
    }
  })

  it("builds from an s3:// URL with credentials from the AWS environment variables", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }
    process.env.AWS_ACCESS_KEY_ID = "testing"
    process.env.AWS_SECRET_ACCESS_KEY = "testing"
    try {
      const url = `s3://${bucket}/from-url?endpoint=${encodeURIComponent(moto.endpoint)}&region=us-east-1`
      const id = await Effect.runPromise(
        Effect.map(Storage, (s) => s.id).pipe(Effect.provide(layerS3StorageFromUrl(url)))
      )
      expect(id).toBe(`s3://${bucket}/from-url`)
      const bad = await Effect.runPromiseExit(Effect.provide(Storage, layerS3StorageFromUrl(`s3://u:p@${bucket}/x`)))
      expect(bad).toMatchObject({ _tag: "Failure" })
      expect(JSON.stringify(bad)).not.toContain("u:p")
      void makeS3Storage
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID
      else process.env.AWS_ACCESS_KEY_ID = saved.id
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret
    }
  })
})
