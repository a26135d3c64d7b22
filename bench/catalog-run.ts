/**
 * The catalog bench itself (see bench/catalog.ts). Prints a table, then one JSON line.
 */
import { layerSecretBoxKey } from "@cargohold/catalog-sql"
import { layerPgCatalog } from "@cargohold/catalog-sql/pg"
import { layerSqliteCatalog } from "@cargohold/catalog-sql/sqlite"
import { type ByteSize, Catalog, type CatalogError, type DownloadRecord, type Sha256 } from "@cargohold/core"
import { Effect, type Layer, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const n = Number(arg("n", "1000000"))
const batch = Number(arg("batch", "10000"))
const lookups = Math.min(Number(arg("lookups", "5000")), n)
const only = arg("only", "sqlite,pg").split(",")
/** SQLite page cache in MiB (the catalog's default, 32, when not given). */
const cacheMiB = arg("cache-mib", "") === "" ? undefined : Number(arg("cache-mib", ""))
const adminUrl = process.env.CARGOHOLD_TEST_PG ?? "postgresql://postgres@127.0.0.1:5432/test"

const hex = (algorithm: string, i: number) => createHash(algorithm).update(`artifact-${i}`).digest("hex")
const at = Date.UTC(2024, 0, 1)
const recordOf = (i: number): DownloadRecord => {
  const sha256 = hex("sha256", i) as Sha256
  return {
    sha256,
    size: (1000 + (i % 100_000)) as ByteSize,
    digests: { sha256, sha1: hex("sha1", i) as never },
    store: "file:///srv/cargohold/store",
    key: `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`,
    url: `https://mirror.example.test/pool/main/p/pkg-${i}/pkg-${i}_1.0_amd64.deb`,
    finalUrl: `https://cdn.example.test/pool/main/p/pkg-${i}/pkg-${i}_1.0_amd64.deb`,
    etag: `"${i.toString(16)}"`,
    at: new Date(at + i)
  }
}

const median = (xs: Array<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}
const p99 = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!

interface Result {
  readonly backend: string
  readonly n: number
  readonly batch: number
  readonly recordSeconds: number
  readonly recordPerSecond: number
  /** CPU time of this process while recording (the database server's, for PostgreSQL, not included). */
  readonly recordCpuSeconds: number
  readonly lookupMedianMs: number
  readonly lookupP99Ms: number
  readonly findByDigestMedianMs: number
  readonly findByUrlMedianMs: number
  readonly sizeBytes?: number
}

const measure = (backend: string, layer: Layer.Layer<Catalog, CatalogError>) =>
  Effect.gen(function* () {
    const catalog = yield* Catalog
    let recordMs = 0
    const cpu0 = process.cpuUsage()
    for (let start = 0; start < n; start += batch) {
      const records = Array.from({ length: Math.min(batch, n - start) }, (_, k) => recordOf(start + k))
      const t0 = performance.now()
      yield* catalog.recordDownloads(records)
      recordMs += performance.now() - t0
      if ((start / batch) % 10 === 9) {
        process.stderr.write(`[${backend}] ${start + records.length} recorded, ${Math.round(((start + records.length) / recordMs) * 1000)}/s\n`)
      }
    }
    const cpu = process.cpuUsage(cpu0)
    const recordCpuSeconds = (cpu.user + cpu.system) / 1e6
    const count = yield* catalog.count()
    if (count !== n) throw new Error(`${backend}: expected ${n} artifacts, found ${count}`)
    const sample = Array.from({ length: lookups }, () => Math.floor(Math.random() * n))
    const timed = <A>(f: (i: number) => Effect.Effect<A, CatalogError>, check: (a: A) => boolean) =>
      Effect.gen(function* () {
        const times: Array<number> = []
        for (const i of sample) {
          const t0 = performance.now()
          const a = yield* f(i)
          times.push(performance.now() - t0)
          if (!check(a)) throw new Error(`${backend}: lookup of artifact ${i} failed`)
        }
        return times
      })
    const lookup = yield* timed((i) => catalog.lookup(hex("sha256", i) as Sha256), Option.isSome)
    const byDigest = yield* timed((i) => catalog.findByDigest("sha1", hex("sha1", i)), Option.isSome)
    const byUrl = yield* timed((i) => catalog.findByUrl(recordOf(i).url), Option.isSome)
    return {
      backend,
      n,
      batch,
      recordSeconds: recordMs / 1000,
      recordPerSecond: Math.round((n / recordMs) * 1000),
      recordCpuSeconds,
      lookupMedianMs: median(lookup),
      lookupP99Ms: p99(lookup),
      findByDigestMedianMs: median(byDigest),
      findByUrlMedianMs: median(byUrl)
    } satisfies Result
  }).pipe(Effect.provide(layer))

const box = layerSecretBoxKey(randomBytes(32))
const results: Array<Result> = []

if (only.includes("sqlite")) {
  const dir = mkdtempSync(join(tmpdir(), "cargohold-bench-catalog-"))
  const filename = join(dir, "catalog.db")
  try {
    const result = await Effect.runPromise(measure("sqlite", layerSqliteCatalog({ filename, secretBox: box, ...(cacheMiB === undefined ? {} : { cacheSizeMiB: cacheMiB }) })))
    const size = [filename, `${filename}-wal`].reduce((sum, f) => sum + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0)
    results.push({ ...result, sizeBytes: size })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (only.includes("pg")) {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const name = `cargohold_bench_${process.pid}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  try {
    const result = await Effect.runPromise(measure("postgresql", layerPgCatalog({ url: url.toString(), secretBox: box })))
    const size = await admin.query<{ size: string }>("SELECT pg_database_size($1) AS size", [name])
    results.push({ ...result, sizeBytes: Number(size.rows[0]!.size) })
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

const fmt = (ms: number) => ms.toFixed(3)
console.log("\n| backend | artifacts | batch | recording | artifacts/s | cpu (this process) | lookup median | lookup p99 | sha1 median | url median | size |")
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (const r of results) {
  console.log(
    `| ${r.backend} | ${r.n} | ${r.batch} | ${r.recordSeconds.toFixed(1)} s | ${r.recordPerSecond} | ${r.recordCpuSeconds.toFixed(1)} s | ${fmt(r.lookupMedianMs)} ms | ${fmt(r.lookupP99Ms)} ms | ${fmt(r.findByDigestMedianMs)} ms | ${fmt(r.findByUrlMedianMs)} ms | ${((r.sizeBytes ?? 0) / 1e6).toFixed(0)} MB |`
  )
}
console.log(
  `\ngoals: median lookup <= 0.2 ms on SQLite, recording >= 20000 artifacts/s (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)\n${JSON.stringify({ bench: "catalog", results })}`
)
