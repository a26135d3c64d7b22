/**
 * Rough throughput of the Node layers (not a test; numbers go to the report, the real benchmark is bench/).
 * usage: npx tsx --tsconfig test/tsconfig.json test/node/measure.ts [files=1000] [sizeKiB=16] [bigMiB=256]
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { download } from "@cargohold/core"
import { layerNode } from "@cargohold/node"
import { Effect } from "effect"
import { bytes, sha256Hex, startServer, tempDir } from "./helpers.js"

const [files = 1000, sizeKiB = 16, bigMiB = 256] = process.argv.slice(2).map(Number)
const dir = tempDir("cargohold-measure-")
const src = join(dir.path, "src")
mkdirSync(src)
const jobs = Array.from({ length: files }, (_, i) => {
  const data = bytes(sizeKiB * 1024, i + 1)
  writeFileSync(join(src, `f${i}.bin`), data)
  return { name: `f${i}.bin`, sha256: sha256Hex(data), size: data.length }
})
const big = bytes(bigMiB * 1024 * 1024, 99)
writeFileSync(join(src, "big.bin"), big)
const bigSha = sha256Hex(big)
const server = await startServer((req, res) => {
  const name = (req.url ?? "/").slice(1)
  const job = jobs.find((j) => j.name === name)
  if (job === undefined && name !== "big.bin") return void res.writeHead(404).end()
  const data = name === "big.bin" ? big : bytes(sizeKiB * 1024, Number(name.slice(1, -4)) + 1)
  res.writeHead(200, { "content-length": String(data.length) })
  res.end(data)
})

const run = async (label: string, store: string, make: (j: (typeof jobs)[number]) => string, catalog = "memory:") => {
  const layer = layerNode({ home: dir.path, catalog, store, limits: { global: 64, perHost: 64 }, fileRoots: [src] })
  const started = performance.now()
  const cpu = process.cpuUsage()
  await Effect.runPromise(
    Effect.forEach(jobs, (j) => download({ url: make(j), sha256: j.sha256, size: j.size }), { concurrency: 64, discard: true }).pipe(
      Effect.provide(layer)
    )
  )
  const s = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  console.log(`${label}: ${files} × ${sizeKiB} KiB in ${s.toFixed(2)} s = ${(files / s).toFixed(0)} files/s, cpu user ${(used.user / 1e6).toFixed(2)} s sys ${(used.system / 1e6).toFixed(2)} s`)
}
const runBig = async (label: string, url: string) => {
  const layer = layerNode({ home: dir.path, catalog: "memory:", store: pathToFileURL(join(dir.path, `big-${label}`)).href, fileRoots: [src] })
  const started = performance.now()
  await Effect.runPromise(Effect.provide(download({ url, sha256: bigSha, size: big.length }), layer))
  const s = (performance.now() - started) / 1000
  console.log(`${label}: ${bigMiB} MiB in ${s.toFixed(2)} s = ${(bigMiB / s).toFixed(0)} MiB/s`)
}

await run("file:// → file store", pathToFileURL(join(dir.path, "s1")).href, (j) => pathToFileURL(join(src, j.name)).href)
await run("http → file store", pathToFileURL(join(dir.path, "s2")).href, (j) => server.url(`/${j.name}`))
await run("http → file store, sqlite catalog", pathToFileURL(join(dir.path, "s3")).href, (j) => server.url(`/${j.name}`), `sqlite://${dir.path}/c.db`)
await runBig("big file:// → file store", pathToFileURL(join(src, "big.bin")).href)
await runBig("big http → file store", server.url("/big.bin"))
await server.close()
dir.remove()
