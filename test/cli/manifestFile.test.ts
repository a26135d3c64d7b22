/**
 * Issue 12 (workload 3): `fetch -i FILE` does not hold the manifest's text while the batch runs — a regular file is
 * read again in 1 MiB chunks, each checked against the validated read. Lines and multi-byte characters across
 * chunk boundaries, a file changed after validation (the batch stops there, says so, exit 1), and a named pipe
 * (read once, held).
 */
import { spawn } from "node:child_process"
import { appendFileSync, createWriteStream, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readManifest } from "../../packages/cli/src/commands/manifest.js"
import { jsonLines, runCli, serveFiles, sha256Hex, type FileServer, tempDir } from "./helpers.js"

const work = tempDir("cargohold-manifest-file-")
const bodies = new Map<string, Uint8Array>([
  ["/a.bin", Buffer.from("alpha")],
  ["/b.bin", Buffer.from("bravo")],
  ["/c.bin", Buffer.from("charlie")]
])
let server: FileServer

beforeAll(async () => {
  server = await serveFiles(bodies)
})
afterAll(async () => {
  await server.close()
  work.remove()
})

const line = (path: string) => `${server.url(path)} sha256:${sha256Hex(bodies.get(path) ?? "")}\n`
/** A comment of `bytes` bytes of 'é' (2 bytes each in UTF-8): chunk boundaries fall inside characters. */
const padding = (bytes: number) => `# ${"é".repeat(Math.floor(bytes / 2))}\n`

describe("a manifest file read again in chunks", () => {
  it("lines and characters across 1 MiB boundaries: every entry, on its line, as often as read", async () => {
    const path = join(work.path, "long.txt")
    writeFileSync(path, line("/a.bin") + padding(1024 * 1024 + 1) + line("/b.bin") + padding(1536 * 1024) + line("/c.bin"))
    const manifest = await Effect.runPromise(readManifest(path))
    expect(manifest.count).toBe(3)
    for (let pass = 0; pass < 2; pass++) {
      const entries = Array.from(manifest.entries())
      expect(entries.map((e) => [String(e.request.url), e.line])).toEqual([
        [server.url("/a.bin"), 1],
        [server.url("/b.bin"), 3],
        [server.url("/c.bin"), 5]
      ])
    }
    expect(manifest.changed()).toBeUndefined()
  })

  it("a file changed after validation: the entries stop where it differs, and changed says so", async () => {
    const path = join(work.path, "changing.txt")
    writeFileSync(path, line("/a.bin") + padding(1024 * 1024 + 10) + line("/b.bin"))
    const manifest = await Effect.runPromise(readManifest(path))
    // a line appended that was never validated
    appendFileSync(path, "not a url at all\n")
    const entries = Array.from(manifest.entries())
    // the first chunk is as validated, the second is not: only what the first holds is handed out
    expect(entries.map((e) => String(e.request.url))).toEqual([server.url("/a.bin")])
    expect(manifest.changed()).toMatch(/changed after it was validated/)
  })

  it("a change just past a line cut by a chunk boundary: that line is not handed out, truncated, as a whole one", async () => {
    const path = join(work.path, "cut.txt")
    const b = line("/b.bin").replace("\n", " 5\n")
    // chunk 0 ends inside b's line, right after its URL: a truncated line would be b's URL with no digest, no size
    const head = line("/a.bin") + padding(1024 * 1024 - line("/a.bin").length - server.url("/b.bin").length - 3)
    const cutAt = Buffer.byteLength(head) + Buffer.byteLength(server.url("/b.bin"))
    expect(cutAt).toBeLessThanOrEqual(1024 * 1024)
    writeFileSync(path, head + b + line("/c.bin"))
    const manifest = await Effect.runPromise(readManifest(path))
    expect(Array.from(manifest.entries()).map((e) => e.request.size)).toEqual([undefined, 5, undefined])
    // one byte of chunk 1 changes
    const bytes = readFileSync(path)
    bytes[1024 * 1024 + 2] = bytes[1024 * 1024 + 2] === 0x61 ? 0x62 : 0x61
    writeFileSync(path, bytes)
    const entries = Array.from(manifest.entries())
    expect(entries.map((e) => String(e.request.url))).toEqual([server.url("/a.bin")])
    expect(manifest.changed()).toMatch(/changed after it was validated/)
  })

  it("fetch -i of a long manifest: every artifact fetched and verified", async () => {
    const path = join(work.path, "fetch.txt")
    writeFileSync(path, line("/a.bin") + padding(2 * 1024 * 1024) + line("/b.bin") + line("/c.bin"))
    const result = await runCli(["fetch", "-i", path, "--json", "--home", join(work.path, "home1")])
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /)
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout).map((l) => l.status)).toEqual(["ok", "ok", "ok"])
  })

  it("fetch -i of a named pipe: read once and held, every artifact fetched", async () => {
    const fifo = join(work.path, "manifest.fifo")
    await new Promise<void>((done, fail) => spawn("mkfifo", [fifo]).on("close", (code) => (code === 0 ? done() : fail(new Error(`mkfifo ${code}`)))))
    const child = runCli(["fetch", "-i", fifo, "--json", "--home", join(work.path, "home2")])
    const writer = createWriteStream(fifo)
    writer.end(line("/a.bin") + line("/b.bin"))
    const result = await child
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout).map((l) => l.status)).toEqual(["ok", "ok"])
  })
})
