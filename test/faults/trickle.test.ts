/**
 * Fault case "a small body trickled by a live server" (issue 11, item 9): idleness counts from the last byte
 * received for every body size. A body under `smallBodyBytes` (256 KiB) sent 1 KiB every 0.2 s takes longer in all
 * than `--idle-timeout 1` but never idles that long: it is stored. A small body that stops does time out. Through
 * the built CLI, over a loopback server.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytesOf, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { startServer, type TestServer } from "../support/servers.js"

const size = 16 * 1024
const body = bytesOf(size, 11)
const dir = tempDir("cargohold-trickle-")
let server: TestServer
const timers = new Set<ReturnType<typeof setInterval>>()

beforeAll(async () => {
  server = await startServer((req, res) => {
    res.writeHead(200, { "content-length": String(size) })
    let sent = 0
    // /stall sends 2 KiB and then nothing, holding the connection open
    const limit = req.url === "/stall" ? 2048 : size
    const timer = setInterval(() => {
      if (sent >= limit || res.destroyed) {
        clearInterval(timer)
        timers.delete(timer)
        if (sent >= size) res.end()
        return
      }
      res.write(body.subarray(sent, sent + 1024))
      sent += 1024
    }, 200)
    timers.add(timer)
    res.on("close", () => {
      clearInterval(timer)
      timers.delete(timer)
    })
  })
})
afterAll(async () => {
  for (const timer of timers) clearInterval(timer)
  await server.close()
  dir.remove()
})

describe("idle timeout on small bodies", () => {
  it("a trickle that is never idle for --idle-timeout is stored; a stall times out", async () => {
    const started = Date.now()
    const trickled = await runCli(["fetch", "--json", server.url("/trickle"), "--idle-timeout", "1", "--home", join(dir.path, "h1")])
    // the body took ~3.2 s in all, more than three idle timeouts
    expect(Date.now() - started).toBeGreaterThan(3000)
    expect(trickled.code).toBe(0)
    expect(jsonLines(trickled.stdout)[0]).toMatchObject({ status: "ok", sha256: sha256Hex(body), size })
    expect(server.stats.requests.filter((r) => r.url === "/trickle").length).toBe(1)

    const stalled = await runCli(
      ["fetch", "--json", server.url("/stall"), "--idle-timeout", "1", "--retries", "0", "--home", join(dir.path, "h2")]
    )
    expect(stalled.code).toBe(1)
    expect(jsonLines(stalled.stdout)[0]).toMatchObject({ status: "failed", error: { _tag: "TimeoutError" } })
    expect(String((jsonLines(stalled.stdout)[0]!.error as { message: string }).message)).toMatch(/idle-read timeout after 1000 ms/)
  })
})
