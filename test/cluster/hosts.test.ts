/**
 * A cluster across hosts: four `cargohold runner` processes, each in a network namespace of its own with its link
 * capped at 20 MiB/s each way by `tc`, nginx upstream in another namespace (two addresses: two hosts for the
 * per-host budget), the cluster database and catalog on the local PostgreSQL through a forwarder on the bridge,
 * the shared store on moto_server (an S3 emulator, not S3). The batch is submitted from the root namespace.
 * What the upstream saw comes from nginx's own log (start, end, bytes and client of every request).
 * Needs root (ip netns, tc): skipped otherwise, saying so.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytesOf, jsonLines, sha256Hex } from "../cli/helpers.js"
import { type AcrossHosts, startAcrossHosts } from "./acrossHosts.js"
import { type Runner, receivingPids, runToEnd, startCli, until } from "./helpers.js"
import { netnsUnavailable } from "./netns.js"
import { maxInFlight } from "./site.js"

const KiB = 1024
const perHost = 3
const unavailable = netnsUnavailable()

describe.skipIf(unavailable !== undefined)(
  `cluster across hosts (network namespaces, tc-capped links)${unavailable === undefined ? "" : ` — skipped: ${unavailable}`}`,
  () => {
    let site: AcrossHosts
    const files = new Map<string, Buffer>()
    let hostA: string
    let hostB: string

    const manifest = (name: string, entries: ReadonlyArray<readonly [string, string]>): string => {
      const path = join(site.dir.path, name)
      writeFileSync(path, entries.map(([base, p]) => `${base}${p} sha256:${sha256Hex(files.get(p)!)} ${files.get(p)!.length}\n`).join(""))
      return path
    }
    const artifactKeys = async () => (await site.keys()).filter((key) => !key.includes("/.tmp/")).map((key) => key.split("/").pop()!)
    const catalogRows = () =>
      site.db.query(
        "SELECT encode(a.sha256, 'hex') AS sha256, count(*)::int AS n, min(l.state) AS state FROM artifacts a JOIN locations l ON l.artifact = a.id GROUP BY a.sha256"
      )

    beforeAll(async () => {
      site = await startAcrossHosts({ runnerHosts: 4, rateMiBps: 20, slowBytesPerSecond: 1024 * KiB, upstreamAddresses: 2 })
      ;[hostA, hostB] = site.upstream.bases as [string, string]
      for (const [folder, count, size, seed] of [
        ["batch", 24, 512 * KiB, 1],
        ["long", 20, 2048 * KiB, 100],
        ["second", 12, 192 * KiB, 200]
      ] as const) {
        mkdirSync(join(site.root, "slow", folder), { recursive: true })
        for (let i = 0; i < count; i++) {
          const path = `/slow/${folder}/${i}.bin`
          files.set(path, bytesOf(size + i * 331, seed + i))
          writeFileSync(join(site.root, path), files.get(path)!)
        }
      }
      // each runner: 8 downloads at once of its own, 3 per host for the whole cluster
      for (let n = 1; n <= 4; n++) await site.startRunner(n, ["--max-connections", "8", "--per-host", String(perHost)])
      await site.awaitSpread(4)
    }, 180_000)

    afterAll(async () => {
      await site?.stop()
    }, 90_000)

    it("runs one batch over four runners: every artifact once in the bucket and the catalog, the host's budget held", async () => {
      const paths = [...files.keys()].filter((p) => p.startsWith("/slow/batch/"))
      const result = await runToEnd(["fetch", "-i", manifest("batch.txt", paths.map((p) => [hostA, p])), "--cluster", site.db.url, "--json"], site.env)
      expect(result.stderr).toContain(`${paths.length} artifacts: ${paths.length} ok`)
      expect(result.code).toBe(0)
      const lines = jsonLines(result.stdout)
      expect(lines).toHaveLength(paths.length)
      // ok and fetched by this batch (none run a second time after a runner lost its shards for a moment), and
      // (below) fetched once each
      for (const line of lines) expect(line).toMatchObject({ status: "ok", cached: false })

      const wanted = paths.map((p) => sha256Hex(files.get(p)!))
      const stored = await artifactKeys()
      expect(stored.toSorted()).toEqual(wanted.toSorted())
      const rows = await catalogRows()
      expect(rows.filter((r) => wanted.includes(String(r.sha256))).map((r) => [r.n, r.state])).toEqual(wanted.map(() => [1, "ok"]))

      const requests = site.upstream.requests().filter((r) => r.path.startsWith("/slow/batch/"))
      // each fetched once, whole, and by more than one runner host
      expect(requests.map((r) => r.path).toSorted()).toEqual(paths.toSorted())
      for (const r of requests) expect([r.status, r.bytes]).toEqual([200, files.get(r.path)!.length])
      const runnerIps = new Set(requests.map((r) => r.client))
      expect(runnerIps.size).toBeGreaterThanOrEqual(2)
      for (const ip of runnerIps) expect(site.runners.map((r) => r.address.split(":")[0])).toContain(ip)
      // four runners of 8 connections each could open 32 at once; the host's budget is 3 for the whole cluster
      const most = maxInFlight(requests, new URL(hostA).hostname)
      expect(most).toBeLessThanOrEqual(perHost)
      expect(most).toBeGreaterThanOrEqual(2)

      // cluster status --json: what each runner has done is what the upstream saw it fetch, and the batch is finished
      await until(async () => (await site.db.query("SELECT sum(done)::int AS n FROM cargohold_cluster_stats"))[0]?.n === paths.length, "the counters")
      const status = JSON.parse((await runToEnd(["cluster", "status", "--cluster", site.db.url, "--json"], site.env)).stdout) as {
        runners: Array<{ address: string; state: string; done: number; bytes: number }>
        batches: Array<{ finished: boolean; done: number; total: number; bytes: number }>
      }
      for (const runner of site.runners) {
        const entry = status.runners.find((r) => r.address === runner.address)
        const fetched = requests.filter((r) => r.client === runner.address.split(":")[0])
        expect(entry).toMatchObject({ state: "alive", done: fetched.length, bytes: fetched.reduce((n, r) => n + r.bytes, 0) })
      }
      const total = paths.reduce((n, p) => n + files.get(p)!.length, 0)
      expect(status.batches[0]).toMatchObject({ finished: true, done: paths.length, total: paths.length, bytes: total })
    }, 120_000)

    it("survives kill -9 of a runner mid-transfer while a second batch runs: none lost, none stored twice", async () => {
      const long = [...files.keys()].filter((p) => p.startsWith("/slow/long/"))
      const second = [...files.keys()].filter((p) => p.startsWith("/slow/second/"))
      const first = startCli(["fetch", "-i", manifest("long.txt", long.map((p) => [hostB, p])), "--cluster", site.db.url, "--json"], site.env)
      // the victim: a runner host with a body coming in from the upstream right now
      let victim: Runner | undefined
      await until(async () => {
        for (const runner of site.runners) {
          if (runner.child.exitCode !== null) continue
          const host = site.hosts.host(`r${site.runners.indexOf(runner) + 1}`)
          if ((await receivingPids(80, host.ns)).has(runner.pid)) {
            victim = runner
            return true
          }
        }
        return false
      }, "a runner to be receiving a body", 90_000)
      // the second batch: new files from the other host, and four of the first batch's again
      const secondEntries = [...second.map((p) => [hostA, p] as const), ...long.slice(0, 4).map((p) => [hostB, p] as const)]
      const secondBatch = startCli(["fetch", "-i", manifest("second.txt", secondEntries), "--cluster", site.db.url, "--json"], site.env)
      victim!.child.kill("SIGKILL")
      await victim!.exited
      const victimIp = victim!.address.split(":")[0]!

      const [a, b] = await Promise.all([first.exited, secondBatch.exited])
      expect(first.stderr).toContain(`${long.length} artifacts: ${long.length} ok`)
      expect(secondBatch.stderr).toContain(`${secondEntries.length} artifacts: ${secondEntries.length} ok`)
      expect([a.code, b.code]).toEqual([0, 0])
      const linesA = jsonLines(first.stdout)
      const linesB = jsonLines(secondBatch.stdout)
      expect(linesA).toHaveLength(long.length)
      expect(linesB).toHaveLength(secondEntries.length)
      for (const line of [...linesA, ...linesB]) expect(line.status).toBe("ok")

      // what the victim was receiving when it died was fetched whole again by another runner host; a transfer nginx
      // saw cut off (fewer bytes than the file) among them. (nginx may also have handed the last bytes to the kernel
      // before the kill: then its log says complete, and the artifact was still not the victim's to commit.)
      const requests = site.upstream.requests()
      const size = (path: string) => files.get(path)!.length
      const byVictim = requests.filter((r) => r.client === victimIp && r.path.startsWith("/slow/long/"))
      const redoneElsewhere = (v: (typeof requests)[number]) =>
        requests.some((r) => r.path === v.path && r.client !== victimIp && r.bytes === size(r.path) && r.startMs >= v.startMs)
      expect(byVictim.filter(redoneElsewhere).length).toBeGreaterThan(0)
      for (const cut of byVictim.filter((r) => r.bytes < size(r.path))) expect(redoneElsewhere(cut)).toBe(true)
      // the budget held through the kill (the victim's slots came back when its database session closed)
      expect(maxInFlight(requests.filter((r) => r.path.startsWith("/slow/long/")), new URL(hostB).hostname)).toBeLessThanOrEqual(perHost)

      // each artifact once in the bucket, the catalog agreeing
      const stored = await artifactKeys()
      expect(new Set(stored).size).toBe(stored.length)
      for (const p of [...long, ...second]) expect(stored).toContain(sha256Hex(files.get(p)!))
      const rows = await catalogRows()
      expect(rows.every((r) => r.n === 1 && r.state === "ok")).toBe(true)
      expect(new Set(rows.map((r) => String(r.sha256)))).toEqual(new Set(stored))

      // cluster status: the victim gone, the three others hold every shard, and say what each has done
      await until(async () => {
        const status = await runToEnd(["cluster", "status", "--cluster", site.db.url, "--json"], site.env)
        const parsed = JSON.parse(status.stdout) as { runners: Array<{ address: string; state: string; shards: number }> }
        const alive = parsed.runners.filter((r) => r.state === "alive")
        return (
          parsed.runners.find((r) => r.address === victim!.address)?.state === "gone" &&
          alive.length === 3 &&
          alive.reduce((n, r) => n + r.shards, 0) === 300
        )
      }, "status to show the victim gone and its shards moved", 60_000)
    }, 240_000)
  }
)
