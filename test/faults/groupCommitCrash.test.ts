/**
 * Group commit never reports before it is durable: the built CLI fetches a batch of small artifacts from a loopback
 * server and is killed with SIGKILL right after it has printed some results as ok (while other groups are being
 * written). After the restart, every artifact reported ok is in the store with its bytes intact and in the catalog
 * with an ok location there; no catalog row names bytes the store does not hold; and fetching the batch again
 * completes it (what the killed process left half-done is adopted or replaced, nothing is in the way).
 */
import { spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Catalog, type Sha256 } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { Effect, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binPath, bytesOf, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { startServer, type TestServer } from "../support/servers.js"

const count = 400
const size = 16 * 1024
const killAfter = 60
const bodies = Array.from({ length: count }, (_, i) => bytesOf(size, 1000 + i))
const work = tempDir("cargohold-crash-")
const home = join(work.path, "home")
const manifest = join(work.path, "manifest.txt")
let server: TestServer

beforeAll(async () => {
  // each answer a little late, by a varying amount: downloads finish spread out, so groups form and overlap
  server = await startServer((request, response) => {
    const index = Number(/^\/a\/(\d+)\.bin$/.exec(request.url ?? "")?.[1] ?? -1)
    const body = bodies[index]
    if (body === undefined) {
      response.writeHead(404).end()
      return
    }
    setTimeout(() => response.writeHead(200, { "content-length": String(size) }).end(body), index % 7)
  })
  writeFileSync(manifest, bodies.map((b, i) => `${server.url(`/a/${i}.bin`)} sha256:${sha256Hex(b)} ${size}\n`).join(""))
})

afterAll(async () => {
  await server?.close()
  work.remove()
})

/** Runs `cargohold fetch --json -i manifest` and kills it with SIGKILL once `after` results were printed ok. */
const fetchUntilKilled = (after: number) =>
  new Promise<{ readonly ok: ReadonlyArray<string>; readonly signal: NodeJS.Signals | null; readonly lines: number }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [binPath, "fetch", "--home", home, "--json", "-i", manifest], {
        env: { PATH: process.env.PATH ?? "", HOME: work.path },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const ok: Array<string> = []
      let lines = 0
      let rest = ""
      child.stdout.setEncoding("utf8").on("data", (text: string) => {
        const parts = (rest + text).split("\n")
        rest = parts.pop()!
        for (const line of parts.filter((l) => l.trim() !== "")) {
          lines += 1
          const result = JSON.parse(line) as { status: string; sha256?: string }
          if (result.status === "ok" && result.sha256 !== undefined) ok.push(result.sha256)
        }
        // at once, from the data handler: the process dies while the groups after these are in flight
        if (ok.length >= after && child.exitCode === null) child.kill("SIGKILL")
      })
      child.stderr.resume()
      child.on("error", reject)
      child.on("close", (_code, signal) => resolve({ ok, signal, lines }))
    }
  )

describe("group commit under kill -9", () => {
  it("every artifact reported ok survives in the store and the catalog; a second run completes the batch", { timeout: 120_000 }, async () => {
    const killed = await fetchUntilKilled(killAfter)
    expect(killed.signal).toBe("SIGKILL")
    expect(killed.ok.length).toBeGreaterThanOrEqual(killAfter)
    expect(killed.lines).toBeLessThan(count) // killed mid-batch, not after it

    const expected = new Map(bodies.map((b) => [sha256Hex(b), b]))
    const storePath = (sha256: string) => join(home, "store", sha256.slice(0, 2), sha256)
    const after = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const reported = yield* Effect.forEach(killed.ok, (sha256) => catalog.lookup(sha256 as Sha256))
          return { reported, all: yield* catalog.list() }
        }),
        layerNode({ home })
      )
    )
    killed.ok.forEach((sha256, i) => {
      const entry = after.reported[i]!
      expect(Option.isSome(entry), `${sha256} in the catalog`).toBe(true)
      const locations = Option.getOrThrow(entry).locations
      expect(locations.some((l) => l.state === "ok" && l.key.endsWith(sha256)), `${sha256} located ok`).toBe(true)
      const bytes = readFileSync(storePath(sha256))
      expect(sha256Hex(bytes), `${sha256} bytes intact`).toBe(sha256)
      expect(bytes.equals(expected.get(sha256)!)).toBe(true)
    })
    // no catalog row for bytes the store does not hold (rows of the groups the kill cut short were never written)
    for (const artifact of after.all) expect(sha256Hex(readFileSync(storePath(artifact.sha256)))).toBe(artifact.sha256)

    const again = await runCli(["fetch", "--home", home, "--json", "-i", manifest], { env: { HOME: work.path } })
    expect(again.code, again.stderr).toBe(0)
    const results = jsonLines(again.stdout)
    expect(results).toHaveLength(count)
    expect(results.every((r) => r.status === "ok")).toBe(true)
    for (const sha256 of expected.keys()) expect(sha256Hex(readFileSync(storePath(sha256)))).toBe(sha256)
  })
})
