/**
 * Real HTTP and HTTPS servers for tests, on loopback and port 0, that count what they see: requests (with their
 * headers), connections (total, open now, most open at once) and body bytes written.
 */
import { Effect, type Scope } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo, Socket } from "node:net"

export interface SeenRequest {
  readonly method: string
  /** Path and query as the server saw them (absolute-form when a client talks to it as a proxy). */
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  /** Milliseconds since the server started. */
  readonly at: number
  /** Wall-clock time (Date.now()) of arrival, to compare servers. */
  readonly epochMs: number
}

export interface ServerStats {
  readonly requests: Array<SeenRequest>
  /** Connections accepted in all. */
  connections: number
  /** Connections open now. */
  open: number
  /** The most connections open at the same time. */
  maxOpen: number
  /** Response body bytes handed to the socket, every response together. */
  bytesServed: number
}

export interface TestServer {
  /** `http://127.0.0.1:PORT` (or https). */
  readonly origin: string
  readonly port: number
  readonly host: string
  readonly stats: ServerStats
  readonly url: (path: string) => string
  readonly close: () => Promise<void>
}

export type Handler = (request: http.IncomingMessage, response: http.ServerResponse, stats: ServerStats) => void

export interface ServerOptions {
  /** Serve HTTPS with these TLS options (key, cert, ca, requestCert…). */
  readonly tls?: https.ServerOptions | undefined
  /** Bind address (default 127.0.0.1). */
  readonly host?: string | undefined
}

/** Wraps `response.write`/`end` to count body bytes. */
const countBytes = (response: http.ServerResponse, stats: ServerStats) => {
  const write = response.write.bind(response) as (...args: Array<unknown>) => boolean
  const end = response.end.bind(response) as (...args: Array<unknown>) => http.ServerResponse
  const size = (chunk: unknown) =>
    typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.length : 0
  response.write = ((chunk: unknown, ...rest: Array<unknown>) => {
    stats.bytesServed += size(chunk)
    return write(chunk, ...rest)
  }) as typeof response.write
  response.end = ((chunk?: unknown, ...rest: Array<unknown>) => {
    if (typeof chunk !== "function") stats.bytesServed += size(chunk)
    return end(chunk, ...rest)
  }) as typeof response.end
}

/** Starts a server; `close` destroys every open connection. */
export const startServer = async (handler: Handler, options: ServerOptions = {}): Promise<TestServer> => {
  const started = Date.now()
  const stats: ServerStats = { requests: [], connections: 0, open: 0, maxOpen: 0, bytesServed: 0 }
  const sockets = new Set<Socket>()
  const listener = (request: http.IncomingMessage, response: http.ServerResponse) => {
    stats.requests.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, at: Date.now() - started, epochMs: Date.now() })
    countBytes(response, stats)
    handler(request, response, stats)
  }
  const server = options.tls === undefined ? http.createServer(listener) : https.createServer(options.tls, listener)
  const onSocket = (socket: Socket) => {
    stats.connections += 1
    stats.open += 1
    stats.maxOpen = Math.max(stats.maxOpen, stats.open)
    sockets.add(socket)
    socket.on("close", () => {
      stats.open -= 1
      sockets.delete(socket)
    })
  }
  server.on("connection", onSocket)
  // TLS handshake failures are the client's business in these tests
  server.on("tlsClientError", () => {})
  const host = options.host ?? "127.0.0.1"
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const port = (server.address() as AddressInfo).port
  const origin = `${options.tls === undefined ? "http" : "https"}://${host.includes(":") ? `[${host}]` : host}:${port}`
  return {
    origin,
    port,
    host,
    stats,
    url: (path) => `${origin}${path.startsWith("/") ? path : `/${path}`}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

/** `startServer` as a scoped resource. */
export const serverScoped = (handler: Handler, options: ServerOptions = {}): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startServer(handler, options)),
    (server) => Effect.promise(() => server.close())
  )

/** Deterministic bytes of a given size (a repeating pattern that is not all one byte). */
export const bytesOf = (size: number, seed = 7): Buffer => {
  const buffer = Buffer.alloc(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    buffer[i] = x >>> 16
  }
  return buffer
}

/**
 * Serves `body` honouring `Range` and `If-Range` (ETag and Last-Modified), the way a static file server does.
 * `cutAt`: when given, the first full response stops (connection destroyed) after that many bytes.
 */
export const rangeHandler = (
  body: Buffer,
  options: {
    readonly etag?: string | undefined
    readonly lastModified?: string | undefined
    readonly cutAt?: number | undefined
    readonly ignoreRange?: boolean | undefined
  } = {}
): Handler => {
  let cuts = 0
  return (request, response) => {
    const headers: Record<string, string> = { "accept-ranges": options.ignoreRange ? "none" : "bytes" }
    if (options.etag !== undefined) headers.etag = options.etag
    if (options.lastModified !== undefined) headers["last-modified"] = options.lastModified
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? "")
    const ifRange = request.headers["if-range"]
    const validatorOk = ifRange === undefined || ifRange === options.etag || ifRange === options.lastModified
    let start = 0
    if (range !== null && !options.ignoreRange && validatorOk) {
      start = Number(range[1])
      if (start >= body.length) {
        response.writeHead(416, { "content-range": `bytes */${body.length}` }).end()
        return
      }
      response.writeHead(206, {
        ...headers,
        "content-length": String(body.length - start),
        "content-range": `bytes ${start}-${body.length - 1}/${body.length}`
      })
    } else {
      response.writeHead(200, { ...headers, "content-length": String(body.length) })
    }
    const part = body.subarray(start)
    if (options.cutAt !== undefined && cuts === 0 && start === 0) {
      cuts += 1
      response.write(part.subarray(0, options.cutAt), () => {
        setTimeout(() => response.socket?.destroy(), 20)
      })
      return
    }
    response.end(part)
  }
}
