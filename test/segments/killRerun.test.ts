/**
 * Issue 13: `cargohold fetch` SIGKILLed while an artifact comes in segments, then run again. Nothing partial is
 * stored or catalogued; the rerun sweeps the killed process's temp file and completes, verified.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { binPath, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { damagedObjects, homeState } from "../support/faults.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"
import { rangeServer } from "./rangeServer.js"

const MiB = 1024 * 1024
/** Above the CLI's 64 MiB threshold; at 6 MiB/s per range and 4 ranges it takes ≈ 3 s, so the kill lands mid-way. */
const size = 72 * MiB
const file = bytesOf(size, 5)
const work = tempDir("cargohold-segments-kill-")
const home = join(work.path, "home")
let server: TestServer

beforeAll(async () => {
  server = await startServer(rangeServer({ version: () => ({ body: file, etag: '"k1"' }), bytesPerSecond: 6 * MiB }))
})

afterAll(async () => {
  await server.close()
  work.remove()
})

const args = () => ["fetch", server.url("/big.iso"), "--sha256", sha256Hex(file), "--json", "--home", home, "--segments", "4"]

/** Starts the fetch and SIGKILLs it once the server has sent `bytes`. */
const killAfter = (bytes: number): Promise<NodeJS.Signals | null> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args()], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() },
      stdio: ["ignore", "ignore", "ignore"]
    })
    const timer = setInterval(() => {
      if (server.stats.bytesServed >= bytes && child.exitCode === null) child.kill("SIGKILL")
    }, 20)
    child.on("error", reject)
    child.on("close", (_code, signal) => {
      clearInterval(timer)
      resolve(signal)
    })
  })

describe("kill -9 during a segmented download, then rerun", () => {
  it("nothing partial is stored or catalogued; the temp file waits for the sweep", async () => {
    expect(await killAfter(24 * MiB)).toBe("SIGKILL")
    // the ranges were asked for in parallel
    expect(server.stats.maxOpen).toBeGreaterThanOrEqual(4)
    const state = homeState(home)
    expect(state.objects).toEqual([])
    expect(state.artifacts).toBe(0)
    expect(state.temps.length).toBe(1)
  })

  it("the rerun sweeps the temp file and completes: one verified object", async () => {
    const result = await runCli(args())
    expect(result.code).toBe(0)
    const [line] = jsonLines(result.stdout)
    expect(line).toMatchObject({ status: "ok", sha256: sha256Hex(file), size })
    const state = homeState(home)
    expect(state.objects).toHaveLength(1)
    expect(damagedObjects(home)).toEqual([])
    expect(state).toMatchObject({ artifacts: 1, locations: 1, badLocations: 0 })
    expect(state.temps).toEqual([])
  })
})
