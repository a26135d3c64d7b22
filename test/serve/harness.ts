/**
 * Helpers of the serve tests: an upstream that streams slowly (and can lie), `serve` in this process on a real
 * socket over a home folder's SQLite catalog and file store, and a raw HTTP client that tells a clean end from a cut.
 */
import { Catalog, type Repositories, type Storage, type StorageError } from "@cargohold/core"
import { layerHttp, layerNodeRepositories, type NodeServices } from "@cargohold/node"
import { type RunningServer, type ServeOptions, serve } from "@cargohold/node/serve"
import { createHash } from "node:crypto"
import * as http from "node:http"
import { type Context, Effect, Exit, Layer, Scope } from "effect"
import { transferPath } from "../support/layers.js"
import { startServer, type TestServer } from "../support/servers.js"

export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")

export interface UpstreamFile {
  readonly body: Buffer
  /** Bytes sent instead (same length or not): an upstream that serves the wrong content. */
  readonly lie?: Buffer | undefined
  /** Pause between 64 KiB chunks, ms. */
  readonly delayMs?: number | undefined
}

/** An upstream serving `files` in 64 KiB chunks (no Range support: a mirror that only answers whole bodies). */
export const upstream = (files: Map<string, UpstreamFile>): Promise<TestServer> =>
  startServer((req, res) => {
    const file = files.get(new URL(req.url ?? "/", "http://x").pathname)
    if (file === undefined) {
      res.writeHead(404, { "content-length": 0 }).end()
      return
    }
    const body = file.lie ?? file.body
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" })
    let offset = 0
    const next = () => {
      if (res.destroyed) return
      if (offset >= body.length) return void res.end()
      const chunk = body.subarray(offset, offset + 65536)
      offset += chunk.length
      res.write(chunk)
      if (file.delayMs === undefined || file.delayMs === 0) setImmediate(next)
      else setTimeout(next, file.delayMs)
    }
    next()
  })

export type Services = NodeServices | Repositories

export interface InProcessServe {
  readonly server: RunningServer
  readonly url: (path: string) => string
  readonly run: <A, E>(effect: Effect.Effect<A, E, Services>) => Promise<A>
  readonly log: Array<string>
  readonly close: () => Promise<void>
}

/** `serve` on 127.0.0.1 over `home` (SQLite catalog and file store, or `catalog` when given). */
export const startServe = async (
  home: string,
  options: ServeOptions & { readonly catalog?: string; readonly store?: Layer.Layer<Storage, StorageError> } = {}
): Promise<InProcessServe> => {
  const scope = Effect.runSync(Scope.make())
  // the transfer path under test (the lean exchange, or the platform HttpClient in the generic-transfer project)
  const layer = layerNodeRepositories({
    home,
    catalog: options.catalog,
    fileRoots: [],
    http: layerHttp({ transfer: transferPath }),
    // another store (S3 on an emulator): named by a URL of its own scheme
    ...(options.store === undefined ? {} : { store: "test-store:", storeSchemes: { "test-store:": () => options.store! } })
  })
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const log: Array<string> = []
  const server = await Effect.runPromise(
    serve({ accessLog: (text) => void log.push(...text.trimEnd().split("\n")), ...options }).pipe(
      Effect.provide(context),
      Scope.extend(scope)
    )
  )
  return {
    server,
    url: (path) => `${server.origin}${path}`,
    run: (effect) => Effect.runPromise(Effect.provide(effect, context as Context.Context<Services>)),
    log,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

export interface Got {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  /** The body ended cleanly (not cut off by a destroyed connection). */
  readonly complete: boolean
}

/** One GET (or HEAD) on a fresh connection. */
export const get = (url: string, headers: http.OutgoingHttpHeaders = {}, method = "GET"): Promise<Got> =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      let complete = false
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        complete = !res.aborted
      })
      res.on("close", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: complete && res.complete })
      )
      res.on("error", () => {})
    })
    req.on("error", reject)
    req.end()
  })

/** Requests the upstream saw for `path`. */
export const hits = (server: TestServer, path: string): number => server.stats.requests.filter((r) => r.url === path).length

export { Catalog, type Storage }
