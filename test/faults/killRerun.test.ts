/**
 * Issue 11: `cargohold fetch` killed with SIGKILL in the middle of a batch, then run again. What the killed process
 * left is never wrong (every stored object hashes to its name, every catalogued location has its object); the
 * rerun completes, every artifact verified, no duplicate rows, and the killed process's temp files are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Database from "better-sqlite3"
import { binPath, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { damagedObjects, forbiddenIn, homeState } from "../support/faults.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"

const count = 240
/** Streamed bodies (over the one-piece limit), so a kill finds temp files half written. */
const bodies = Array.from({ length: count }, (_, i) => bytesOf(300 * 1024 + i, 700 + i))
const work = tempDir("cargohold-faults-kill-")
const home = join(work.path, "home")
const manifest = join(work.path, "batch.jsonl")
let server: TestServer

beforeAll(async () => {
  server = await startServer((request, response) => {
    const body = bodies[Number(/^\/k\/(\d+)$/.exec(request.url ?? "")?.[1] ?? -1)]
    if (body === undefined) return void response.writeHead(404, { "content-length": "0" }).end()
    response.writeHead(200, { "content-length": String(body.length) })
    // 32 KiB every 10 ms: a download lasts ≈ 100 ms, so the kill lands while several are mid-body
    let at = 0
    const next = () => {
      if (response.destroyed) return
      if (at >= body.length) return void response.end()
      response.write(body.subarray(at, (at += 32 * 1024)), () => setTimeout(next, 10))
    }
    next()
  })
  writeFileSync(
    manifest,
    `${bodies.map((body, i) => JSON.stringify({ url: server.url(`/k/${i}`), sha256: sha256Hex(body), size: body.length })).join("\n")}\n`
  )
})

afterAll(async () => {
  await server.close()
  work.remove()
})

const args = ["fetch", "-i", manifest, "--json", "--home", home, "--max-connections", "8"]

/** Files in the store's temp area now (none when the folder does not exist yet). */
const tempsNow = (): number => {
  try {
    return readdirSync(join(home, "store", ".tmp"), { recursive: true }).length
  } catch {
    return 0
  }
}

/**
 * Starts the batch and SIGKILLs it once `after` results are out and a download is mid-body (a temp file is on
 * disk): a kill between two downloads, while a commit group holds every slot, would leave no temp file to sweep and
 * the test would prove less. Resolves with what it printed.
 */
const killMidway = (after: number): Promise<{ readonly printed: number; readonly signal: NodeJS.Signals | null }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() },
      stdio: ["ignore", "pipe", "ignore"]
    })
    let printed = 0
    let watching: ReturnType<typeof setInterval> | undefined
    const killWhenMidBody = () => {
      if (child.exitCode === null && child.signalCode === null && tempsNow() > 0) child.kill("SIGKILL")
    }
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      printed += chunk.split("\n").length - 1
      if (printed >= after && watching === undefined) {
        killWhenMidBody()
        watching = setInterval(killWhenMidBody, 1)
      }
    })
    child.on("error", reject)
    child.on("close", (_code, signal) => {
      clearInterval(watching)
      resolve({ printed, signal })
    })
  })

describe("kill -9 mid-batch, then rerun", () => {
  it("what the killed process left is never wrong", async () => {
    const killed = await killMidway(60)
    expect(killed.signal).toBe("SIGKILL")
    expect(killed.printed).toBeLessThan(count)
    expect(damagedObjects(home)).toEqual([])
    const state = homeState(home)
    expect(state.objects.length).toBeGreaterThanOrEqual(60)
    expect(state.objects.length).toBeLessThan(count)
    // downloads were cut mid-body: their temp files are still there, for the next process to sweep
    expect(state.temps.length).toBeGreaterThan(0)
    // every catalogued location has its object (an object may still lack its row: the rerun records it)
    const db = new Database(join(home, "catalog.db"), { readonly: true })
    const keys = db.prepare('SELECT "key" FROM locations').all() as Array<{ key: string }>
    db.close()
    for (const { key } of keys) expect(existsSync(join(home, "store", key))).toBe(true)
  })

  it("the rerun completes: every artifact verified, no duplicate rows, no temp file left", async () => {
    const requestsBefore = server.stats.requests.length
    const result = await runCli(args)
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(0)
    const lines = jsonLines(result.stdout)
    expect(lines).toHaveLength(count)
    expect(lines.every((line) => line.status === "ok")).toBe(true)
    expect(new Set(lines.map((line) => line.sha256))).toEqual(new Set(bodies.map((body) => sha256Hex(body))))
    // what was stored and catalogued before the kill is not fetched again
    expect(server.stats.requests.length - requestsBefore).toBeLessThan(count)
    const state = homeState(home)
    expect(state.objects).toHaveLength(count)
    expect(damagedObjects(home)).toEqual([])
    expect(state).toMatchObject({ artifacts: count, locations: count, badLocations: 0, sources: count })
    expect(state.temps).toEqual([])
  })
})
