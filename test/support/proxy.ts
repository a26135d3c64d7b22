/**
 * A real forward proxy for tests: plain forwarding of absolute-form `http://` requests and `CONNECT` tunnels,
 * with optional Basic auth (407 otherwise). It records what it saw, and strips `Proxy-Authorization` before
 * forwarding, as proxies do.
 */
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"

export interface ProxySeen {
  readonly method: string
  /** Absolute URL for forwarded requests, `host:port` for CONNECT. */
  readonly target: string
  readonly authorized: boolean
  /** The Proxy-Authorization the client sent, if any (to compare in tests; never print it). */
  readonly proxyAuthorization: string | undefined
}

export interface TestProxy {
  readonly url: string
  readonly port: number
  readonly seen: Array<ProxySeen>
  readonly close: () => Promise<void>
}

export const startProxy = async (auth?: { readonly username: string; readonly password: string }): Promise<TestProxy> => {
  const seen: Array<ProxySeen> = []
  const sockets = new Set<net.Socket>()
  const expected = auth === undefined ? undefined : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`
  const check = (method: string, target: string, header: string | undefined) => {
    const authorized = expected === undefined || header === expected
    seen.push({ method, target, authorized, proxyAuthorization: header })
    return authorized
  }
  const server = http.createServer((request, response) => {
    const target = request.url ?? ""
    if (!check(request.method ?? "", target, request.headers["proxy-authorization"])) {
      response.writeHead(407, { "proxy-authenticate": 'Basic realm="test proxy"', "content-length": "0" }).end()
      return
    }
    let url: URL
    try {
      url = new URL(target)
    } catch {
      response.writeHead(400).end()
      return
    }
    const headers = { ...request.headers }
    delete headers["proxy-authorization"]
    delete headers["proxy-connection"]
    const upstream = http.request(
      { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port, method: request.method, path: url.pathname + url.search, headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
        answer.on("error", () => response.destroy())
      }
    )
    upstream.on("error", () => response.destroy())
    request.pipe(upstream)
  })
  server.on("connect", (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client)
    client.on("close", () => sockets.delete(client))
    client.on("error", () => {})
    const target = request.url ?? ""
    if (!check("CONNECT", target, request.headers["proxy-authorization"])) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const at = target.lastIndexOf(":")
    const upstream = net.connect(Number(target.slice(at + 1)), target.slice(0, at).replace(/^\[|\]$/g, ""), () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on("close", () => sockets.delete(upstream))
    upstream.on("error", () => client.destroy())
  })
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
