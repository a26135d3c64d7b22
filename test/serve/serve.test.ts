/**
 * `serve` over real sockets: stored artifacts (HEAD, Range, multipart, validators, listings, routes), path tricks,
 * and on-demand units (verification before or while sending, one upstream fetch for concurrent misses, Range on a
 * miss, cooldown after a failure).
 */
import { addOnDemand, fetchAndAdd, Repositories, type RepositoryName, Storage } from "@cargohold/core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mkdtempSync, rmSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Option } from "effect"
import { bytesOf, type TestServer } from "../support/servers.js"
import { get, hits, type InProcessServe, sha256Hex, startServe, upstream } from "./harness.js"

const small = bytesOf(20_000, 1)
const json = Buffer.from('{"hello": "world"}\n')
const weird = bytesOf(100, 9)
const lazySmall = bytesOf(30_000, 2)
const lazySmallBad = bytesOf(30_000, 3)
const large = bytesOf(3 * 1024 * 1024, 4)
const largeBad = bytesOf(3 * 1024 * 1024, 5)
const largeRange = bytesOf(3 * 1024 * 1024, 6)
const lazyHeld = bytesOf(40_000, 7)
const name = "main" as RepositoryName

let home: string
let up: TestServer
let srv: InProcessServe

const raw = (target: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(srv.server.port, "127.0.0.1")
    let text = ""
    socket.on("data", (d) => (text += d.toString("latin1")))
    socket.on("end", () => resolve(text))
    socket.on("error", reject)
    socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  })

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "cargohold-serve-"))
  up = await upstream(
    new Map([
      ["/small", { body: small }],
      ["/data.json", { body: json }],
      ["/weird", { body: weird }],
      ["/lazy-small", { body: lazySmall }],
      ["/lazy-small-bad", { body: lazySmallBad, lie: bytesOf(30_000, 33) }],
      ["/large", { body: large, delayMs: 15 }],
      ["/large-bad", { body: largeBad, lie: bytesOf(3 * 1024 * 1024, 55), delayMs: 2 }],
      ["/large-range", { body: largeRange, delayMs: 40 }],
      ["/held", { body: lazyHeld }]
    ])
  )
  srv = await startServe(home)
  await srv.run(
    Effect.gen(function* () {
      yield* (yield* Repositories).create(name)
      const entries = [
        { line: 1, path: "pool/small.bin", metadata: undefined, request: { url: up.url("/small"), sha256: sha256Hex(small), size: small.length } },
        { line: 2, path: "pool/data.json", metadata: undefined, request: { url: up.url("/data.json") } },
        { line: 3, path: "odd/<b>&\"name\" ü.txt", metadata: undefined, request: { url: up.url("/weird") } }
      ]
      const { results } = yield* fetchAndAdd(name, entries)
      expect(results.every((r) => r._tag === "Ok")).toBe(true)
      const lazy = (path: string, body: Buffer, url: string) => ({ path, sha256: sha256Hex(body), size: body.length, sources: [{ url: up.url(url) }] })
      yield* addOnDemand(name, [
        lazy("lazy/small.bin", lazySmall, "/lazy-small"),
        lazy("lazy/small-bad.bin", lazySmallBad, "/lazy-small-bad"),
        lazy("lazy/large.bin", large, "/large"),
        lazy("lazy/large-bad.bin", largeBad, "/large-bad"),
        lazy("lazy/large-range.bin", largeRange, "/large-range"),
        lazy("lazy/held.bin", lazyHeld, "/held")
      ])
    })
  )
}, 60_000)

afterAll(async () => {
  await srv?.close()
  await up?.close()
  rmSync(home, { recursive: true, force: true })
})

const stored = (body: Buffer) => srv.run(Effect.flatMap(Storage, (s) => s.stat(sha256Hex(body) as never))).then(Option.isSome)

describe("serve: stored artifacts", () => {
  it("GET and HEAD: bytes, length, ETag, type from the path; versioned and by-address routes are immutable", async () => {
    const got = await get(srv.url("/main/pool/small.bin"))
    expect(got.status).toBe(200)
    expect(got.body.equals(small)).toBe(true)
    expect(got.headers["content-length"]).toBe(String(small.length))
    expect(got.headers.etag).toBe(`"${sha256Hex(small)}"`)
    expect(got.headers["content-type"]).toBe("application/octet-stream")
    expect(got.headers["x-cache"]).toBe("HIT")
    expect(got.headers["cache-control"]).toBeUndefined()
    const head = await get(srv.url("/main/pool/small.bin"), {}, "HEAD")
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect(head.headers["content-length"]).toBe(String(small.length))
    expect((await get(srv.url("/main/pool/data.json"))).headers["content-type"]).toBe("application/json")
    const v1 = await get(srv.url("/main@1/pool/small.bin"))
    expect(v1.body.equals(small)).toBe(true)
    expect(v1.headers["cache-control"]).toContain("immutable")
    expect((await get(srv.url("/main@0/pool/small.bin"))).status).toBe(404)
    expect((await get(srv.url("/main@9/pool/small.bin"))).status).toBe(404)
    const byAddress = await get(srv.url(`/sha256/${sha256Hex(small)}`))
    expect(byAddress.body.equals(small)).toBe(true)
    expect((await get(srv.url(`/sha256/${"0".repeat(64)}`))).status).toBe(404)
    expect((await get(srv.url("/main/pool/none.bin"))).status).toBe(404)
    expect((await get(srv.url("/nosuch/x"))).status).toBe(404)
    expect((await get(srv.url("/main/pool/small.bin"), {}, "POST")).status).toBe(405)
  })

  it("Range: single, suffix, several (multipart/byteranges), unsatisfiable; If-Range; If-None-Match", async () => {
    const one = await get(srv.url("/main/pool/small.bin"), { range: "bytes=100-199" })
    expect(one.status).toBe(206)
    expect(one.headers["content-range"]).toBe(`bytes 100-199/${small.length}`)
    expect(one.body.equals(small.subarray(100, 200))).toBe(true)
    const suffix = await get(srv.url("/main/pool/small.bin"), { range: "bytes=-10" })
    expect(suffix.body.equals(small.subarray(small.length - 10))).toBe(true)
    const many = await get(srv.url("/main/pool/small.bin"), { range: "bytes=0-9,1000-1009" })
    expect(many.status).toBe(206)
    const boundary = /boundary=(\w+)/.exec(String(many.headers["content-type"]))![1]!
    expect(Number(many.headers["content-length"])).toBe(many.body.length)
    const parts = many.body.toString("latin1").split(`--${boundary}`)
    expect(parts.length).toBe(4) // "", part 1, part 2, "--\r\n"
    expect(parts[1]).toContain(`Content-Range: bytes 0-9/${small.length}`)
    expect(parts[1]!.endsWith(`${small.subarray(0, 10).toString("latin1")}\r\n`)).toBe(true)
    expect(parts[2]).toContain(`Content-Range: bytes 1000-1009/${small.length}`)
    const past = await get(srv.url("/main/pool/small.bin"), { range: `bytes=${small.length}-` })
    expect(past.status).toBe(416)
    expect(past.headers["content-range"]).toBe(`bytes */${small.length}`)
    const etag = `"${sha256Hex(small)}"`
    expect((await get(srv.url("/main/pool/small.bin"), { range: "bytes=0-0", "if-range": etag })).status).toBe(206)
    const stale = await get(srv.url("/main/pool/small.bin"), { range: "bytes=0-0", "if-range": '"other"' })
    expect(stale.status).toBe(200)
    expect(stale.body.length).toBe(small.length)
    const notModified = await get(srv.url("/main/pool/small.bin"), { "if-none-match": `"x", ${etag}` })
    expect(notModified.status).toBe(304)
    expect(notModified.body.length).toBe(0)
    expect((await get(srv.url("/main/pool/small.bin"), { "if-none-match": '"x"' })).status).toBe(200)
    // the artifact is in memory by now: header names in any case still make the answer partial or conditional
    const mixed = await get(srv.url("/main/pool/small.bin"), { RANGE: "bytes=5-9" })
    expect(mixed.status).toBe(206)
    expect(mixed.body.equals(small.subarray(5, 10))).toBe(true)
    expect((await get(srv.url(`/sha256/${sha256Hex(small)}`), { "If-None-Match": etag })).status).toBe(304)
  })

  it("listings: a plain HTML index, names escaped and links encoded; folders redirect to their slash", async () => {
    const root = await get(srv.url("/main/"))
    expect(root.status).toBe(200)
    expect(root.headers["content-type"]).toContain("text/html")
    const page = root.body.toString()
    for (const folder of ["lazy/", "odd/", "pool/"]) expect(page).toContain(`href="${folder}"`)
    const odd = (await get(srv.url("/main/odd/"))).body.toString()
    expect(odd).toContain("&lt;b&gt;&amp;&quot;name&quot; ü.txt")
    expect(odd).not.toContain("<b>")
    const href = /href="([^"]*name[^"]*)"/.exec(odd)![1]!.replace(/&amp;/g, "&")
    expect((await get(srv.url(`/main/odd/${href}`))).body.equals(weird)).toBe(true)
    expect((await get(srv.url("/"))).body.toString()).toContain('href="main/"')
    const bare = await get(srv.url("/main"))
    expect(bare.status).toBe(301)
    expect(bare.headers.location).toBe("/main/")
    const folder = await get(srv.url("/main/pool"))
    expect(folder.status).toBe(301)
    expect(folder.headers.location).toBe("/main/pool/")
    expect((await get(srv.url("/main/nofolder/"))).status).toBe(404)
  })

  it("path tricks are refused before any look-up", async () => {
    const targets = [
      "/main/../../etc/passwd",
      "/main/%2e%2e/%2e%2e/etc/passwd",
      "/main/.%2E/x",
      "/main/pool%2fsmall.bin",
      "/main/pool%5csmall.bin",
      "/main/pool/small.bin%00.txt",
      "/main//pool/small.bin",
      "/main/./pool/small.bin",
      "/main/pool/%E0%A4%A",
      "//etc/passwd",
      "/sha256/../catalog.db",
      "http://127.0.0.1/main/pool/small.bin",
      "*"
    ]
    for (const target of targets) {
      const answer = await raw(target)
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1])
      expect([400, 404], `${target}: ${answer.slice(0, 80)}`).toContain(status)
      expect(answer).not.toContain(small.subarray(0, 32).toString("latin1"))
    }
  })
})

describe("serve: on-demand units", () => {
  it("a small unit is verified before its first byte; then stored, served from the store, one upstream fetch", async () => {
    expect(await stored(lazySmall)).toBe(false)
    const first = await get(srv.url("/main/lazy/small.bin"))
    expect(first.status).toBe(200)
    expect(first.headers["x-cache"]).toBe("MISS")
    expect(first.body.equals(lazySmall)).toBe(true)
    expect(await stored(lazySmall)).toBe(true)
    const second = await get(srv.url("/main/lazy/small.bin"))
    expect(second.headers["x-cache"]).toBe("HIT")
    expect(hits(up, "/lazy-small")).toBe(1)
  })

  it("a small unit whose upstream serves other bytes: a clean 502 with none of them, nothing stored, then a cooldown", async () => {
    const got = await get(srv.url("/main/lazy/small-bad.bin"))
    expect(got.status).toBe(502)
    expect(got.body.toString()).toContain("sha256 mismatch")
    expect(got.body.length).toBeLessThan(1000)
    expect(await stored(lazySmallBad)).toBe(false)
    const upstreamBefore = hits(up, "/lazy-small-bad")
    const again = await get(srv.url("/main/lazy/small-bad.bin"))
    expect(again.status).toBe(502)
    expect(again.headers["retry-after"]).toBeDefined()
    expect(hits(up, "/lazy-small-bad")).toBe(upstreamBefore)
  })

  it("a large unit whose upstream serves other bytes: the response is cut short of its length, nothing stored", async () => {
    const got = await get(srv.url("/main/lazy/large-bad.bin"))
    expect(got.status).toBe(200)
    expect(got.headers["content-length"]).toBe(String(largeBad.length))
    expect(got.complete).toBe(false)
    expect(got.body.length).toBeLessThan(largeBad.length)
    expect(await stored(largeBad)).toBe(false)
    // the access log is written in batches, a few milliseconds after the response ends
    await expect.poll(() => srv.log.some((l) => l.includes("/main/lazy/large-bad.bin") && l.endsWith(" cut")), { timeout: 5000 }).toBe(true)
  })

  it("concurrent misses for a large unit share one upstream fetch; every client gets every byte", async () => {
    const all = await Promise.all(Array.from({ length: 6 }, () => get(srv.url("/main/lazy/large.bin"))))
    for (const got of all) {
      expect(got.status).toBe(200)
      expect(got.complete).toBe(true)
      expect(got.body.equals(large)).toBe(true)
    }
    expect(all.some((g) => g.headers["x-cache"] === "MISS")).toBe(true)
    expect(hits(up, "/large")).toBe(1)
    expect(await stored(large)).toBe(true)
  })

  it("a Range on a miss gets its bytes while the fetch runs; the whole artifact is stored", async () => {
    const range = { start: 65536, end: 2 * 65536 - 1 }
    let firstByteWhileFetching: boolean | undefined
    const got = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = http.request(
        srv.url("/main/lazy/large-range.bin"),
        { headers: { range: `bytes=${range.start}-${range.end}` }, agent: false },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => {
            if (firstByteWhileFetching === undefined) firstByteWhileFetching = srv.server.fetching() > 0
            chunks.push(c)
          })
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
        }
      )
      req.on("error", reject)
      req.end()
    })
    expect(got.status).toBe(206)
    expect(got.body.equals(largeRange.subarray(range.start, range.end + 1))).toBe(true)
    expect(firstByteWhileFetching).toBe(true)
    for (let i = 0; i < 200 && srv.server.fetching() > 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await stored(largeRange)).toBe(true)
    expect(hits(up, "/large-range")).toBe(1)
  })

  it("If-None-Match answers 304 without fetching", async () => {
    const got = await get(srv.url("/main/lazy/held.bin"), { "if-none-match": `"${sha256Hex(lazyHeld)}"` })
    expect(got.status).toBe(304)
    expect(hits(up, "/held")).toBe(0)
  })

  it("one access-log line per request", async () => {
    await expect.poll(() => srv.log.some((l) => l.includes('"GET /main/pool/small.bin HTTP/1.1" 200')), { timeout: 5000 }).toBe(true)
    const line = srv.log.find((l) => l.includes('"GET /main/pool/small.bin HTTP/1.1" 200'))
    expect(line).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/main\/pool\/small\.bin HTTP\/1\.1" 200 20000 "-" "-" [\d.]+ms ok$/)
  })
})

describe("serve: the access log", () => {
  it("is written in pieces of whole lines up to 4 KiB, fewer than one per request, every line there after the close", async () => {
    const writes: Array<string> = []
    const other = await startServe(home, { accessLog: (text) => void writes.push(text) })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
    const n = 400
    try {
      const statuses = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          new Promise<number>((resolve, reject) => {
            const target = i % 2 === 0 ? "/main/pool/small.bin" : `/sha256/${sha256Hex(small)}`
            http
              .get(other.url(target), { agent }, (res) => {
                res.resume()
                res.on("end", () => resolve(res.statusCode ?? 0))
              })
              .on("error", reject)
          })
        )
      )
      expect(statuses.every((s) => s === 200)).toBe(true)
    } finally {
      agent.destroy()
      await other.close()
    }
    const lines = writes.join("").split("\n").filter((l) => l !== "")
    expect(lines.length).toBe(n)
    expect(lines.every((l) => / 200 20000 "-" "-" [\d.]+ms ok$/.test(l))).toBe(true)
    expect(writes.every((w) => w.endsWith("\n") && Buffer.byteLength(w) <= 4096)).toBe(true)
    expect(writes.length).toBeLessThan(n)
  })
})

describe("serve: a new repository version", () => {
  it("is served under the latest route within seconds (the cached latest is asked again in the background)", async () => {
    // the latest version is known (and cached) before the new one is made
    expect((await get(srv.url("/main/pool/small.bin"))).status).toBe(200)
    expect((await get(srv.url("/main/pool/later.bin"))).status).toBe(404)
    const before = await srv.run(Effect.flatMap(Repositories, (r) => r.versions(name)))
    const { results } = await srv.run(
      fetchAndAdd(name, [{ line: 1, path: "pool/later.bin", metadata: undefined, request: { url: up.url("/small"), sha256: sha256Hex(small), size: small.length } }])
    )
    expect(results.every((r) => r._tag === "Ok")).toBe(true)
    let status = 0
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100))
      status = (await get(srv.url("/main/pool/later.bin"))).status
    }
    expect(status).toBe(200)
    // the versions before it stay as they were
    expect((await get(srv.url(`/main@${before.at(-1)!.number}/pool/later.bin`))).status).toBe(404)
  })
})
