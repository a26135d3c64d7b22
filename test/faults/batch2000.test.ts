/**
 * Issue 11: 2,000 downloads in one batch through the built CLI, 20% of them bad — a wrong digest in the manifest,
 * a 404, or a connection reset mid-body on every attempt. Exact counts of ok and failed by error tag, exit 1, every
 * good artifact stored and catalogued, no bad one stored, no temp file left.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { type CliResult, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { damagedObjects, forbiddenIn, homeState } from "../support/faults.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"

type Kind = "ok" | "wrong-digest" | "missing" | "reset"
/** Every fifth artifact is bad, the three kinds in turn: 134 wrong digests, 133 missing, 133 resets. */
const kindOf = (i: number): Kind => (i % 5 !== 4 ? "ok" : (["wrong-digest", "missing", "reset"] as const)[((i - 4) / 5) % 3]!)
const total = 2000
const items = Array.from({ length: total }, (_, i) => {
  const body = bytesOf(1024 + ((i * 37) % 3000), 1000 + i)
  return { i, kind: kindOf(i), body, sha256: sha256Hex(body) }
})
const expectedFailures = { DigestMismatch: 134, HttpStatusError: 133, TransferError: 133 }

const work = tempDir("cargohold-faults-2000-")
const home = join(work.path, "home")
let server: TestServer
let result: CliResult

beforeAll(async () => {
  server = await startServer((request, response) => {
    const item = items[Number(/^\/a\/(\d+)$/.exec(request.url ?? "")?.[1] ?? -1)]
    if (item === undefined || item.kind === "missing") {
      response.writeHead(404, { "content-length": "0" }).end()
      return
    }
    response.writeHead(200, { "content-length": String(item.body.length) })
    if (item.kind !== "reset") {
      response.end(item.body)
      return
    }
    // half the body, then the connection is reset
    response.write(item.body.subarray(0, item.body.length >> 1), () => response.socket?.resetAndDestroy())
  })
  const manifest = items.map(({ i, kind, body, sha256 }) =>
    JSON.stringify({ url: server.url(`/a/${i}`), sha256: kind === "wrong-digest" ? sha256Hex(`not ${i}`) : sha256, size: body.length })
  )
  const path = join(work.path, "batch.jsonl")
  writeFileSync(path, `${manifest.join("\n")}\n`)
  result = await runCli(["fetch", "-i", path, "--json", "--home", home, "--retries", "1"])
}, 120_000)

afterAll(async () => {
  await server.close()
  work.remove()
})

describe("2,000 downloads, 20% bad, in one batch", () => {
  it("exit 1, one result line per artifact, exact counts by error tag, no internal error", () => {
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(1)
    const lines = jsonLines(result.stdout)
    expect(lines).toHaveLength(total)
    const counts: Record<string, number> = {}
    for (const line of lines) {
      const key = line.status === "ok" ? "ok" : String((line.error as { _tag: string })._tag)
      counts[key] = (counts[key] ?? 0) + 1
    }
    expect(counts).toEqual({ ok: 1600, ...expectedFailures })
    // the summary says the same
    expect(result.stderr).toMatch(/2000 artifacts: 1600 ok, 400 failed/)
    for (const [tag, n] of Object.entries(expectedFailures)) expect(result.stderr).toContain(`${tag} ×${n}`)
  })

  it("each artifact failed the way its server misbehaved", () => {
    const byUrl = new Map(jsonLines(result.stdout).map((line) => [String(line.url), line]))
    const tagFor = { "wrong-digest": "DigestMismatch", missing: "HttpStatusError", reset: "TransferError" } as const
    for (const item of items) {
      const line = byUrl.get(server.url(`/a/${item.i}`))
      if (item.kind === "ok") expect(line).toMatchObject({ status: "ok", sha256: item.sha256, size: item.body.length })
      else expect(line).toMatchObject({ status: "failed", error: { _tag: tagFor[item.kind] } })
    }
  })

  it("exactly the good artifacts are stored, intact and catalogued; no bad one, no temp file", () => {
    const state = homeState(home)
    const good = items.filter((item) => item.kind === "ok").map((item) => item.sha256)
    expect(state.objects.map((key) => key.split("/").pop()).sort()).toEqual(good.sort())
    expect(state.temps).toEqual([])
    expect(state).toMatchObject({ artifacts: 1600, locations: 1600, badLocations: 0 })
    expect(damagedObjects(home)).toEqual([])
  })
})
