/**
 * A real node:http server on loopback serving fixed bodies, optionally breaking a body off mid-way.
 */
import { createHash, randomBytes } from "node:crypto"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"

export interface Served {
  readonly body: Uint8Array
  /** Close the connection after this many bytes (a broken transfer), forever or only for the first n requests. */
  readonly breakAfter?: number
  readonly breakTimes?: number
  /** Send this many bytes, then nothing more (the connection stays open until the server closes). */
  readonly stallAfter?: number
}

export interface TestServer {
  readonly url: (path: string) => string
  readonly set: (path: string, served: Served) => void
  readonly hits: (path: string) => number
  readonly close: () => Promise<void>
}

export const startHttp = async (): Promise<TestServer> => {
  const routes = new Map<string, Served>()
  const hits = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/"
    const n = (hits.get(path) ?? 0) + 1
    hits.set(path, n)
    const served = routes.get(path)
    if (served === undefined) {
      res.writeHead(404).end()
      return
    }
    const body = served.body
    res.writeHead(200, { "content-length": String(body.length), "content-type": "application/octet-stream" })
    const breaking = served.breakAfter !== undefined && (served.breakTimes === undefined || n <= served.breakTimes)
    const end = breaking ? served.breakAfter! : (served.stallAfter ?? body.length)
    let offset = 0
    const pump = () => {
      while (offset < end) {
        const next = Math.min(end, offset + 64 * 1024)
        const ok = res.write(body.subarray(offset, next))
        offset = next
        if (!ok) {
          res.once("drain", pump)
          return
        }
      }
      if (breaking) res.destroy()
      else if (served.stallAfter === undefined) res.end()
    }
    pump()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    set: (path, served) => routes.set(path, served),
    hits: (path) => hits.get(path) ?? 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

export const randomArtifact = (size: number) => {
  const body = new Uint8Array(randomBytes(size))
  return { body, sha256: createHash("sha256").update(body).digest("hex"), size }
}
