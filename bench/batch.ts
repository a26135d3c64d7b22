/**
 * Batch bench: N small artifacts through `fetchMany` against a loopback server in another process.
 *
 *   npx tsx bench/batch.ts [N=10000] [SIZE=1024] [CONCURRENCY=64] [STORE=null|memory]
 *
 * Reports wall time, artifacts/s and the peak RSS of this process (sampled every 50 ms). With the default `null`
 * store every body is still hashed and verified but no bytes are kept, and the catalog only counts records, so the
 * figures are the pipeline's own (the in-memory backends grow with N by design).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import {
  Catalog,
  type CatalogService,
  fetchMany,
  layerConnectionLimits,
  layerSilent,
  Remotes,
  Storage,
  type StorageService
} from "@cargohold/core"
import { makeMemoryCatalog, makeMemoryStorage, nullStorage } from "@cargohold/core/testing"
import { layerNodeHasher } from "@cargohold/node"
import { Context, Effect, Layer, Stream } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { fileURLToPath } from "node:url"

const n = Number(process.argv[2] ?? 10_000)
const size = Number(process.argv[3] ?? 1024)
const concurrency = Number(process.argv[4] ?? 64)
const store = process.argv[5] ?? "null"

/** The same bytes batch-server.mjs serves for `path`. */
const bodyOf = (path: string) => {
  const out = Buffer.alloc(size, 0x61)
  out.write(path, 0, "latin1")
  return out
}

const startServer = () =>
  new Promise<{ port: number; stop: () => void }>((resolve, reject) => {
    const script = fileURLToPath(new URL("./batch-server.mjs", import.meta.url))
    const child = spawn(process.execPath, [script, String(size)], { stdio: ["ignore", "pipe", "inherit"] })
    child.on("error", reject)
    child.stdout.once("data", (data: Buffer) => resolve({ port: Number(String(data).trim()), stop: () => child.kill() }))
  })

const backends = Layer.effectContext(
  Effect.gen(function* () {
    if (store === "memory") {
      const storage = yield* makeMemoryStorage()
      const catalog = yield* makeMemoryCatalog
      return Context.make(Storage, storage as StorageService).pipe(
        Context.add(Catalog, catalog as CatalogService),
        Context.add(Remotes, catalog.remotes)
      )
    }
    const memory = yield* makeMemoryCatalog
    let records = 0
    const catalog: CatalogService = {
      ...memory,
      recordDownload: () => Effect.sync(() => void (records += 1)),
      recordDownloads: (rs) => Effect.sync(() => void (records += rs.length))
    }
    return Context.make(Storage, nullStorage).pipe(Context.add(Catalog, catalog), Context.add(Remotes, memory.remotes))
  })
)

const main = async () => {
  const server = await startServer()
  let peakRss = process.memoryUsage().rss
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }, 50)
  const origin = `http://127.0.0.1:${server.port}`
  const requests = Stream.range(0, n - 1).pipe(
    Stream.map((i) => {
      const path = `/artifact-${i}`
      return { url: `${origin}${path}`, sha256: createHash("sha256").update(bodyOf(path)).digest("hex"), size }
    })
  )
  const layer = Layer.mergeAll(
    NodeHttpClient.layerUndici,
    backends,
    layerSilent,
    layerNodeHasher,
    layerConnectionLimits({ global: 64, perHost: 64 })
  )
  const started = performance.now()
  let ok = 0
  let failed = 0
  let firstError: string | undefined
  // with --expose-gc: heap after a full GC every n/10 results (flat = nothing kept per request)
  const gc = (globalThis as { gc?: () => void }).gc
  const heapEvery = Math.max(1, Math.floor(n / 10))
  const heapAfterGc: Array<number> = []
  await Effect.runPromise(
    fetchMany(requests, { concurrency, total: n }).pipe(
      Stream.runForEach((r) =>
        Effect.sync(() => {
          if (r._tag === "Ok") ok += 1
          else {
            failed += 1
            firstError ??= r.error.message
          }
          if (gc !== undefined && (ok + failed) % heapEvery === 0) {
            gc()
            heapAfterGc.push(Math.round(process.memoryUsage().heapUsed / 1024 / 1024))
          }
        })
      ),
      Effect.provide(layer)
    )
  )
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  server.stop()
  const cpu = process.cpuUsage()
  console.log(
    JSON.stringify({
      n,
      size,
      concurrency,
      store,
      ok,
      failed,
      firstError,
      seconds: Number(seconds.toFixed(2)),
      perSecond: Math.round(n / seconds),
      peakRssMiB: Math.round(peakRss / 1024 / 1024),
      userCpuS: Number((cpu.user / 1e6).toFixed(2)),
      ...(heapAfterGc.length > 0 ? { heapAfterGcMiB: heapAfterGc } : {})
    })
  )
}

void main()
