/**
 * Issue 11: three `cargohold fetch` processes on one artifact at once, sharing one home, on the SQLite catalog and
 * on PostgreSQL. The server holds its answers until all three have asked, so the downloads really overlap. All
 * three report ok with the right digest; the store holds one intact object and no temp file; the catalog one
 * artifact with one location (ok) and one source.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { join } from "node:path"
import type { ServerResponse } from "node:http"
import { jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { damagedObjects, forbiddenIn, homeState } from "../support/faults.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"

const body = bytesOf(3 * 1024 * 1024 + 5, 77)
const work = tempDir("cargohold-faults-three-")
let server: TestServer
let pg: PgDatabase
/** Answers waiting for the others' requests (released when three are in, or after 5 s). */
const waiting: Array<ServerResponse> = []

const answer = (response: ServerResponse) => {
  response.writeHead(200, { "content-length": String(body.length) })
  // in pieces, so each download lasts a while
  let at = 0
  const next = () => {
    if (response.destroyed) return
    if (at >= body.length) return void response.end()
    response.write(body.subarray(at, (at += 256 * 1024)), () => setTimeout(next, 15))
  }
  next()
}

beforeAll(async () => {
  server = await startServer((_request, response) => {
    waiting.push(response)
    const release = () => {
      for (const held of waiting.splice(0)) answer(held)
    }
    if (waiting.length >= 3) release()
    else setTimeout(release, 5000)
  })
  pg = await createPgDatabase("three")
})

afterAll(async () => {
  await server.close()
  await pg.drop()
  work.remove()
})

const threeAtOnce = async (home: string, extra: ReadonlyArray<string>) => {
  const requestsBefore = server.stats.requests.length
  const args = ["fetch", server.url("/one.iso"), "--sha256", sha256Hex(body), "--json", "--home", home, ...extra]
  const results = await Promise.all([runCli(args), runCli(args), runCli(args)])
  for (const result of results) {
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout)).toMatchObject([{ status: "ok", sha256: sha256Hex(body), size: body.length }])
  }
  // each process downloaded (none found it stored yet): the commits raced
  expect(server.stats.requests.length - requestsBefore).toBe(3)
  const state = homeState(home)
  expect(state.objects).toHaveLength(1)
  expect(state.objects[0]).toMatch(new RegExp(`${sha256Hex(body)}$`))
  expect(state.temps).toEqual([])
  expect(damagedObjects(home)).toEqual([])
  return state
}

describe("three processes on one artifact at once", () => {
  it("SQLite: one object, one artifact, one ok location, one source", async () => {
    const home = join(work.path, "sqlite")
    const state = await threeAtOnce(home, [])
    expect(state).toMatchObject({ artifacts: 1, locations: 1, badLocations: 0, sources: 1 })
  })

  it("PostgreSQL: one object, one artifact, one ok location, one source", async () => {
    const home = join(work.path, "pg")
    await threeAtOnce(home, ["--catalog", pg.url])
    const rows = await pg.query(
      `SELECT (SELECT count(*) FROM artifacts WHERE size IS NOT NULL)::int AS artifacts,
              (SELECT count(*) FROM locations)::int AS locations,
              (SELECT count(*) FROM locations WHERE state = 'ok' AND verified_at IS NOT NULL)::int AS ok,
              (SELECT count(*) FROM sources)::int AS sources,
              (SELECT encode(sha256, 'hex') FROM artifacts) AS sha256`
    )
    expect(rows).toEqual([{ artifacts: 1, locations: 1, ok: 1, sources: 1, sha256: sha256Hex(body) }])
  })
})
