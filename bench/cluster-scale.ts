/**
 * Throughput of one batch on a cluster across hosts, 1 → 2 → 4 runners: each runner in a network namespace of its
 * own with its link capped by `tc` (a token bucket each way), nginx upstream in another, the cluster and catalog on
 * the local PostgreSQL (reached through a forwarder), the store on moto_server (an S3 emulator, not S3). Every
 * round gets a fresh database, bucket and hosts; the same files are served each time. The ratio against 1 runner
 * is the number to read (goal ≥ 3.2× at 4).
 *
 * The capped links are meant to be the bottleneck, not the machine's cores, hence the defaults:
 * - 2 MiB/s per link, not 20: per artifact a runner spends ≈ 70 ms of CPU (download, sha256, S3 upload, catalog,
 *   cluster messages), moto_server ≈ 17 and PostgreSQL ≈ 5 (printed per round), so four runners at 20 MiB/s would
 *   need more than this machine's two cores.
 * - 6 downloads at once per runner (`--max-connections`), the per-host budget (64, cluster-wide) above what the
 *   runners can use: every byte crosses a runner's link twice (from nginx, then to the store), and with many
 *   downloads at once they all end together and their uploads queue behind each other on the way out; a few at a
 *   time keep both directions busy.
 * - 256 artifacts: each goes to the runner its sha256's shard belongs to, so the busiest runner's share (printed)
 *   bounds the ratio — on average ≈ 3.6× at 4 runners with 256 artifacts, more with more.
 *
 *   npx tsx bench/cluster-scale.ts [--files 256] [--mib 1] [--rate 2] [--runners 1,2,4] [--per-host 64]
 *                                  [--max-connections 6] [--logs DIR]
 *
 * Needs root (ip netns, tc), nginx, moto_server, PostgreSQL at $CARGOHOLD_TEST_PG (default
 * postgresql://postgres@127.0.0.1:5432/test) and a built CLI (npm run build).
 */
import { createHash, randomFillSync } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { type AcrossHosts, startAcrossHosts } from "../test/cluster/acrossHosts.js"
import { binPath, jsonLines } from "../test/cli/helpers.js"
import { runToEnd, until } from "../test/cluster/helpers.js"
import { netnsUnavailable } from "../test/cluster/netns.js"

const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? (process.argv[at + 1] ?? fallback) : fallback
}
const files = Number(arg("files", "256"))
const mib = Number(arg("mib", "1"))
const rate = Number(arg("rate", "2"))
const perHost = Number(arg("per-host", "64"))
const connectionsPerRunner = Number(arg("max-connections", "6"))
// where each round's runner and client stderr go (for a post-mortem), if anywhere
const logs = arg("logs", "")
const rounds = arg("runners", "1,2,4")
  .split(",")
  .map(Number)
  .filter((n) => n >= 1)

const unavailable = netnsUnavailable()
if (unavailable !== undefined) {
  console.error(`cluster-scale: ${unavailable}`)
  process.exit(2)
}
if (!existsSync(binPath)) {
  console.error("cluster-scale: build the CLI first (npm run build)")
  process.exit(2)
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")

// the files, once: random bytes (nothing compresses or dedups), their digests for the manifest
const data = mkdtempSync(join(tmpdir(), "cargohold-scale-"))
const cleanData = () => rmSync(data, { recursive: true, force: true })
process.once("exit", cleanData)
mkdirSync(join(data, "data"))
const body = Buffer.alloc(mib * 1024 * 1024)
const digests: Array<string> = []
for (let i = 0; i < files; i++) {
  randomFillSync(body)
  writeFileSync(join(data, "data", `${i}.bin`), body)
  digests.push(createHash("sha256").update(body).digest("hex"))
}
const totalMiB = files * mib
console.log(
  `${files} × ${mib} MiB = ${totalMiB} MiB; each runner's link capped at ${rate} MiB/s each way; ${connectionsPerRunner} downloads at once per runner, per-host ${perHost} cluster-wide; load ${load()}`
)

/** The machine's CPU time so far (all cores, all processes: /proc/stat), busy and total, in clock ticks. */
const cpuTicks = (): { readonly busy: number; readonly total: number } => {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  // idle and iowait are not busy
  return { busy: total - fields[3]! - fields[4]!, total }
}

/** CPU seconds a process has used so far (0 once it is gone). */
const cpuOf = (pid: number): number => {
  try {
    // the fields after the command's closing parenthesis: utime and stime are the 12th and 13th
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** CPU seconds so far of the runners, moto_server and the database's PostgreSQL backends. */
const cpuOfSite = async (site: AcrossHosts) => {
  const backends = await site.db.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
  return {
    runners: site.runners.reduce((n, r) => n + cpuOf(r.pid), 0),
    moto: cpuOf(site.moto.pid),
    backends: new Map(backends.map((row) => [Number(row.pid), cpuOf(Number(row.pid))]))
  }
}

interface Round {
  readonly runners: number
  readonly seconds: number
  readonly perRunner: ReadonlyArray<number>
  readonly cached: number
  readonly load: string
  /** Share of the machine's cores busy during the batch (everyone's work, not only this bench's). */
  readonly busy: number
  /** CPU milliseconds per artifact during the batch: runners, moto_server, PostgreSQL backends of the round. */
  readonly cpuPerArtifact: { readonly runners: number; readonly moto: number; readonly pg: number }
}
const results: Array<Round> = []

// interrupted: runners, servers, namespaces and the database go too
let current: AcrossHosts | undefined
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`cluster-scale: ${signal}, cleaning up`)
    void Promise.race([current?.stop(), new Promise((resolve) => setTimeout(resolve, 20_000))]).finally(() => process.exit(130))
  })
}

for (const count of rounds) {
  const site = await startAcrossHosts({ runnerHosts: count, rateMiBps: rate, root: data })
  current = site
  try {
    for (let n = 1; n <= count; n++) await site.startRunner(n, ["--per-host", String(perHost), "--max-connections", String(connectionsPerRunner)])
    await site.awaitSpread(count)
    const base = site.upstream.bases[0]!
    const manifest = join(site.dir.path, "manifest.txt")
    writeFileSync(manifest, digests.map((hex, i) => `${base}/data/${i}.bin sha256:${hex} ${mib * 1024 * 1024}\n`).join(""))
    const loadBefore = load()
    const started = performance.now()
    const cpuBefore = cpuTicks()
    const siteBefore = await cpuOfSite(site)
    const result = await runToEnd(["fetch", "-i", manifest, "--cluster", site.db.url, "--json"], site.env)
    const seconds = (performance.now() - started) / 1000
    const cpuAfter = cpuTicks()
    const busy = (cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total)
    const siteAfter = await cpuOfSite(site)
    let pgSeconds = 0
    for (const [pid, after] of siteAfter.backends) pgSeconds += after - (siteBefore.backends.get(pid) ?? 0)
    const perArtifact = (seconds: number) => Math.round((seconds * 1000) / files)
    const cpuPerArtifact = {
      runners: perArtifact(siteAfter.runners - siteBefore.runners),
      moto: perArtifact(siteAfter.moto - siteBefore.moto),
      pg: perArtifact(pgSeconds)
    }
    if (logs !== "") {
      mkdirSync(logs, { recursive: true })
      writeFileSync(join(logs, `round${count}-fetch.log`), result.stderr)
    }
    const lines = jsonLines(result.stdout)
    const ok = lines.filter((l) => l.status === "ok").length
    // a download whose entity was interrupted after its commit (its shard lost for a moment) runs again and finds
    // its artifact stored: ok, cached — said, not hidden
    const cached = lines.filter((l) => l.cached === true).length
    if (result.code !== 0 || ok !== files) {
      const errors = new Set(lines.filter((l) => l.status !== "ok").map((l) => JSON.stringify(l.error)))
      throw new Error(`round with ${count} runners: exit ${result.code}, ${ok}/${files} ok: ${[...errors].slice(0, 5).join("; ")}`)
    }
    const stored = (await site.keys()).length
    if (stored !== files) throw new Error(`round with ${count} runners: ${stored} objects in the bucket, expected ${files}`)
    // the runners write their counters once a second
    let perRunner: Array<number> = []
    await until(async () => {
      const rows = await site.db.query("SELECT done FROM cargohold_cluster_stats ORDER BY address")
      perRunner = rows.map((r) => Number(r.done))
      return perRunner.reduce((a, b) => a + b, 0) >= files
    }, "the runners' counters", 30_000)
    const round = { runners: count, seconds, perRunner, cached, load: `${loadBefore} → ${load()}`, busy, cpuPerArtifact }
    results.push(round)
    console.log(
      `${count} runner(s): ${seconds.toFixed(1)} s, ${(totalMiB / seconds).toFixed(1)} MiB/s; artifacts per runner ${perRunner.join("/")}${cached > 0 ? ` (${cached} found already stored when run again)` : ""}; cores ${(busy * 100).toFixed(0)} % busy; CPU ms per artifact: runners ${cpuPerArtifact.runners}, moto_server ${cpuPerArtifact.moto}, PostgreSQL ${cpuPerArtifact.pg}; load ${round.load}`
    )
  } finally {
    if (logs !== "") {
      mkdirSync(logs, { recursive: true })
      for (const [i, runner] of site.runners.entries()) writeFileSync(join(logs, `round${count}-runner${i + 1}.log`), runner.stderr)
    }
    await site.stop()
  }
}

const one = results.find((r) => r.runners === 1)
console.log("\nrunners | wall s | MiB/s | vs 1 runner | per runner | ideal (the busiest runner's share) | cores busy | load before → after")
for (const r of results) {
  const ratio = one === undefined ? "—" : `${(one.seconds / r.seconds).toFixed(2)}×`
  const ideal = (files / Math.max(...r.perRunner)).toFixed(2)
  console.log(
    `${r.runners} | ${r.seconds.toFixed(1)} | ${(totalMiB / r.seconds).toFixed(1)} | ${ratio} | ${r.perRunner.join("/")} | ${ideal}× | ${(r.busy * 100).toFixed(0)} % | ${r.load}`
  )
}
cleanData()
