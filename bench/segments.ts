/**
 * One large file from servers that cap each connection (nginx `limit_rate`, as CDNs and mirrors do): cargohold
 * with its defaults (segments) against curl (one connection) and aria2c -x8 -s8 (checksum=sha-256), alternating,
 * medians, printed as ratios. Then the same with two mirrors, one of them slow: cargohold `--mirror`, aria2c both
 * URIs, curl the fast one. `npm run bench -- --workload 5` runs the same two in the main bench; this one also
 * sweeps: `--counts 4,8,16` adds a cargohold row per `--segments N`, `--rate 0` serves without a cap (one stream
 * vs segments on a fast link). cargohold stores the file (verified, content-addressed, catalogued) as in workload 2.
 * usage: npx tsx bench/segments.ts [--mib 256] [--rate 16m] [--slow-rate 2m] [--rounds 3] [--counts 4,8,16] [--no-mirrors]
 * Needs the CLI built (npm run build), nginx, curl and aria2c; /usr/bin/time for peak RSS.
 */
import { spawn, spawnSync } from "node:child_process"
import { createCipheriv, createHash } from "node:crypto"
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { startNginx } from "./lib/nginx.js"

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const mib = Number(arg("mib", "256"))
const rate = arg("rate", "16m")
const slowRate = arg("slow-rate", "2m")
const rounds = Number(arg("rounds", "3"))
const counts = arg("counts", "").split(",").filter((c) => c !== "").map(Number)
const mirrors = !process.argv.includes("--no-mirrors")
const bin = resolve(import.meta.dirname, "../packages/cli/bin/cargohold.js")
const log = (line: string) => console.error(`[segments] ${line}`)

const work = mkdtempSync(join(tmpdir(), "cargohold-bench-segments-"))
const root = join(work, "root")
mkdirSync(root, { recursive: true })
// deterministic incompressible bytes: AES-CTR of zeros
const path = join(root, "big.bin")
const hash = createHash("sha256")
{
  const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, 13), Buffer.alloc(16))
  const fd = openSync(path, "w")
  const block = Buffer.alloc(4 * 1024 * 1024)
  for (let i = 0; i < (mib * 1024 * 1024) / block.length; i++) {
    const bytes = cipher.update(block)
    hash.update(bytes)
    writeSync(fd, bytes)
  }
  closeSync(fd)
}
const sha256 = hash.digest("hex")

interface Run {
  readonly seconds: number
  readonly rssMiB: number | undefined
}

const hasTime = existsSync("/usr/bin/time")

/** Runs `argv` (under /usr/bin/time for the peak RSS); fails on a non-zero exit. */
const timed = (argv: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolvePromise, reject) => {
    const stats = join(work, "time.txt")
    const full = hasTime ? ["/usr/bin/time", "-f", "%M", "-o", stats, ...argv] : [...argv]
    const started = process.hrtime.bigint()
    const child = spawn(full[0]!, full.slice(1), { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)))
    child.on("error", reject)
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      if (code !== 0) return reject(new Error(`${argv[0]} exited ${code}: ${stderr.trim()}`))
      const kib = hasTime ? Number(readFileSync(stats, "utf8").trim().split("\n").pop()) : Number.NaN
      resolvePromise({ seconds, rssMiB: Number.isFinite(kib) ? kib / 1024 : undefined })
    })
  })

interface Contender {
  readonly id: string
  readonly label: string
  readonly argv: (out: string) => ReadonlyArray<string>
  /** The file it leaves, to check. */
  readonly result: (out: string) => string
}

/** Where cargohold's store keeps the object (sharded by its sha256). */
const stored = (out: string) => join(out, "store", sha256.slice(0, 2), sha256)

const cargohold = (urls: ReadonlyArray<string>, segments: number | undefined): Contender => ({
  id: segments === undefined ? "cargohold" : `cargohold-s${segments}`,
  label: `cargohold fetch (${segments === undefined ? "defaults" : `--segments ${segments}`})${urls.length > 1 ? " --mirror" : ""}`,
  argv: (out) => [
    process.execPath, bin, "fetch", urls[0]!, ...urls.slice(1).flatMap((u) => ["--mirror", u]),
    "--sha256", sha256, "--size", String(mib * 1024 * 1024), "--home", out,
    ...(segments === undefined ? [] : ["--segments", String(segments)])
  ],
  result: stored
})

const contenders = (urls: ReadonlyArray<string>): ReadonlyArray<Contender> => [
  cargohold(urls, undefined),
  ...counts.map((n) => cargohold(urls, n)),
  {
    id: "curl",
    label: "curl -o (one connection)",
    argv: (out) => ["curl", "-sSf", "-o", join(out, "big.bin"), urls[urls.length - 1]!],
    result: (out) => join(out, "big.bin")
  },
  {
    id: "aria2c",
    label: `aria2c -x8 -s8${urls.length > 1 ? " (both URIs)" : ""}`,
    argv: (out) => ["aria2c", "-x8", "-s8", "-q", `--checksum=sha-256=${sha256}`, "--allow-overwrite=true", "-d", out, "-o", "big.bin", ...urls],
    result: (out) => join(out, "big.bin")
  }
]

const fileSha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex")
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const scenario = async (title: string, urls: ReadonlyArray<string>) => {
  const list = contenders(urls)
  const runs = new Map<string, Array<Run>>(list.map((c) => [c.id, []]))
  const loads: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    // rotate the order each round: no contender always runs first (a shared, noisy machine)
    const order = list.map((_, i) => list[(i + round) % list.length]!)
    for (const c of order) {
      const out = join(work, `out-${c.id}`)
      rmSync(out, { recursive: true, force: true })
      mkdirSync(out, { recursive: true })
      loads.push(loadavg()[0]!)
      const run = await timed(c.argv(out))
      if (fileSha(c.result(out)) !== sha256) throw new Error(`${c.id}: wrong bytes`)
      rmSync(out, { recursive: true, force: true })
      runs.get(c.id)!.push(run)
      log(`${title}: ${c.id} round ${round + 1}: ${run.seconds.toFixed(2)} s`)
    }
  }
  const secs = (id: string) => median(runs.get(id)!.map((r) => r.seconds))
  console.log(`\n## ${title} (${mib} MiB, ${rounds} rounds, median; load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)})`)
  console.log("| contender | seconds | MiB/s | × curl | × aria2c | peak RSS MiB |")
  console.log("|---|---|---|---|---|---|")
  for (const c of list) {
    const s = secs(c.id)
    const rss = median(runs.get(c.id)!.map((r) => r.rssMiB ?? Number.NaN))
    console.log(
      `| ${c.label} | ${s.toFixed(2)} | ${(mib / s).toFixed(1)} | ${(secs("curl") / s).toFixed(2)} | ${(secs("aria2c") / s).toFixed(2)} | ${Number.isFinite(rss) ? rss.toFixed(0) : "-"} |`
    )
  }
}

const fast = await startNginx(join(work, "nginx-fast"), root, 2, rate === "0" ? "" : `limit_rate ${rate};`)
const slow = await startNginx(join(work, "nginx-slow"), root, 2, `limit_rate ${slowRate};`)
try {
  console.log(`uptime: ${spawnSync("uptime", { encoding: "utf8" }).stdout.trim()}`)
  await scenario(rate === "0" ? "one server, no cap" : `one server, limit_rate ${rate} per connection`, [`${fast.baseUrl}/big.bin`])
  if (mirrors) await scenario(`two mirrors: limit_rate ${slowRate} (slow) and ${rate}`, [`${slow.baseUrl}/big.bin`, `${fast.baseUrl}/big.bin`])
  console.log(`uptime: ${spawnSync("uptime", { encoding: "utf8" }).stdout.trim()}`)
} finally {
  await fast.stop()
  await slow.stop()
  rmSync(work, { recursive: true, force: true })
}
