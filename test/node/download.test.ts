import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Catalog, DigestMismatch, download, InvalidRequest, Progress, type ProgressEvent, type Sha256 } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytes, fdsUnder, filesUnder, openFds, sha256Hex, startServer, type TestServer, tempDir } from "./helpers.js"

const dir = tempDir()
const root = join(dir.path, "store")
const files = join(dir.path, "files")
const small = bytes(10_000, 1)
const large = bytes(6 * 1024 * 1024 + 3, 2)
let server: TestServer

beforeAll(async () => {
  mkdirSync(files)
  writeFileSync(join(files, "small.bin"), small)
  writeFileSync(join(files, "large.bin"), large)
  server = await startServer((req, res) => {
    if (req.url === "/large.bin") {
      res.writeHead(200, { "content-length": String(large.length) })
      res.end(large)
    } else if (req.url === "/small.bin") {
      res.writeHead(200, { "content-length": String(small.length) })
      res.end(small)
    } else if (req.url === "/stall.bin") {
      // announces 10 MiB, sends 2 MiB, then says nothing more
      res.writeHead(200, { "content-length": String(10 * 1024 * 1024) })
      res.write(bytes(2 * 1024 * 1024, 5))
    } else {
      res.writeHead(404).end()
    }
  })
})
afterAll(async () => {
  await server.close()
  dir.remove()
})

const settings = { retryBaseDelay: Duration.millis(5), retryMaxDelay: Duration.millis(20) }

/** The node layer on a filesystem store at `root`, an in-memory catalog, `progress`, and `files` as a file root. */
const nodeLayer = (progress?: Layer.Layer<Progress>) =>
  layerNode({ home: dir.path, catalog: "memory:", store: pathToFileURL(root).href, settings, progress, fileRoots: [files] })

const fileUrl = (name: string) => pathToFileURL(join(files, name)).href

const storedFiles = () => filesUnder(root).filter((f) => !f.startsWith(".tmp"))

/** A Progress that holds the download forever at its first Bytes event, and says when it got there. */
const stallingProgress = (reached: Deferred.Deferred<void>) =>
  Layer.succeed(Progress, {
    emit: (event: ProgressEvent) =>
      event._tag === "Bytes" && event.received > 0 ? Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never) : Effect.void
  })

describe("download into the filesystem store (layerNode)", () => {
  it("over file:// and over HTTP: stored once, catalogued, then served from the store", async () => {
    const artifact = await Effect.runPromise(
      Effect.gen(function* () {
        const viaFile = yield* download({ url: fileUrl("large.bin"), sha256: sha256Hex(large), size: large.length })
        expect(viaFile.cached).toBe(false)
        expect(viaFile.location.store).toBe(pathToFileURL(root).href)
        const viaHttp = yield* download({ url: server.url("/large.bin"), sha256: sha256Hex(large) })
        expect(viaHttp.cached).toBe(true)
        const wrong = yield* download({ url: server.url("/small.bin"), digests: { md5: "00".repeat(16) } }).pipe(Effect.flip)
        expect(wrong).toBeInstanceOf(DigestMismatch)
        const unpinned = yield* download({ url: server.url("/small.bin") })
        expect(unpinned.sha256).toBe(sha256Hex(small))
        const catalog = yield* Catalog
        const entry = yield* catalog.lookup(viaFile.sha256)
        expect(Option.isSome(entry)).toBe(true)
        return viaFile
      }).pipe(Effect.provide(nodeLayer()))
    )
    expect(storedFiles().sort()).toEqual([artifact.location.key, `${sha256Hex(small).slice(0, 2)}/${sha256Hex(small)}`].sort())
    expect(server.requests.filter((r) => r === "/large.bin").length).toBe(0)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
  })

  it("a digest mismatch over file:// leaves no file, no temp file and no descriptor", async () => {
    const before = storedFiles()
    const fds = openFds()
    const exit = await Effect.runPromiseExit(
      download({ url: fileUrl("large.bin"), sha256: sha256Hex("not it") }).pipe(Effect.provide(nodeLayer()))
    )
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error).toBeInstanceOf(DigestMismatch)
    expect(storedFiles()).toEqual(before)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
    expect(fdsUnder(dir.path)).toEqual([])
    expect(openFds()).toBe(fds)
  })

  it("an interrupted file:// download leaves no temp file and no descriptor", async () => {
    const before = storedFiles()
    const fds = openFds()
    await Effect.runPromise(
      Effect.gen(function* () {
        const reached = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          download({ url: fileUrl("large.bin") }).pipe(Effect.provide(nodeLayer(stallingProgress(reached))))
        )
        yield* Deferred.await(reached)
        expect(filesUnder(join(root, ".tmp")).length).toBe(1)
        expect(fdsUnder(dir.path).length).toBe(2) // the source and the temp file
        yield* Fiber.interrupt(fiber)
      })
    )
    expect(storedFiles()).toEqual(before)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
    expect(fdsUnder(dir.path)).toEqual([])
    expect(openFds()).toBe(fds)
  })

  it("an interrupted HTTP download (server stalled mid-body) leaves no temp file and no descriptor", async () => {
    const before = storedFiles()
    await Effect.runPromise(
      Effect.gen(function* () {
        const reached = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          download({ url: server.url("/stall.bin") }).pipe(Effect.provide(nodeLayer(stallingProgress(reached))))
        )
        yield* Deferred.await(reached)
        expect(filesUnder(join(root, ".tmp")).length).toBe(1)
        yield* Fiber.interrupt(fiber)
      })
    )
    expect(storedFiles()).toEqual(before)
    expect(filesUnder(join(root, ".tmp"))).toEqual([])
    expect(fdsUnder(dir.path)).toEqual([])
  })

  it("an existing good copy is not rewritten: the same bytes from two URLs give one file", async () => {
    const exit = await Effect.runPromise(
      Effect.gen(function* () {
        const a = yield* download({ url: server.url("/small.bin") })
        const b = yield* download({ url: fileUrl("small.bin") })
        return [a, b] as const
      }).pipe(Effect.provide(nodeLayer()))
    )
    expect(exit[0].sha256).toBe(exit[1].sha256 as Sha256)
    expect(storedFiles().filter((f) => f.endsWith(sha256Hex(small))).length).toBe(1)
  })

  it("a large HTTP body (many batches) lands byte for byte in a fresh store", async () => {
    const fresh = join(dir.path, "fresh-store")
    const layer = layerNode({ home: dir.path, catalog: "memory:", store: pathToFileURL(fresh).href, settings })
    const artifact = await Effect.runPromise(
      download({ url: server.url("/large.bin"), size: large.length }).pipe(Effect.provide(layer))
    )
    expect(artifact.sha256).toBe(sha256Hex(large))
    expect(readFileSync(join(fresh, artifact.location.key)).equals(Buffer.from(large))).toBe(true)
    expect(filesUnder(join(fresh, ".tmp"))).toEqual([])
  })

  it("fileRoots confine file:// sources through the whole pipeline", async () => {
    const layer = layerNode({ home: dir.path, catalog: "memory:", store: pathToFileURL(root).href, settings, fileRoots: [files] })
    const ok = await Effect.runPromise(download({ url: fileUrl("small.bin") }).pipe(Effect.provide(layer)))
    expect(ok.size).toBe(small.length)
    const outside = pathToFileURL(join(dir.path, "elsewhere.bin")).href
    writeFileSync(join(dir.path, "elsewhere.bin"), "x")
    const refused = await Effect.runPromise(Effect.flip(download({ url: outside })).pipe(Effect.provide(layer)))
    expect(refused).toBeInstanceOf(InvalidRequest)
    expect(refused.message).toMatch(/outside the allowed roots/)
  })
})
