/**
 * Issue 13: `--segment-below-rate RATE` on the command line — 0 (in any spelling of zero) asks for ranges from the
 * start, a rate that is not one is a usage error naming the flag, and with `--cluster` it belongs to the runners.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"
import { rangeServer } from "../segments/rangeServer.js"
import { jsonLines, runCli, sha256Hex, tempDir } from "./helpers.js"

const MiB = 1024 * 1024
/** Above the CLI's 64 MiB segment threshold. */
const file = bytesOf(66 * MiB, 9)
const work = tempDir("cargohold-segment-flags-")
let server: TestServer

beforeAll(async () => {
  server = await startServer(rangeServer({ version: () => ({ body: file, etag: '"f1"' }) }))
})
afterAll(async () => {
  await server.close()
  work.remove()
})

const fetchArgs = (home: string, ...extra: Array<string>) => [
  "fetch", server.url("/big.iso"), "--sha256", sha256Hex(file), "--size", String(file.length), "--segments", "4",
  "--json", "--home", join(work.path, home), ...extra
]

describe("--segment-below-rate", () => {
  it("0M: ranges from the start (a declared size: no whole-body request at all), verified", async () => {
    const before = server.stats.requests.length
    const result = await runCli(fetchArgs("zero", "--segment-below-rate", "0M"))
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout)[0]).toMatchObject({ status: "ok", sha256: sha256Hex(file) })
    const requests = server.stats.requests.slice(before)
    expect(requests.length).toBeGreaterThanOrEqual(4)
    expect(requests.every((r) => r.headers.range !== undefined)).toBe(true)
  })

  it("not a rate: exit 2 naming the flag, nothing fetched", async () => {
    const before = server.stats.requests.length
    const result = await runCli(fetchArgs("bad", "--segment-below-rate", "fast"))
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("--segment-below-rate: not a byte rate: 'fast'")
    expect(server.stats.requests.length).toBe(before)
  })

  it("with --cluster: refused, it belongs to the runners", async () => {
    const result = await runCli([...fetchArgs("cluster", "--segment-below-rate", "32M"), "--cluster", "postgresql://127.0.0.1:1/none"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("--segment-below-rate")
    expect(result.stderr).toContain("belong to the runners")
  })
})
