/**
 * The cluster's database stalling under a batch (a loaded machine, a congested link, a database pausing): two
 * `cargohold runner` processes on loopback, one of them and the submitting `cargohold fetch --cluster` reaching
 * PostgreSQL through TCP forwarders the test can freeze (every byte held, both ways, nothing closed).
 *
 * - A runner's database frozen for 4 s mid-batch: it keeps its shards (a shard-lock statement may take that long
 *   without the runner giving up its shard locks and interrupting its downloads), so nothing is fetched twice and
 *   no result says `cached: true` for an artifact this batch fetched.
 * - The submitting process's database frozen for 12 s while it queues the batch's messages: the messages wait
 *   for a connection instead of failing, or are sent again (the same primary key: never queued twice); every
 *   result is ok, none is reported as a failure of the cluster's message storage.
 */
import { randomBytes } from "node:crypto"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { adminUrl, createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { bytesOf, filesUnder, jsonLines, sha256Hex, tempDir } from "../cli/helpers.js"
import { type Runner, type SlowServer, serveSlowly, startCli, startRunner, until } from "./helpers.js"
import { type Forwarder, startForwarder } from "./site.js"

const KiB = 1024

describe("cluster: the database stalling under a batch", () => {
  let db: PgDatabase
  let dir: ReturnType<typeof tempDir>
  let server: SlowServer
  let toRunner: Forwarder
  let toClient: Forwarder
  const runners: Array<Runner> = []
  const files = new Map<string, Uint8Array>()
  let env: Record<string, string>
  let store: string

  const through = (forwarder: Forwarder): string => {
    const url = new URL(db.url)
    url.hostname = "127.0.0.1"
    url.port = String(forwarder.port)
    return url.toString()
  }
  const manifest = (name: string, paths: ReadonlyArray<string>): string => {
    const path = join(dir.path, name)
    writeFileSync(path, paths.map((p) => `${server.url(p)} sha256:${sha256Hex(files.get(p)!)} ${files.get(p)!.length}\n`).join(""))
    return path
  }
  const stored = () =>
    filesUnder(join(dir.path, "store"))
      .filter((f) => !f.includes(`${join(dir.path, "store", ".tmp")}`))
      .map((f) => f.split("/").pop()!)

  /**
   * The batch ended with every artifact ok (exit 0, the summary says so), each fetched from the upstream once (no
   * download interrupted and run again) and stored once; returns its result lines.
   */
  const expectEachOkOnce = async (
    batch: ReturnType<typeof startCli>,
    paths: ReadonlyArray<string>
  ): Promise<ReadonlyArray<Record<string, unknown>>> => {
    const { code } = await batch.exited
    const lines = jsonLines(batch.stdout)
    expect(lines.filter((l) => l.status !== "ok").map((l) => l.error)).toEqual([])
    expect(batch.stderr).toContain(`${paths.length} artifacts: ${paths.length} ok`)
    expect(code).toBe(0)
    expect(lines).toHaveLength(paths.length)
    for (const p of paths) expect(server.hits.get(p)).toBe(1)
    const names = stored()
    expect(new Set(names).size).toBe(names.length)
    for (const p of paths) expect(names).toContain(sha256Hex(files.get(p)!))
    return lines
  }

  beforeAll(async () => {
    db = await createPgDatabase("stalls")
    dir = tempDir("cargohold-stalls-")
    // 512 KiB at 32 KiB per 100 ms: ≈ 1.6 s each, so a stall finds downloads on the wire
    for (let i = 0; i < 24; i++) files.set(`/slow/${i}.bin`, bytesOf(512 * KiB + i * 101, 7000 + i))
    for (let i = 0; i < 40; i++) files.set(`/queued/${i}.bin`, bytesOf(8 * KiB + i * 31, 8000 + i))
    server = await serveSlowly(files, { chunk: 32 * KiB, everyMs: 100 })
    store = pathToFileURL(join(dir.path, "store")).href
    env = { CARGOHOLD_SECRET_KEY: randomBytes(32).toString("base64"), CARGOHOLD_HOME: join(dir.path, "home") }
    const pg = new URL(adminUrl)
    const target = { host: pg.hostname, port: Number(pg.port || 5432) }
    toRunner = await startForwarder("127.0.0.1", target)
    toClient = await startForwarder("127.0.0.1", target)
    // the first runner (catalog, cluster storage, shard locks, host slots) through the forwarder, the second direct
    runners.push(await startRunner(through(toRunner), store, env))
    runners.push(await startRunner(db.url, store, env))
    await until(async () => {
      const rows = await db.query("SELECT shards FROM cargohold_cluster_stats WHERE NOT stopped AND updated_at > NOW() - INTERVAL '3 seconds'")
      return rows.length === 2 && rows.every((r) => Number(r.shards) > 0) && rows.reduce((n, r) => n + Number(r.shards), 0) === 300
    }, "the shards to spread over two runners", 90_000)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(runners.map((r) => r.stop()))
    await toRunner?.close()
    await toClient?.close()
    await server?.close()
    await db?.drop()
    dir?.remove()
  }, 60_000)

  it("a runner whose database freezes for 4 s mid-batch keeps its shards: nothing fetched twice, nothing lost", async () => {
    const paths = [...files.keys()].filter((p) => p.startsWith("/slow/"))
    const batch = startCli(["fetch", "-i", manifest("slow.txt", paths), "--cluster", db.url, "--json"], env)
    await until(() => server.inFlight() >= 8, "downloads on the wire", 60_000)
    const before = await db.query("SELECT address, shards FROM cargohold_cluster_stats ORDER BY address")
    toRunner.stall(4000)
    const lines = await expectEachOkOnce(batch, paths)
    for (const line of lines) expect(line).toMatchObject({ status: "ok", cached: false })
    expect(runners[0]!.stderr).not.toContain("Shard lock storage is unhealthy")
    // and the shards stayed where they were
    const after = await db.query("SELECT address, shards FROM cargohold_cluster_stats ORDER BY address")
    expect(after.map((r) => [r.address, Number(r.shards)])).toEqual(before.map((r) => [r.address, Number(r.shards)]))
  }, 120_000)

  it("the submitting process's database freezing for 12 s while it queues the batch: every result ok, none twice", async () => {
    const paths = [...files.keys()].filter((p) => p.startsWith("/queued/"))
    // frozen at the first message row the client writes, that statement included
    const frozen = toClient.stallOn('INSERT INTO "cargohold_cluster_messages"', 12_000)
    const batch = startCli(["fetch", "-i", manifest("queued.txt", paths), "--cluster", through(toClient), "--json"], env)
    await frozen
    await expectEachOkOnce(batch, paths)
  }, 120_000)
})
