/**
 * Issue 11: corruption at rest, through the built CLI. A byte flipped in one stored copy and another copy
 * truncated: `verify` finds both (exit 1, catalog state corrupt), `verify --repair` re-fetches from the sources
 * and replaces them (bytes right afterwards, location ok again with a fresh verified_at), and a copy whose source
 * is gone stays corrupt and is reported (exit 1). Library level: test/storage/integrity.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { damagedObjects, forbiddenIn, homeState, routes, serve } from "../support/faults.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"

const flipped = bytesOf(1024 * 1024 + 3, 501)
const truncated = bytesOf(70_000, 502)
const orphan = bytesOf(90_000, 503)
const healthy = bytesOf(40_000, 504)
const work = tempDir("cargohold-faults-rot-")
const home = join(work.path, "home")
let server: TestServer
/** The orphan's source answers 404 once the artifact is stored. */
let orphanGone = false

const objectPath = (body: Buffer) => {
  const sha = sha256Hex(body)
  return join(home, "store", sha.slice(0, 2), sha)
}

const damage = (path: string, how: (path: string) => void) => {
  chmodSync(path, 0o644)
  how(path)
  chmodSync(path, 0o444)
}

/** state and verified_at of the artifact's one location, straight from the catalog. */
const locationOf = (body: Buffer) => {
  const db = new Database(join(home, "catalog.db"), { readonly: true })
  try {
    return db
      .prepare("SELECT l.state, l.verified_at AS verifiedAt FROM locations l JOIN artifacts a ON a.id = l.artifact WHERE a.sha256 = ?")
      .get(Buffer.from(sha256Hex(body), "hex")) as { state: string; verifiedAt: number | null }
  } finally {
    db.close()
  }
}

beforeAll(async () => {
  const orphanServe = serve(orphan)
  server = await startServer(
    routes({
      "/flipped.bin": serve(flipped),
      "/truncated.bin": serve(truncated),
      "/healthy.bin": serve(healthy),
      "/orphan.bin": (request, response, stats) =>
        orphanGone ? response.writeHead(404, { "content-length": "0" }).end() : orphanServe(request, response, stats)
    })
  )
  const urls = ["/flipped.bin", "/truncated.bin", "/orphan.bin", "/healthy.bin"].map((path) => server.url(path))
  const fetched = await runCli(["fetch", ...urls, "--json", "--home", home])
  expect(fetched.code).toBe(0)
  orphanGone = true
})

afterAll(async () => {
  await server.close()
  work.remove()
})

describe("corruption at rest, verify and repair through the CLI", () => {
  const verdictOf = (lines: ReadonlyArray<Record<string, unknown>>, body: Buffer) => lines.find((l) => l.sha256 === sha256Hex(body))

  it("verify finds a flipped byte and a truncated copy: exit 1, recorded corrupt; the others ok", async () => {
    damage(objectPath(flipped), (path) => {
      const fd = openSync(path, "r+")
      writeSync(fd, Buffer.from([flipped[500_000]! ^ 0xff]), 0, 1, 500_000)
      closeSync(fd)
    })
    damage(objectPath(truncated), (path) => truncateSync(path, 1000))
    damage(objectPath(orphan), (path) => {
      const fd = openSync(path, "r+")
      writeSync(fd, Buffer.from("rotten"), 0, 6, 10)
      closeSync(fd)
    })
    const result = await runCli(["verify", "--json", "--home", home])
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(1)
    const lines = jsonLines(result.stdout)
    expect(lines).toHaveLength(4)
    for (const body of [flipped, truncated, orphan]) expect(verdictOf(lines, body)).toMatchObject({ state: "corrupt", repaired: false })
    expect(verdictOf(lines, healthy)).toMatchObject({ state: "ok" })
    expect(locationOf(flipped).state).toBe("corrupt")
    expect(locationOf(truncated).state).toBe("corrupt")
    expect(result.stderr).toMatch(/verified 4 copies: 1 ok, 0 repaired, 3 bad/)
  })

  it("verify --repair re-fetches and replaces what a source still has; the orphan stays corrupt (exit 1)", async () => {
    const before = locationOf(flipped)
    const requestsBefore = server.stats.requests.length
    const result = await runCli(["verify", "--repair", "--json", "--home", home])
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(1)
    const lines = jsonLines(result.stdout)
    expect(verdictOf(lines, flipped)).toMatchObject({ state: "corrupt", repaired: true })
    expect(verdictOf(lines, truncated)).toMatchObject({ state: "corrupt", repaired: true })
    expect(verdictOf(lines, orphan)).toMatchObject({ state: "corrupt", repaired: false })
    expect(result.stderr).toMatch(/2 repaired, 1 bad/)
    // each repair asked its source once; the orphan's source answered 404
    const asked = server.stats.requests.slice(requestsBefore).map((r) => r.url).sort()
    expect(asked).toEqual(["/flipped.bin", "/orphan.bin", "/truncated.bin"])

    expect(sha256Hex(readFileSync(objectPath(flipped)))).toBe(sha256Hex(flipped))
    expect(sha256Hex(readFileSync(objectPath(truncated)))).toBe(sha256Hex(truncated))
    const after = locationOf(flipped)
    expect(after.state).toBe("ok")
    expect(after.verifiedAt).toBeGreaterThan(before.verifiedAt ?? 0)
    expect(locationOf(truncated).state).toBe("ok")
    expect(locationOf(orphan).state).toBe("corrupt")
    // the only damaged object left is the orphan, and the catalog says so
    expect(damagedObjects(home).map((key) => key.split("/").pop())).toEqual([sha256Hex(orphan)])
    expect(homeState(home)).toMatchObject({ temps: [], artifacts: 4, locations: 4, badLocations: 1 })
  })

  it("whereis shows the repaired copy ok and the orphan corrupt; a plain verify agrees", async () => {
    const [repaired, rotten, check] = await Promise.all([
      runCli(["whereis", sha256Hex(flipped), "--json", "--home", home]),
      runCli(["whereis", sha256Hex(orphan), "--json", "--home", home]),
      runCli(["verify", sha256Hex(flipped), sha256Hex(truncated), "--json", "--home", home])
    ])
    for (const result of [repaired, rotten, check]) expect(forbiddenIn(result)).toEqual([])
    expect(jsonLines(repaired.stdout)[0]!.locations).toMatchObject([{ state: "ok" }])
    expect(jsonLines(rotten.stdout)[0]!.locations).toMatchObject([{ state: "corrupt" }])
    expect(check.code).toBe(0)
    expect(jsonLines(check.stdout).map((l) => l.state)).toEqual(["ok", "ok"])
  })
})

describe("verify --repair from a file:// source", () => {
  it("is refused without --file-root (saying so) and repairs with it", async () => {
    const dir = tempDir("cargohold-faults-rot-file-")
    try {
      const body = bytesOf(50_000, 505)
      const sourceDir = join(dir.path, "src")
      mkdirSync(sourceDir)
      writeFileSync(join(sourceDir, "a.bin"), body)
      const fileHome = join(dir.path, "home")
      // a file:// URL typed on the command line may read any file; the catalog keeps it as the artifact's source
      expect((await runCli(["fetch", `file://${sourceDir}/a.bin`, "--home", fileHome])).code).toBe(0)
      const sha = sha256Hex(body)
      damage(join(fileHome, "store", sha.slice(0, 2), sha), (path) => {
        const fd = openSync(path, "r+")
        writeSync(fd, Buffer.from("rotten"), 0, 6, 10)
        closeSync(fd)
      })
      // a source from the catalog is read only under an explicit root
      const refused = await runCli(["verify", "--repair", "--json", "--home", fileHome])
      expect(forbiddenIn(refused)).toEqual([])
      expect(refused.code).toBe(1)
      expect(jsonLines(refused.stdout)[0]).toMatchObject({ state: "corrupt", repaired: false })
      expect(refused.stdout).toContain("--file-root")
      const repaired = await runCli(["verify", "--repair", "--json", "--home", fileHome, "--file-root", sourceDir])
      expect(forbiddenIn(repaired)).toEqual([])
      expect(repaired.code).toBe(0)
      expect(jsonLines(repaired.stdout)[0]).toMatchObject({ state: "corrupt", repaired: true })
      expect(damagedObjects(fileHome)).toEqual([])
      expect(homeState(fileHome)).toMatchObject({ temps: [], artifacts: 1, locations: 1, badLocations: 0 })
    } finally {
      dir.remove()
    }
  })
})
