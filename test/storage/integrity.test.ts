/**
 * Integrity at rest on real parts: the filesystem store from @cargohold/node, S3 on moto_server (an emulator),
 * a node:http source, the in-memory catalog.
 */
import { chmod, mkdtemp, open, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeHttpClient } from "@effect/platform-node"
import {
  Catalog,
  download,
  exportTo,
  type ExportTarget,
  readArtifact,
  replicate,
  type Sha256,
  Storage,
  unrepaired,
  verify
} from "@cargohold/core"
import { CollectedProgress, layerCollecting, layerMemoryCatalog } from "@cargohold/core/testing"
import { type FileStorage, layerNodeHasher, makeFileStorage } from "@cargohold/node"
import { acquireS3Storage, type S3StorageService } from "@cargohold/s3"
import { Chunk, Effect, Layer, Option, Redacted, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { randomArtifact, startHttp, type TestServer } from "./support/http.js"
import { type Moto, motoCredentials, startMoto } from "./support/moto.js"
import { createBucket, listKeys, openUploads, s3Client } from "./support/s3.js"

const MiB = 1024 * 1024
const bucket = "cargohold-integrity"
let moto: Moto
let http: TestServer
let client: ReturnType<typeof s3Client>
let scratch: string

beforeAll(async () => {
  ;[moto, http] = await Promise.all([startMoto(), startHttp()])
  client = s3Client(moto.endpoint)
  await createBucket(client, bucket)
  scratch = await mkdtemp(join(tmpdir(), "cargohold-integrity-"))
})

afterAll(async () => {
  client?.destroy()
  await Promise.all([moto?.stop(), http?.close(), scratch ? rm(scratch, { recursive: true, force: true }) : undefined])
})

let counter = 0
/** A fresh local store, an S3 store under a fresh prefix, a memory catalog, undici, node hashing. */
const run = <A, E>(
  f: (env: { local: FileStorage; s3: S3StorageService }) => Effect.Effect<A, E, never>
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const n = ++counter
        const local = yield* makeFileStorage({ root: join(scratch, `store-${n}`) })
        const s3 = yield* acquireS3Storage(
          Effect.succeed({
            bucket,
            prefix: `replica-${n}`,
            endpoint: moto.endpoint,
            credentials: { ...motoCredentials, secretAccessKey: Redacted.make(motoCredentials.secretAccessKey) },
            partSize: 5 * MiB
          })
        )
        return yield* f({ local, s3 })
      })
    ).pipe(Effect.orDie)
  )

const services = (local: Storage["Type"]) =>
  Layer.mergeAll(Layer.succeed(Storage, local), layerMemoryCatalog, layerCollecting, NodeHttpClient.layerUndici, layerNodeHasher)

const flipByte = async (path: string, at: number) => {
  await chmod(path, 0o644)
  const handle = await open(path, "r+")
  const one = Buffer.alloc(1)
  await handle.read(one, 0, 1, at)
  one[0] = one[0]! ^ 0xff
  await handle.write(one, 0, 1, at)
  await handle.close()
  await chmod(path, 0o444)
}

const collect = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

describe("verify and repair", () => {
  it("finds a flipped byte in a local file and repairs it from the HTTP source", async () => {
    const artifact = randomArtifact(3 * MiB + 17)
    http.set("/flip.bin", { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(({ local }) =>
      Effect.gen(function* () {
        const catalog = yield* Catalog
        yield* download({ url: http.url("/flip.bin"), sha256 })
        const path = Option.getOrThrow(local.localPath(sha256))
        yield* Effect.promise(() => flipByte(path, 1_000_000))
        const found = yield* verify()
        const stateAfterVerify = Option.getOrThrow(yield* catalog.lookup(sha256)).locations[0]!.state
        const repaired = yield* verify({ sha256s: [sha256], repair: true })
        const bytes = yield* Effect.promise(() => readFile(path))
        const again = yield* verify({ sha256s: [sha256] })
        const events = yield* Effect.flatMap(CollectedProgress, (p) => p.events)
        const temps = yield* Effect.promise(() => readdir(local.tmpDir))
        return { found, stateAfterVerify, repaired, bytes, again, events, temps }
      }).pipe(Effect.provide(services(local)))
    )
    expect(out.found.checked).toEqual([
      expect.objectContaining({ sha256, store: expect.stringMatching(/^file:\/\//), state: "corrupt", repaired: false })
    ])
    expect(out.found.checked[0]!.key).toBe(`${sha256.slice(0, 2)}/${sha256}`)
    expect(unrepaired(out.found)).toHaveLength(1)
    expect(out.stateAfterVerify).toBe("corrupt")
    expect(out.repaired.checked).toEqual([expect.objectContaining({ state: "corrupt", repaired: true })])
    expect(out.repaired.checked[0]!.detail).toContain(http.url("/flip.bin"))
    expect(unrepaired(out.repaired)).toEqual([])
    expect(Buffer.compare(out.bytes, Buffer.from(artifact.body))).toBe(0)
    expect(out.again.checked).toEqual([expect.objectContaining({ state: "ok" })])
    const tags = out.events.map((e) => e._tag)
    expect(tags).toContain("VerifyStarted")
    expect(out.events).toContainEqual(expect.objectContaining({ _tag: "VerifyDone", state: "corrupt", repaired: true }))
    expect(out.temps).toEqual([])
  })

  it("says so and keeps the state corrupt when no source can supply the artifact", async () => {
    const artifact = randomArtifact(200_000)
    http.set("/gone.bin", { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(({ local }) =>
      Effect.gen(function* () {
        yield* download({ url: http.url("/gone.bin"), sha256 })
        http.set("/gone.bin", { body: new TextEncoder().encode("something else entirely") })
        yield* Effect.promise(() => flipByte(Option.getOrThrow(local.localPath(sha256)), 10))
        const report = yield* verify({ repair: true })
        const entry = Option.getOrThrow(yield* Effect.flatMap(Catalog, (c) => c.lookup(sha256)))
        return { report, state: entry.locations[0]!.state }
      }).pipe(Effect.provide(services(local)))
    )
    expect(out.report.checked).toEqual([expect.objectContaining({ state: "corrupt", repaired: false })])
    expect(out.report.checked[0]!.detail).toMatch(/no source could supply it/)
    expect(out.state).toBe("corrupt")
  })

  it("scrubs everything over time with a limit, oldest-verified first", async () => {
    const artifacts = [randomArtifact(1000), randomArtifact(2000), randomArtifact(3000)]
    for (const [i, a] of artifacts.entries()) http.set(`/scrub-${i}.bin`, { body: a.body })
    const seen = await run(({ local }) =>
      Effect.gen(function* () {
        for (const [i, a] of artifacts.entries()) yield* download({ url: http.url(`/scrub-${i}.bin`), sha256: a.sha256 })
        const seen: Array<string> = []
        for (let round = 0; round < 3; round++) {
          const report = yield* verify({ limit: 1 })
          seen.push(...report.checked.map((v) => v.sha256))
          yield* Effect.sleep(5)
        }
        return seen
      }).pipe(Effect.provide(services(local)))
    )
    expect(new Set(seen)).toEqual(new Set(artifacts.map((a) => a.sha256)))
  })
})

describe("replicate and read back", () => {
  it("replicates local → S3, reports a deleted object missing, and reads from the healthy copy", async () => {
    const artifact = randomArtifact(6 * MiB + 3)
    http.set("/replica.bin", { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(({ local, s3 }) =>
      Effect.gen(function* () {
        const catalog = yield* Catalog
        yield* download({ url: http.url("/replica.bin"), sha256 })
        const copied = yield* replicate(sha256, s3)
        const again = yield* replicate("all", s3)
        const stores = Option.getOrThrow(yield* catalog.lookup(sha256)).locations.map((l) => `${l.store}:${l.state}`)
        // the local copy goes bad: verify marks it, reads fall back to S3
        yield* Effect.promise(() => flipByte(Option.getOrThrow(local.localPath(sha256)), 5))
        yield* verify()
        const fromS3 = yield* collect(readArtifact(sha256, { stores: [s3] }))
        let exported: Array<Uint8Array> = []
        const memoryTarget: Effect.Effect<ExportTarget<never>> = Effect.sync(() => {
          const chunks: Array<Uint8Array> = []
          return {
            write: (more) => Effect.sync(() => void chunks.push(...more.map((c) => c.slice()))),
            commit: Effect.sync(() => {
              exported = chunks
            })
          }
        })
        const exportedFrom = yield* exportTo(sha256, memoryTarget, { stores: [s3] })
        // then the S3 object disappears
        yield* s3.remove(sha256)
        const missing = yield* verify({ store: s3.id, stores: [s3] })
        return { copied, again, stores, fromS3, exported: Buffer.concat(exported), exportedFrom, missing }
      }).pipe(Effect.provide(services(local)))
    )
    expect(out.copied).toEqual([expect.objectContaining({ status: "copied", to: `s3://${bucket}/replica-${counter}` })])
    expect(out.again).toEqual([expect.objectContaining({ status: "present" })])
    expect(out.stores.sort()).toEqual([`file://${join(scratch, `store-${counter}`)}:ok`, `s3://${bucket}/replica-${counter}:ok`].sort())
    expect(Buffer.compare(out.fromS3, Buffer.from(artifact.body))).toBe(0)
    expect(Buffer.compare(out.exported, Buffer.from(artifact.body))).toBe(0)
    expect(out.exportedFrom.store).toBe(`s3://${bucket}/replica-${counter}`)
    expect(out.missing.checked).toEqual([
      expect.objectContaining({ sha256, store: `s3://${bucket}/replica-${counter}`, state: "missing", key: expect.any(String) })
    ])
    expect(await openUploads(client, bucket)).toEqual([])
    expect(await listKeys(client, bucket, `replica-${counter}/.tmp/`)).toEqual([])
  })

  it("repairs a corrupt local copy from the S3 replica when the HTTP source is gone", async () => {
    const artifact = randomArtifact(1 * MiB)
    http.set("/only-replica.bin", { body: artifact.body })
    const sha256 = artifact.sha256 as Sha256
    const out = await run(({ local, s3 }) =>
      Effect.gen(function* () {
        yield* download({ url: http.url("/only-replica.bin"), sha256 })
        yield* replicate(sha256, s3)
        http.set("/only-replica.bin", { body: new Uint8Array(0) })
        const path = Option.getOrThrow(local.localPath(sha256))
        yield* Effect.promise(() => flipByte(path, 77))
        const report = yield* verify({ repair: true, stores: [s3], store: local.id })
        return { report, bytes: yield* Effect.promise(() => readFile(path)) }
      }).pipe(Effect.provide(services(local)))
    )
    expect(out.report.checked).toEqual([expect.objectContaining({ state: "corrupt", repaired: true })])
    expect(out.report.checked[0]!.detail).toContain("copied from s3://")
    expect(Buffer.compare(out.bytes, Buffer.from(artifact.body))).toBe(0)
  })
})

