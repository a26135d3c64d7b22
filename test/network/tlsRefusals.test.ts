/**
 * Client-certificate refusals in all their forms, each a `TlsError` that says why:
 * - OpenSSL's own server (`openssl s_server -Verify`) refuses a certificate from an unknown CA with an alert;
 * - Node's TLS server verifies after the handshake and just closes (no alert at all);
 * - the same through a CONNECT proxy, where the alert has to cross the tunnel;
 * and a server that accepts the handshake but drops the request stays a (retried) `ConnectError`.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { download, Remote } from "@cargohold/core"
import { Effect, Redacted, type Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeCa } from "../support/certs.js"
import { failureOf, sha256Hex, tryDownload } from "../support/downloads.js"
import { expectNothingLeft, layerNetworkTest } from "../support/layers.js"
import { startProxy } from "../support/proxy.js"
import { bytesOf, serverScoped } from "../support/servers.js"

const ca = makeCa()
const otherCa = makeCa("someone else's CA")
const server = ca.issue({ commonName: "localhost" })
const client = ca.issue({ commonName: "cargohold client", client: true })
const stranger = otherCa.issue({ commonName: "stranger", client: true })
const docroot = mkdtempSync(join(tmpdir(), "cargohold-s-server-"))
const body = bytesOf(8 * 1024)
// s_server -HTTP sends a file as the whole response, so the file holds the status line and headers too
writeFileSync(
  join(docroot, "file.bin"),
  Buffer.concat([Buffer.from(`HTTP/1.0 200 ok\r\ncontent-length: ${body.length}\r\n\r\n`), body])
)
afterAll(() => {
  ca.remove()
  otherCa.remove()
  rmSync(docroot, { recursive: true, force: true })
})

const nothingLeft = { objects: 0, temps: 0, catalogued: 0 }
const remote = (name: string, url: string, tls: Remote["tls"], extra: Partial<Remote> = {}) =>
  new Remote({ name, url, headers: {}, tls, ...extra })
const withStranger = { caCert: ca.cert, clientCert: stranger.cert, clientKey: Redacted.make(stranger.key) }

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })

/** `openssl s_server -HTTP` serving `docroot`, requiring a client certificate signed by the test CA. */
const opensslServer: Effect.Effect<{ readonly origin: string }, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    const child = spawn(
      "openssl",
      [
        "s_server", "-quiet", "-HTTP", "-accept", `127.0.0.1:${port}`, "-naccept", "100",
        "-cert", server.certPath, "-key", server.keyPath, "-CAfile", ca.certPath, "-Verify", "1", "-verify_return_error"
      ],
      { cwd: docroot, stdio: ["pipe", "ignore", "ignore"] }
    )
    // ready when it accepts connections
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port })
        socket.once("connect", () => {
          socket.destroy()
          resolve(true)
        })
        socket.once("error", () => resolve(false))
      })
      if (up) break
      await new Promise((r) => setTimeout(r, 50))
    }
    return { child, origin: `https://127.0.0.1:${port}` }
  }),
  ({ child }) => Effect.sync(() => child.kill())
)

describe("client certificates refused", () => {
  it.scopedLive("OpenSSL's server: unknown CA alert → TlsError; a trusted certificate is served", () =>
    Effect.gen(function* () {
      const openssl = yield* opensslServer
      const refused = failureOf(yield* tryDownload({ url: "/file.bin", remote: remote("stranger", openssl.origin, withStranger) }))
      expect(refused._tag).toBe("TlsError")
      expect(refused.message).toMatch(/does not trust our client certificate|rejected our client certificate/)
      const none = failureOf(yield* tryDownload({ url: "/file.bin", remote: remote("anon", openssl.origin, { caCert: ca.cert }) }))
      expect(none._tag).toBe("TlsError")
      expect(none.message).toMatch(/client certificate/)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
      const trusted = remote("trusted", openssl.origin, {
        caCert: ca.cert,
        clientCert: client.certPath,
        clientKey: Redacted.make(client.keyPath)
      })
      const artifact = yield* download({ url: "/file.bin", remote: trusted, sha256: sha256Hex(body) })
      expect(artifact.size).toBe(body.length)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("Node's server closes without an alert: TlsError naming the client certificate, one attempt", () =>
    Effect.gen(function* () {
      const mtls = yield* serverScoped((_req, res) => res.end(body), {
        tls: { key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true }
      })
      const error = failureOf(yield* tryDownload({ url: "/x", remote: remote("stranger", mtls.origin, withStranger) }))
      expect(error._tag).toBe("TlsError")
      expect(error.message).toMatch(/did not accept our client certificate/)
      // the refused request and the probe; a TlsError is not retried
      expect(mtls.stats.connections).toBeLessThanOrEqual(2)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("through a CONNECT proxy: certificate required and certificate refused are TlsErrors", () =>
    Effect.gen(function* () {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startProxy()), (p) => Effect.promise(() => p.close()))
      const mtls = yield* serverScoped((_req, res) => res.end(body), {
        tls: { key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true }
      })
      const viaProxy = { proxy: { url: proxy.url } }
      const none = failureOf(yield* tryDownload({ url: "/a", remote: remote("anon", mtls.origin, { caCert: ca.cert }, viaProxy) }))
      expect(none._tag).toBe("TlsError")
      expect(none.message).toMatch(/client certificate/)
      const refused = failureOf(yield* tryDownload({ url: "/b", remote: remote("stranger", mtls.origin, withStranger, viaProxy) }))
      expect(refused._tag).toBe("TlsError")
      expect(refused.message).toMatch(/did not accept our client certificate/)
      expect(proxy.seen.every((s) => s.method === "CONNECT")).toBe(true)
      const withCert = remote("mtls", mtls.origin, { caCert: ca.cert, clientCert: client.cert, clientKey: Redacted.make(client.key) }, viaProxy)
      yield* download({ url: "/c", remote: withCert, sha256: sha256Hex(body) })
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a server that accepts the handshake and then drops requests stays a retried ConnectError", () =>
    Effect.gen(function* () {
      const dropping = yield* serverScoped((req) => req.socket.destroy(), { tls: { key: server.key, cert: server.cert } })
      const error = failureOf(
        yield* tryDownload({ url: "/x", remote: remote("dropping", dropping.origin, { caCert: ca.cert }, { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 } }) })
      )
      expect(error._tag).toBe("ConnectError")
      expect(dropping.stats.requests.length).toBe(3)
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
