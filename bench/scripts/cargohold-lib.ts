/**
 * cargohold through its library API with `layerNode({ home })`: full verification, content-addressed storage and
 * the SQLite catalog; 64 downloads and 64 connections (in all and per host), like the peers.
 * By default the whole job list goes through `fetchMany` (batched catalog writes); BENCH_CARGOHOLD_API=download
 * runs one `download` per job under `Effect.forEach` instead.
 * usage: node cargohold-lib.mjs JOBS HOME       (exits 3 when the library is not built yet)
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { readJobs, scriptArgs } from "./jobs.js"

type CoreModule = typeof import("@cargohold/core")
type NodeModule = typeof import("@cargohold/node")

const concurrency = 64
const { jobsPath, outDir: home } = scriptArgs("cargohold-lib JOBS HOME")

const load = async <T>(specifier: string): Promise<T | undefined> => {
  try {
    return (await import(specifier)) as T
  } catch (error) {
    console.error(`cannot import ${specifier}: ${String(error)}`)
    return undefined
  }
}
const core = await load<CoreModule>("@cargohold/core")
const node = await load<NodeModule>("@cargohold/node")
if (core?.download === undefined || node?.layerNode === undefined) {
  console.error("not available: @cargohold/core download and @cargohold/node layerNode must be built")
  process.exit(3)
}
const { download, fetchMany } = core
const useFetchMany = process.env.BENCH_CARGOHOLD_API !== "download" && fetchMany !== undefined
const requests = readJobs(jobsPath).map((j) => ({ url: j.url, sha256: j.sha256, size: j.size }))
/** BENCH_CARGOHOLD_CATALOG=memory: swaps the SQLite catalog out (for profiling; the bench uses the default). */
const catalog = process.env.BENCH_CARGOHOLD_CATALOG
const layer = node.layerNode({ home, catalog, limits: { global: concurrency, perHost: concurrency } })

const viaFetchMany = Effect.gen(function* () {
  let failed = 0
  let firstError = ""
  const bytesExpected = requests.reduce((sum, r) => sum + r.size, 0)
  yield* Stream.runForEach(
    fetchMany(Stream.fromIterable(requests), { concurrency, total: requests.length, bytesExpected }),
    (result) =>
      Effect.sync(() => {
        if (result._tag === "Failed" && failed++ === 0) firstError = `${result.error._tag}: ${result.error.message}`
      })
  )
  if (failed > 0) return yield* Effect.die(new Error(`${failed} of ${requests.length} failed; first: ${firstError}`))
})
const viaDownload = Effect.forEach(requests, (request) => download(request), { concurrency, discard: true })

await Effect.runPromise(Effect.provide(useFetchMany ? viaFetchMany : viaDownload, layer))
console.log(
  `cargohold-lib (${useFetchMany ? "fetchMany" : "download"}): ${requests.length} files verified, stored and catalogued in ${home}`
)
