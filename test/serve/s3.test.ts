/**
 * `serve` over an S3 store (moto_server, an S3 emulator, not real S3): a stored artifact with single and multiple
 * ranges and a 304, an on-demand miss fetched, verified and stored in the bucket, then served from it.
 */
import { addOnDemand, fetchAndAdd, Repositories, type RepositoryName, Storage } from "@cargohold/core"
import { layerS3Storage } from "@cargohold/s3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Option } from "effect"
import { type Moto, motoCredentials, startMoto } from "../storage/support/moto.js"
import { createBucket, listKeys, s3Client } from "../storage/support/s3.js"
import { bytesOf, type TestServer } from "../support/servers.js"
import { get, hits, type InProcessServe, sha256Hex, startServe, upstream } from "./harness.js"

const kept = bytesOf(700_000, 71)
const lazy = bytesOf(2 * 1024 * 1024 + 123, 72)
const name = "s3repo" as RepositoryName
const bucket = "serve-test"

let moto: Moto
let up: TestServer
let srv: InProcessServe
let home: string

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "cargohold-serve-s3-"))
  ;[moto, up] = await Promise.all([startMoto(), upstream(new Map([["/kept", { body: kept }], ["/lazy", { body: lazy, delayMs: 10 }]]))])
  await createBucket(s3Client(moto.endpoint), bucket)
  const store = layerS3Storage({ bucket, prefix: "served", endpoint: moto.endpoint, credentials: motoCredentials })
  srv = await startServe(home, { store })
  await srv.run(
    Effect.gen(function* () {
      yield* (yield* Repositories).create(name)
      const { results } = yield* fetchAndAdd(name, [
        { line: 1, path: "pool/kept.bin", metadata: undefined, request: { url: up.url("/kept"), sha256: sha256Hex(kept), size: kept.length } }
      ])
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      yield* addOnDemand(name, [{ path: "pool/lazy.bin", sha256: sha256Hex(lazy), size: lazy.length, sources: [{ url: up.url("/lazy") }] }])
    })
  )
}, 90_000)

afterAll(async () => {
  await srv?.close()
  await Promise.all([up?.close(), moto?.stop()])
  rmSync(home, { recursive: true, force: true })
})

describe("serve over an S3 store (emulator)", () => {
  it("a stored artifact: whole, HEAD, one range, several ranges, 304", async () => {
    const whole = await get(srv.url(`/${name}/pool/kept.bin`))
    expect(whole.status).toBe(200)
    expect(whole.body.equals(kept)).toBe(true)
    expect(whole.headers["x-cache"]).toBe("HIT")
    const head = await get(srv.url(`/${name}/pool/kept.bin`), {}, "HEAD")
    expect(head.headers["content-length"]).toBe(String(kept.length))
    expect(head.body.length).toBe(0)
    const one = await get(srv.url(`/${name}/pool/kept.bin`), { range: "bytes=300000-300099" })
    expect(one.status).toBe(206)
    expect(one.headers["content-range"]).toBe(`bytes 300000-300099/${kept.length}`)
    expect(one.body.equals(kept.subarray(300000, 300100))).toBe(true)
    const tail = await get(srv.url(`/${name}/pool/kept.bin`), { range: "bytes=-10" })
    expect(tail.body.equals(kept.subarray(kept.length - 10))).toBe(true)
    const many = await get(srv.url(`/${name}/pool/kept.bin`), { range: "bytes=0-9,650000-650009" })
    expect(many.status).toBe(206)
    expect(String(many.headers["content-type"])).toMatch(/^multipart\/byteranges; boundary=/)
    const text = many.body.toString("latin1")
    expect(text).toContain(kept.subarray(0, 10).toString("latin1"))
    expect(text).toContain(kept.subarray(650000, 650010).toString("latin1"))
    expect(text).toContain(`Content-Range: bytes 650000-650009/${kept.length}`)
    const notModified = await get(srv.url(`/${name}/pool/kept.bin`), { "if-none-match": `"${sha256Hex(kept)}"` })
    expect(notModified.status).toBe(304)
  })

  it("an on-demand miss: fetched once, verified, stored in the bucket, then served from it (a Range too)", async () => {
    const cold = await get(srv.url(`/${name}/pool/lazy.bin`))
    expect(cold.status).toBe(200)
    expect(cold.complete).toBe(true)
    expect(cold.headers["x-cache"]).toBe("MISS")
    expect(sha256Hex(cold.body)).toBe(sha256Hex(lazy))
    for (let i = 0; i < 200 && srv.server.fetching() > 0; i++) await new Promise((r) => setTimeout(r, 50))
    const storedInBucket = await srv.run(Effect.flatMap(Storage, (s) => s.stat(sha256Hex(lazy) as never)))
    expect(Option.isSome(storedInBucket)).toBe(true)
    const keys = await listKeys(s3Client(moto.endpoint), bucket, "served/")
    expect(keys.some((k) => k.includes(sha256Hex(lazy)))).toBe(true)
    const warm = await get(srv.url(`/${name}/pool/lazy.bin`), { range: "bytes=2097150-2097159" })
    expect(warm.status).toBe(206)
    expect(warm.headers["x-cache"]).toBe("HIT")
    expect(warm.body.equals(lazy.subarray(2097150, 2097160))).toBe(true)
    expect(hits(up, "/lazy")).toBe(1)
  })
})
