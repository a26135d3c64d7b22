/**
 * `--max-size`: a body that passes the limit fails its artifact with a typed error as soon as it does (an endless
 * body over loopback, a file:// source), nothing is stored, and the server is not read much past the limit.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytesOf, filesUnder, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { startServer, type TestServer } from "../support/servers.js"

const MiB = 1024 * 1024
const scratch = tempDir("cargohold-faults-maxsize-")
let server: TestServer
const small = bytesOf(300_000, 3)

beforeAll(async () => {
  server = await startServer((request, response) => {
    if (request.url === "/small.bin") return void response.writeHead(200, { "content-length": String(small.length) }).end(small)
    // no length, no end (bounded at 512 MiB so a client that never stops cannot keep it going forever)
    response.writeHead(200, { "content-type": "application/octet-stream" })
    const block = Buffer.alloc(64 * 1024, 7)
    let sent = 0
    const pump = () => {
      while (sent < 512 * MiB && !response.destroyed) {
        sent += block.length
        if (!response.write(block)) return void response.once("drain", pump)
      }
      response.end()
    }
    pump()
  })
})
afterAll(async () => {
  await server.close()
  scratch.remove()
})

let n = 0
const home = () => join(scratch.path, `home-${++n}`)
const stored = (h: string) => filesUnder(join(h, "store"))

describe("fetch --max-size", () => {
  it("an endless body is stopped at the limit: SizeLimitExceeded, exit 1, nothing stored, the server barely read past it", async () => {
    const h = home()
    const before = server.stats.bytesServed
    const result = await runCli(["fetch", "--json", "--max-size", "2M", "--home", h, server.url("/endless")])
    expect(result.code).toBe(1)
    const [line] = jsonLines(result.stdout)
    expect(line).toMatchObject({ status: "failed", error: { _tag: "SizeLimitExceeded" } })
    expect(String((line!.error as { message: string }).message)).toMatch(/larger than the size limit of 2097152 bytes/)
    expect(stored(h)).toEqual([])
    // socket buffers hold a few MiB at most: the body was not read on to its end
    expect(server.stats.bytesServed - before).toBeLessThan(64 * MiB)
    expect(result.stderr).not.toContain("internal error")
  })

  it("a file:// source past the limit fails the same way; one under it is stored", async () => {
    const h = home()
    const big = join(scratch.path, "big.bin")
    writeFileSync(big, bytesOf(3 * MiB, 5))
    const over = await runCli(["fetch", "--json", "--max-size", "1M", "--home", h, pathToFileURL(big).href])
    expect(over.code).toBe(1)
    expect(jsonLines(over.stdout)[0]).toMatchObject({ status: "failed", error: { _tag: "SizeLimitExceeded" } })
    expect(stored(h)).toEqual([])
    const under = await runCli(["fetch", "--json", "--max-size", "1M", "--home", h, server.url("/small.bin")])
    expect(under.code).toBe(0)
    expect(jsonLines(under.stdout)[0]).toMatchObject({ status: "ok", sha256: sha256Hex(small) })
  })

  it("a SIZE that is not one is a usage error (exit 2) before anything is fetched", async () => {
    const h = home()
    const result = await runCli(["fetch", "--max-size", "lots", "--home", h, server.url("/small.bin")])
    expect(result.code).toBe(2)
    expect(result.stderr.trim()).toBe("cargohold: --max-size: not a size: 'lots' (e.g. 500M, 2G)")
  })
})
