/**
 * cargohold through its library API with `layerNode({ home })`: full verification, content-addressed storage and
 * the SQLite catalog; 64 downloads and 64 connections (in all and per host), like the peers. Like the CLI, it
 * bounds V8's heap growth with `limitHeapGrowth()` and raises V8's tiering budget with `raiseTieringBudget()` (a
 * program fetching long batches should).
 * By default the job list is streamed from its file through `fetchMany` (batched catalog writes; the list is read
 * as the workers pull it, never held whole, as a program fetching a long list would); BENCH_CARGOHOLD_API=download
 * runs one `download` per job under `Effect.forEach` instead. BENCH_SEGMENTS=N sets `settings.segments` (1: one
 * stream for a large artifact), as the bench passes `--segments N` to the CLI.
 * usage: node cargohold-lib.mjs JOBS HOME       (exits 3 when the library is not built yet)
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { countJobs, streamJobs, scriptArgs } from "./jobs.js"

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
// as the CLI does at start-up: V8's heap grows to at most 2× what is live between full GCs (see limitHeapGrowth);
// BENCH_CARGOHOLD_HEAP=default leaves V8's own factor (up to 4×)
if (process.env.BENCH_CARGOHOLD_HEAP !== "default") node.limitHeapGrowth?.()
// as the CLI does too: fewer functions sent to TurboFan (see @cargohold/node's tiering.ts);
// BENCH_CARGOHOLD_TIERING=default leaves V8's own interrupt budget
if (process.env.BENCH_CARGOHOLD_TIERING !== "default") node.raiseTieringBudget?.()
const useFetchMany = process.env.BENCH_CARGOHOLD_API !== "download" && fetchMany !== undefined
const requests = Stream.fromAsyncIterable(streamJobs(jobsPath), (error) => new Error(`reading ${jobsPath}: ${String(error)}`)).pipe(
  Stream.map((j) => ({ url: j.url, sha256: j.sha256, size: j.size })),
  // in chunks, as fetchMany looks the catalog up per input chunk (an async iterable comes one element at a time)
  Stream.rechunk(1024)
)
const { count: total, bytes: bytesExpected } = await countJobs(jobsPath)
/** BENCH_CARGOHOLD_CATALOG=memory: swaps the SQLite catalog out (for profiling; the bench uses the default). */
const catalog = process.env.BENCH_CARGOHOLD_CATALOG
const segments = process.env.BENCH_SEGMENTS ? Number(process.env.BENCH_SEGMENTS) : undefined
if (segments !== undefined && !(Number.isInteger(segments) && segments >= 1)) {
  console.error(`BENCH_SEGMENTS must be a positive integer, got '${process.env.BENCH_SEGMENTS}'`)
  process.exit(2)
}
const layer = node.layerNode({
  home,
  catalog,
  limits: { global: concurrency, perHost: concurrency },
  ...(segments === undefined ? {} : { settings: { segments } })
})

const viaFetchMany = Effect.gen(function* () {
  let failed = 0
  let firstError = ""
  yield* Stream.runForEach(
    fetchMany(requests, { concurrency, total, bytesExpected }),
    (result) =>
      Effect.sync(() => {
        if (result._tag === "Failed" && failed++ === 0) firstError = `${result.error._tag}: ${result.error.message}`
      })
  )
  if (failed > 0) return yield* Effect.die(new Error(`${failed} of ${total} failed; first: ${firstError}`))
})
const viaDownload = Stream.runDrain(Stream.mapEffect(requests, (request) => download(request), { concurrency, unordered: true }))

await Effect.runPromise(Effect.provide(useFetchMany ? viaFetchMany : viaDownload, layer))
console.log(
  `cargohold-lib (${useFetchMany ? "fetchMany" : "download"}): ${total} files verified, stored and catalogued in ${home}`
)
