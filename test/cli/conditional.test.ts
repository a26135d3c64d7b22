/**
 * Conditional re-fetch: a URL fetched without a digest is asked again with If-None-Match / If-Modified-Since from
 * the catalog; a 304 is reported as unchanged (the stored artifact, no body read); a changed resource is fetched
 * in full; no validators are sent when the stored copy is gone. The server counts the body bytes it sends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { rmSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { bytesOf, filesUnder, jsonLines, runCli, sha256Hex, tempDir } from "./helpers.js"

let body = bytesOf(50_000, 61)
let etag = '"v1"'
const lastModified = "Tue, 01 Dec 2026 10:00:00 GMT"
let bodyBytes = 0
const requests: Array<http.IncomingHttpHeaders> = []
let server: http.Server
let url = ""
const home = tempDir()

beforeAll(async () => {
  server = http.createServer((request, response) => {
    requests.push(request.headers)
    if (request.headers["if-none-match"] === etag) {
      response.writeHead(304, { etag, "last-modified": lastModified }).end()
      return
    }
    response.writeHead(200, { etag, "last-modified": lastModified, "content-length": String(body.length) })
    bodyBytes += body.length
    response.end(body)
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pkg.tar`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((done) => server.close(done))
  home.remove()
})

describe("conditional re-fetch", () => {
  it("304: unchanged, no body read; a new ETag: fetched again; a lost copy: no validators sent", async () => {
    const h = ["--home", home.path]
    const first = await runCli(["fetch", url, "--json", ...h])
    expect(first.code, first.stderr).toBe(0)
    expect(jsonLines(first.stdout)).toMatchObject([{ status: "ok", sha256: sha256Hex(body), cached: false }])
    expect(bodyBytes).toBe(body.length)
    expect(requests.at(-1)!["if-none-match"]).toBeUndefined()

    const again = await runCli(["fetch", url, ...h])
    expect(again.code, again.stderr).toBe(0)
    expect(requests.at(-1)).toMatchObject({ "if-none-match": '"v1"', "if-modified-since": lastModified })
    expect(bodyBytes).toBe(body.length) // the 304 sent no body, and none was read
    const [status, sha, size, path] = again.stdout.trim().split("\t")
    expect([status, sha, size]).toEqual(["unchanged", sha256Hex(body), String(body.length)])
    expect(filesUnder(join(home.path, "store"))).toEqual([path])
    const json = await runCli(["fetch", url, "--json", ...h])
    expect(jsonLines(json.stdout)).toMatchObject([{ status: "ok", cached: true, notModified: true, sha256: sha256Hex(body) }])
    expect(bodyBytes).toBe(body.length)

    // the resource changes: its new ETag does not match, the new bytes are fetched and stored beside the old
    body = bytesOf(30_000, 62)
    etag = '"v2"'
    const changed = await runCli(["fetch", url, "--json", ...h])
    expect(changed.code, changed.stderr).toBe(0)
    expect(jsonLines(changed.stdout)).toMatchObject([{ status: "ok", cached: false, sha256: sha256Hex(body) }])
    expect(bodyBytes).toBe(50_000 + 30_000)
    expect(filesUnder(join(home.path, "store"))).toHaveLength(2)

    // the stored copy is gone: a 304 could not be served, so no validators are sent and the body is read
    for (const file of filesUnder(join(home.path, "store"))) rmSync(file, { force: true })
    const lost = await runCli(["fetch", url, "--json", ...h])
    expect(lost.code, lost.stderr).toBe(0)
    expect(requests.at(-1)!["if-none-match"]).toBeUndefined()
    expect(jsonLines(lost.stdout)).toMatchObject([{ status: "ok", cached: false, sha256: sha256Hex(body) }])
    expect(bodyBytes).toBe(50_000 + 30_000 + 30_000)
    for (const result of [first, again, json, changed, lost]) expect(result.stdout + result.stderr).not.toContain("internal error")
  }, 60_000)
})
