/**
 * Progress totals and the bar: the totals are known before the first download starts (fetchMany and verify
 * announce them), a single download of unknown size moves the bar, an all-cached run ends full; Ctrl-C prints the
 * summary of what was done and exits 130 (a real SIGINT to the built CLI).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { Effect, Layer, Stream } from "effect"
import { fetchMany, fromCallback, Progress, type ProgressEvent, verify } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { makeRenderer } from "@cargohold/cli"
import { binPath, bytesOf, filesUnder, tempDir } from "./helpers.js"

const sha = "b".repeat(64)
const dirs: Array<{ remove: () => void }> = []
const fresh = () => {
  const dir = tempDir()
  dirs.push(dir)
  return dir.path
}

/** /f/N: 2 KiB each; /slow.bin: a first chunk of an announced 1 MiB, then nothing until the client goes away. */
let server: http.Server
let base = ""
beforeAll(async () => {
  server = http.createServer((request, response) => {
    if (request.url === "/slow.bin") {
      response.writeHead(200, { "content-length": String(1024 * 1024) })
      response.write(bytesOf(1000, 3))
      return
    }
    const n = Number(/^\/f\/(\d+)$/.exec(request.url ?? "")?.[1] ?? Number.NaN)
    if (!Number.isInteger(n)) return void response.writeHead(404, { "content-length": "0" }).end()
    response.writeHead(200, { "content-length": "2048" }).end(bytesOf(2048, 100 + n))
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((done) => server.close(done))
  for (const dir of dirs) dir.remove()
})

const frameOf = (events: ReadonlyArray<ProgressEvent>) => {
  let now = 0
  const writes: Array<string> = []
  const renderer = makeRenderer({ target: { isTTY: true, columns: 200, write: (t) => void writes.push(t) }, now: () => now })
  for (const event of events) Effect.runSync(renderer.progress.emit(event))
  now = 1000
  renderer.tick()
  return writes.join("")
}
const filled = (frame: string) => /\[(#*)\.*\]/.exec(frame)?.[1]?.length ?? -1

describe("the overall bar", () => {
  it("one download of unknown size at 96%: the bar is at 96% too, not empty", () => {
    const frame = frameOf([
      { _tag: "BatchProgress", done: 0, cached: 0, failed: 0, total: 1, active: 1, bytesDone: 0, bytesPerSecond: 0, elapsedMs: 0, final: false, aborted: false },
      { _tag: "Queued", id: 1, url: "http://h/x.iso" },
      { _tag: "Started", id: 1, url: "http://h/x.iso" },
      { _tag: "Bytes", id: 1, url: "http://h/x.iso", received: 960, size: 1000 }
    ])
    expect(frame).toContain("x.iso  960 B / 1000 B 96%")
    expect(filled(frame)).toBe(23)
  })

  it("an all-cached run ends with a full bar", () => {
    const events: Array<ProgressEvent> = [
      { _tag: "BatchProgress", done: 0, cached: 0, failed: 0, total: 2, active: 0, bytesDone: 0, bytesExpected: 3000, bytesPerSecond: 0, elapsedMs: 0, final: false, aborted: false }
    ]
    for (const id of [1, 2]) {
      events.push({ _tag: "Queued", id, url: `http://h/${id}` })
      events.push({ _tag: "Done", id, url: `http://h/${id}`, sha256: sha, size: 1500, cached: true })
    }
    const frame = frameOf(events)
    expect(frame).toContain("2/2 files")
    expect(filled(frame)).toBe(24)
  })
})

describe("totals announced up front", () => {
  it("fetchMany's first event carries the total; verify --limit announces how many copies it checks", async () => {
    const home = fresh()
    const events: Array<ProgressEvent> = []
    const layer = layerNode({ home, progress: Layer.succeed(Progress, fromCallback((event) => void events.push(event))) })
    const requests = Array.from({ length: 8 }, (_, i) => ({ url: `${base}/f/${i}` }))
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* Stream.runDrain(fetchMany(Stream.fromIterable(requests), { total: 8, concurrency: 4 }))
        const batch = events.findIndex((e) => e._tag === "BatchProgress")
        const queued = events.findIndex((e) => e._tag === "Queued")
        expect(batch).toBeGreaterThanOrEqual(0)
        expect(batch).toBeLessThan(queued)
        expect(events[batch]).toMatchObject({ total: 8, done: 0 })
        events.length = 0
        const report = yield* verify({ limit: 5 })
        expect(report.checked).toHaveLength(5)
        const first = events.findIndex((e) => e._tag === "BatchProgress")
        expect(events[first]).toMatchObject({ total: 5 })
        expect(first).toBeLessThan(events.findIndex((e) => e._tag === "VerifyStarted"))
        // the renderer then shows n/5, never n/(copies started so far)
        expect(frameOf(events.slice(0, first + 3))).toContain("/5 files")
      }).pipe(Effect.provide(layer), Effect.scoped)
    )
  })
})

describe("Ctrl-C", () => {
  it("SIGINT: the summary of what was done, the finished result on stdout, exit 130, nothing partial stored", async () => {
    const home = fresh()
    const child = spawn(process.execPath, [binPath, "fetch", `${base}/f/1`, `${base}/slow.bin`, "--home", home], {
      env: { PATH: process.env.PATH ?? "", HOME: home },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on("close", (code, signal) => done({ code, signal }))
    )
    // wait (bounded) until the fast artifact is reported, then interrupt while the slow one is running
    for (let i = 0; i < 300 && !stdout.includes("fetched"); i++) await new Promise((r) => setTimeout(r, 50))
    expect(stdout).toContain(`${base}/f/1`)
    child.kill("SIGINT")
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
    const { code } = await exited
    clearTimeout(timer)
    expect(code).toBe(130)
    expect(stderr).toMatch(/1 artifact \(stopped early\): 1 ok/)
    expect(stdout + stderr).not.toContain("internal error")
    expect(stdout.trim().split("\n")).toHaveLength(1)
    expect(filesUnder(join(home, "store"))).toHaveLength(1)
  }, 40_000)
})
