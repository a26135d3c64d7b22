/**
 * A cluster on loopback with real processes: three `cargohold runner`s (the built binary) sharing a PostgreSQL
 * database (catalog + cluster storage) and a file store, a throttled Node HTTP server, and `cargohold fetch
 * --cluster` as the submitting process. A runner is killed with SIGKILL in the middle of a batch while a second
 * batch runs: both batches end with every artifact ok, each stored once, the catalog agreeing with the store.
 */
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { writeFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createPgDatabase, type PgDatabase } from "../catalog/databases.js"
import { bytesOf, filesUnder, jsonLines, sha256Hex, tempDir } from "../cli/helpers.js"
import { type Runner, receivingPids, runToEnd, type SlowServer, serveSlowly, startCli, startRunner, until } from "./helpers.js"

const KiB = 1024

describe("cluster on loopback: runners as processes", () => {
  let db: PgDatabase
  let dir: ReturnType<typeof tempDir>
  let server: SlowServer
  const runners: Array<Runner> = []
  const files = new Map<string, Uint8Array>()
  let env: Record<string, string>
  let store: string

  const manifest = (name: string, paths: ReadonlyArray<string>): string => {
    const path = join(dir.path, name)
    writeFileSync(path, paths.map((p) => `${server.url(p)} sha256:${sha256Hex(files.get(p) ?? "")} ${files.get(p)?.length ?? 0}\n`).join(""))
    return path
  }

  const storedFiles = () => filesUnder(join(dir.path, "store")).filter((f) => !f.includes(`${join(dir.path, "store", ".tmp")}`))

  beforeAll(async () => {
    db = await createPgDatabase("cluster")
    dir = tempDir("cargohold-cluster-")
    for (let i = 0; i < 40; i++) files.set(`/small/${i}.bin`, bytesOf(8 * KiB + i * 997, i + 1))
    for (let i = 0; i < 24; i++) files.set(`/slow/${i}.bin`, bytesOf(768 * KiB + i * 101, 1000 + i))
    for (let i = 0; i < 12; i++) files.set(`/second/${i}.bin`, bytesOf(96 * KiB + i * 7, 2000 + i))
    for (let i = 0; i < 16; i++) files.set(`/budget/${i}.bin`, bytesOf(256 * KiB + i * 13, 3000 + i))
    // 768 KiB at 32 KiB per 100 ms: each slow artifact takes ≈ 2.4 s, long enough to be caught mid-transfer
    server = await serveSlowly(files, { chunk: 32 * KiB, everyMs: 100 })
    store = pathToFileURL(join(dir.path, "store")).href
    env = { CARGOHOLD_SECRET_KEY: randomBytes(32).toString("base64"), CARGOHOLD_HOME: join(dir.path, "home") }
    for (let i = 0; i < 3; i++) runners.push(await startRunner(db.url, store, env, ["--max-connections", "4"]))
    // every runner holds some of the 300 shards
    await until(async () => {
      const rows = await db.query("SELECT shards FROM cargohold_cluster_stats WHERE NOT stopped AND updated_at > NOW() - INTERVAL '3 seconds'")
      return rows.length === 3 && rows.every((r) => Number(r.shards) > 0) && rows.reduce((n, r) => n + Number(r.shards), 0) === 300
    }, "the shards to spread over three runners")
  }, 120_000)

  afterAll(async () => {
    await Promise.all(runners.map((r) => r.stop()))
    await server?.close()
    await db?.drop()
    dir?.remove()
  }, 60_000)

  it("runs a batch on the runners: the same --json lines, summary and exit code; each artifact stored once", async () => {
    const paths = [...files.keys()].filter((p) => p.startsWith("/small/"))
    const result = await runToEnd(["fetch", "-i", manifest("small.txt", paths), "--cluster", db.url, "--json"], env)
    expect(result.stderr).toContain("40 artifacts: 40 ok")
    expect(result.code).toBe(0)
    const lines = jsonLines(result.stdout)
    expect(lines).toHaveLength(40)
    for (const line of lines) expect(line).toMatchObject({ status: "ok", cached: false })
    expect(new Set(lines.map((l) => l.sha256))).toEqual(new Set(paths.map((p) => sha256Hex(files.get(p)!))))
    // every runner did part of it (sharded by sha256), and the counters say so
    await until(async () => {
      const rows = await db.query("SELECT done FROM cargohold_cluster_stats")
      return rows.reduce((n, r) => n + Number(r.done), 0) === 40
    }, "the counters to reach 40")
    const perRunner = await db.query("SELECT address, done FROM cargohold_cluster_stats")
    expect(perRunner.filter((r) => Number(r.done) > 0).length).toBeGreaterThanOrEqual(2)
    // again: all already stored, nothing requested
    const before = [...server.hits.values()].reduce((a, b) => a + b, 0)
    const again = await runToEnd(["fetch", "-i", manifest("small.txt", paths), "--cluster", db.url, "--json"], env)
    expect(again.code).toBe(0)
    for (const line of jsonLines(again.stdout)) expect(line).toMatchObject({ status: "ok", cached: true })
    expect([...server.hits.values()].reduce((a, b) => a + b, 0)).toBe(before)
  }, 120_000)

  it("reports a failed artifact as fetch does: a failed line with its typed error, exit 1, the others kept", async () => {
    const good = "/small/0.bin"
    const path = join(dir.path, "mixed.txt")
    writeFileSync(path, `${server.url(good)}\n${server.url("/missing.bin")}\n`)
    const result = await runToEnd(["fetch", "-i", path, "--cluster", db.url, "--json"], env)
    expect(result.code).toBe(1)
    const lines = jsonLines(result.stdout)
    expect(lines.find((l) => l.url === server.url("/missing.bin"))).toMatchObject({
      status: "failed",
      error: { _tag: "HttpStatusError" }
    })
    expect(lines.find((l) => l.url === server.url(good))).toMatchObject({ status: "ok" })
  }, 60_000)

  it("refuses what only runners decide, and a bad cluster URL, with exit 2 and nothing done", async () => {
    const path = manifest("one.txt", ["/small/1.bin"])
    const flags = await runToEnd(["fetch", "-i", path, "--cluster", db.url, "--per-host", "2"], env)
    expect(flags.code).toBe(2)
    expect(flags.stderr).toContain("--per-host belong to the runners")
    const bad = await runToEnd(["fetch", "-i", path, "--cluster", "mysql://nope"], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--cluster must be a postgresql://")
    const unreachable = await runToEnd(["fetch", "-i", path, "--cluster", "postgresql://u:hunter2@127.0.0.1:1/x"], env)
    expect(unreachable.code).toBe(2)
    expect(unreachable.stderr).not.toContain("hunter2")
  }, 60_000)

  it("holds a host's connection budget across the runners: 3 runners × 4 connections, 4 per host in all", async () => {
    const paths = [...files.keys()].filter((p) => p.startsWith("/budget/"))
    await until(() => server.inFlight() === 0, "the server to be idle")
    server.resetMax()
    const result = await runToEnd(["fetch", "-i", manifest("budget.txt", paths), "--cluster", db.url, "--json"], env)
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout)).toHaveLength(16)
    // each runner may open 4 to the host; without the shared budget the host would see up to 12 at once
    expect(server.maxInFlight()).toBeLessThanOrEqual(4)
    expect(server.maxInFlight()).toBeGreaterThanOrEqual(2)
    // every slot given back: no advisory lock of the two-key form is left held in this test's database (pg_locks
    // lists every database's: the runners of the other cluster test files, run at the same time, hold their own)
    const held = "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    await until(async () => (await db.query(held))[0]?.n === 0, "the slots to be given back", 10_000)
  }, 120_000)

  it("survives kill -9 of a runner mid-batch while a second batch runs: none lost, none stored twice", async () => {
    const slow = [...files.keys()].filter((p) => p.startsWith("/slow/"))
    const second = [...files.keys()].filter((p) => p.startsWith("/second/"))
    const first = startCli(["fetch", "-i", manifest("slow.txt", slow), "--cluster", db.url, "--json"], env)
    // the victim: a runner with a body coming in right now (its "active" counter also counts downloads waiting for
    // one of the host's 4 cluster-wide slots, so a runner picked by it may have had nothing on the wire)
    let victim: Runner | undefined
    const port = Number(new URL(server.url("/")).port)
    await until(async () => {
      const pids = await receivingPids(port)
      victim = runners.find((r) => pids.has(r.pid))
      return victim !== undefined && server.inFlight() >= 3
    }, "a runner to be receiving a body", 60_000)
    const secondBatch = startCli(["fetch", "-i", manifest("second.txt", [...second, ...slow.slice(0, 4)]), "--cluster", db.url, "--json"], env)
    const hitsAtKill = new Map(server.hits)
    const answeringAtKill = server.inFlightPaths()
    victim!.child.kill("SIGKILL")
    await victim!.exited

    const [a, b] = await Promise.all([first.exited, secondBatch.exited])
    expect(first.stderr).toContain(`${slow.length} artifacts: ${slow.length} ok`)
    expect(a.code).toBe(0)
    expect(b.code).toBe(0)
    const linesA = jsonLines(first.stdout)
    const linesB = jsonLines(secondBatch.stdout)
    expect(linesA).toHaveLength(slow.length)
    expect(linesB).toHaveLength(second.length + 4)
    for (const line of [...linesA, ...linesB]) expect(line.status).toBe("ok")

    // the victim's unfinished downloads were done again elsewhere: requested again after the kill
    const redone = answeringAtKill.filter((p) => (server.hits.get(p) ?? 0) > (hitsAtKill.get(p) ?? 0))
    expect(redone.length, `victim ${victim!.address} was answering ${answeringAtKill.join(" ")} at the kill`).toBeGreaterThan(0)

    // each artifact once in the store, with the right bytes; the catalog agrees
    const stored = storedFiles()
    const names = stored.map((f) => f.split("/").pop()!)
    expect(new Set(names).size).toBe(names.length)
    for (const p of [...slow, ...second]) expect(names).toContain(sha256Hex(files.get(p)!))
    const rows = await db.query(
      "SELECT encode(a.sha256, 'hex') AS sha256, count(*)::int AS n, min(l.state) AS state FROM artifacts a JOIN locations l ON l.artifact = a.id GROUP BY a.sha256"
    )
    expect(rows.every((r) => r.n === 1 && r.state === "ok")).toBe(true)
    expect(new Set(rows.map((r) => r.sha256))).toEqual(new Set(names))

    // cluster status: the victim is gone, the two others hold every shard
    await until(async () => {
      const status = await runToEnd(["cluster", "status", "--cluster", db.url, "--json"], env)
      const parsed = JSON.parse(status.stdout) as { runners: Array<{ address: string; state: string; shards: number }> }
      const alive = parsed.runners.filter((r) => r.state === "alive")
      return (
        parsed.runners.find((r) => r.address === victim!.address)?.state === "gone" &&
        alive.length === 2 &&
        alive.reduce((n, r) => n + r.shards, 0) === 300
      )
    }, "status to show the victim gone and its shards moved", 60_000)
    const text = await runToEnd(["cluster", "status", "--cluster", db.url], env)
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(victim!.address)
    expect(text.stdout).toContain("gone")
  }, 180_000)
})
