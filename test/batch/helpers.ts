/**
 * Batch tests: real loopback HTTP servers serving fixed bodies, the undici HttpClient, in-memory Storage and Catalog.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Catalog, type CatalogService, DownloadConfig, defaultSettings, layerSilent, Remotes } from "@cargohold/core"
import { makeOriginHealth, OriginHealth } from "@cargohold/core/internal/pipeline/sources"
import { layerCollecting, layerMemoryBackends, layerNullStorage, makeMemoryCatalog } from "@cargohold/core/testing"
import { layerNodeHasher } from "@cargohold/node"
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"

export const sha256 = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex")

/** Deterministic, distinct bytes. */
export const bodyOf = (name: string, size = 1024): Buffer => {
  const out = Buffer.alloc(size)
  const seed = createHash("sha256").update(name).digest()
  for (let i = 0; i < size; i++) out[i] = seed[i % 32]! ^ (i & 0xff)
  return out
}

export interface Server {
  readonly origin: string
  readonly url: (path: string) => string
  /** Requests seen, by path. */
  readonly hits: Map<string, number>
  readonly total: () => number
}

export type Route = (path: string, response: http.ServerResponse) => void

/** Serves `files` (path → bytes); other paths answer 404. `route` may take over any request. */
export const serve = (
  files: (path: string) => Uint8Array | undefined,
  options: { readonly delayMs?: number; readonly route?: Route } = {}
): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const hits = new Map<string, number>()
      let total = 0
      const sockets = new Set<Socket>()
      const server = http.createServer((request, response) => {
        const path = request.url ?? "/"
        hits.set(path, (hits.get(path) ?? 0) + 1)
        total += 1
        const answer = () => {
          if (options.route !== undefined) return options.route(path, response)
          const body = files(path)
          if (body === undefined) {
            response.writeHead(404).end()
            return
          }
          response.writeHead(200, { "content-length": body.length }).end(body)
        }
        if (options.delayMs !== undefined) setTimeout(answer, options.delayMs)
        else answer()
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      return { origin, url: (path: string) => `${origin}${path}`, hits, total: () => total, server, sockets }
    }),
    ({ server, sockets }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => resolve())
          })
      )
  )

/** A URL on loopback where nothing listens (the port of a server just closed). */
export const refusedUrl = (path: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as AddressInfo).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return `http://127.0.0.1:${port}${path}`
  })


const settings = {
  ...defaultSettings,
  retryBaseDelay: Duration.millis(10),
  retryMaxDelay: Duration.millis(50)
}

const common = Layer.mergeAll(
  NodeHttpClient.layerUndici,
  layerMemoryBackends,
  layerNodeHasher,
  Layer.succeed(DownloadConfig, settings),
  Layer.sync(OriginHealth, makeOriginHealth)
)

/** Real HTTP, in-memory backends, fresh origin health, collecting progress. */
export const layerBatchTest = () => Layer.merge(common, layerCollecting)

/** The same with silent progress (large batches). */
export const layerBatchSilent = () => Layer.merge(common, layerSilent)

/** Null storage and a catalog that only counts what it is asked to record; silent progress. */
export const layerBatchNull = (counter: { records: number; writes: number }) =>
  Layer.mergeAll(
    NodeHttpClient.layerUndici,
    layerNodeHasher,
    layerSilent,
    Layer.succeed(DownloadConfig, settings),
    Layer.sync(OriginHealth, makeOriginHealth),
    layerNullStorage,
    Layer.effectContext(
      Effect.map(makeMemoryCatalog, (memory) =>
        Context.make(Catalog, {
          ...memory,
          recordDownload: () => Effect.sync(() => void (counter.records += 1)),
          recordDownloads: (records) =>
            Effect.sync(() => {
              counter.records += records.length
              counter.writes += 1
            })
        } satisfies CatalogService).pipe(Context.add(Remotes, memory.remotes))
      )
    )  )
