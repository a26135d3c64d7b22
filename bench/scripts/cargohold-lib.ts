/**
 * cargohold through its library API: every job through `download` (or `fetchMany` when present) with
 * `layerNode({ home })`: full verification, content-addressed storage and catalog. 64 connections, like the peers.
 * usage: node cargohold-lib.mjs JOBS HOME       (exits 3 when the library is not built yet)
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { readJobs, scriptArgs } from "./jobs.js"

/** What `download` needs; opaque here, `layerNode` provides it. */
interface Services {
  readonly _services: unique symbol
}
interface Request {
  readonly url: string
  readonly sha256: string
  readonly size: number
}
interface CoreApi {
  readonly download?: (input: Request) => Effect.Effect<unknown, unknown, Services>
  readonly fetchMany?: (
    inputs: ReadonlyArray<Request>,
    options?: { readonly concurrency?: number }
  ) => Effect.Effect<unknown, unknown, Services>
  readonly layerConnectionLimits?: (o: { readonly global: number; readonly perHost: number }) => Layer.Layer<never>
}
interface NodeApi {
  readonly layerNode?: (options: { readonly home: string }) => Layer.Layer<Services, unknown>
}

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
const core = await load<CoreApi>("@cargohold/core")
const node = await load<NodeApi>("@cargohold/node")
const download = core?.download
const layerNode = node?.layerNode
if (download === undefined || layerNode === undefined) {
  console.error("not available: @cargohold/core download and @cargohold/node layerNode must be built")
  process.exit(3)
}

const requests: ReadonlyArray<Request> = readJobs(jobsPath).map((j) => ({ url: j.url, sha256: j.sha256, size: j.size }))
const all =
  core?.fetchMany !== undefined
    ? core.fetchMany(requests, { concurrency })
    : Effect.forEach(requests, download, { concurrency, discard: true })
const limits = core?.layerConnectionLimits?.({ global: concurrency, perHost: concurrency })
const provided = Effect.provide(all, layerNode({ home }))
await Effect.runPromise(limits !== undefined ? Effect.provide(provided, limits) : provided)
console.log(`cargohold-lib: ${requests.length} files verified, stored and catalogued in ${home}`)
