/**
 * TLS per remote against HTTPS servers with certificates made by openssl in the test: own CA, SNI name,
 * verify off, minimum version, client certificates, and a `TlsError` that says why a handshake failed.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { download, Remote } from "@cargohold/core"
import { HttpPools } from "@cargohold/node"
import { Effect, Redacted } from "effect"
import { makeCa } from "../support/certs.js"
import { failureOf, sha256Hex, tryDownload } from "../support/downloads.js"
import { CollectedProgress, expectNothingLeft, layerNetworkTest } from "../support/layers.js"
import { leaks } from "../support/secrets.js"
import { bytesOf, serverScoped } from "../support/servers.js"

const ca = makeCa()
const otherCa = makeCa("someone else's CA")
const server = ca.issue({ commonName: "localhost" })
const named = ca.issue({ commonName: "repo.test", dns: ["repo.test"], ips: [] })
const expired = ca.issue({ commonName: "old", expired: true })
const client = ca.issue({ commonName: "cargohold client", client: true })
const strangerClient = otherCa.issue({ commonName: "stranger", client: true })
afterAll(() => {
  ca.remove()
  otherCa.remove()
})

const body = bytesOf(64 * 1024)
const serve = (tls: Parameters<typeof serverScoped>[1] extends infer O ? O extends { tls?: infer T } ? T : never : never) =>
  serverScoped((_req, res) => res.end(body), { tls })
const nothingLeft = { objects: 0, temps: 0, catalogued: 0 }
const remote = (name: string, url: string, tls: Remote["tls"]) => new Remote({ name, url, headers: {}, tls })

describe("TLS per remote", () => {
  it.scopedLive("HTTPS with the test CA (path and inline PEM), and errors without it", () =>
    Effect.gen(function* () {
      const https = yield* serve({ key: server.key, cert: server.cert })
      const byPath = remote("by-path", https.origin, { caCert: ca.certPath })
      const artifact = yield* download({ url: "/a.bin", remote: byPath, sha256: sha256Hex(body) })
      expect(artifact.finalUrl).toBe(https.url("/a.bin"))
      const inline = remote("inline", https.origin, { caCert: ca.cert, caMode: "replace" })
      yield* download({ url: https.url("/b.bin"), remote: inline })
      const error = failureOf(yield* tryDownload({ url: https.url("/c.bin") }))
      expect(error._tag).toBe("TlsError")
      expect(error.message).toMatch(/unknown certificate authority/)
      expect(error.message).toContain(https.url("/c.bin"))
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("hostname mismatch, SNI name, expired certificate, verify off", () =>
    Effect.gen(function* () {
      const namedServer = yield* serve({ key: named.key, cert: named.cert })
      const mismatch = failureOf(yield* tryDownload({ url: namedServer.url("/x"), remote: remote("m", namedServer.origin, { caCert: ca.cert }) }))
      expect(mismatch._tag).toBe("TlsError")
      expect(mismatch.message).toMatch(/hostname mismatch/)
      yield* download({ url: namedServer.url("/x"), remote: remote("sni", namedServer.origin, { caCert: ca.cert, serverName: "repo.test" }) })

      const old = yield* serve({ key: expired.key, cert: expired.cert })
      const expiredError = failureOf(yield* tryDownload({ url: old.url("/x"), remote: remote("e", old.origin, { caCert: ca.cert }) }))
      expect(expiredError._tag).toBe("TlsError")
      expect(expiredError.message).toMatch(/expired/)
      const insecure = yield* download({ url: old.url("/x"), remote: remote("insecure", old.origin, { verify: false }) })
      expect(insecure.size).toBe(body.length)
      expect(yield* expectNothingLeft).toEqual({ ...nothingLeft, objects: 1, catalogued: 1 })
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("minimum TLS version: a TLS 1.2-only server is refused with minVersion TLSv1.3", () =>
    Effect.gen(function* () {
      const old = yield* serve({ key: server.key, cert: server.cert, maxVersion: "TLSv1.2" })
      yield* download({ url: old.url("/ok"), remote: remote("v12", old.origin, { caCert: ca.cert, minVersion: "TLSv1.2" }) })
      const error = failureOf(
        yield* tryDownload({ url: old.url("/no"), remote: remote("v13", old.origin, { caCert: ca.cert, minVersion: "TLSv1.3" }) })
      )
      expect(error._tag).toBe("TlsError")
      expect(error.message).toMatch(/TLS version|protocol/)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  // Under TLS 1.3 the server's refusal arrives as an alert after the handshake; under 1.2 inside it.
  it.scopedLive("TLS 1.2 server requiring a client certificate: refused without one", () =>
    Effect.gen(function* () {
      const mtls = yield* serve({ key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true, maxVersion: "TLSv1.2" })
      const without = failureOf(yield* tryDownload({ url: mtls.url("/x"), remote: remote("anon12", mtls.origin, { caCert: ca.cert }) }))
      expect(without._tag).toBe("TlsError")
      expect(without.message).toMatch(/client certificate/)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a server requiring a client certificate: refused without, accepted with, key never printed", () =>
    Effect.gen(function* () {
      const mtls = yield* serve({ key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true })
      const without = failureOf(yield* tryDownload({ url: mtls.url("/x"), remote: remote("anon", mtls.origin, { caCert: ca.cert }) }))
      expect(without._tag).toBe("TlsError")
      expect(without.message).toMatch(/client certificate/)
      const stranger = failureOf(
        yield* tryDownload({
          url: mtls.url("/x"),
          remote: remote("stranger", mtls.origin, {
            caCert: ca.cert,
            clientCert: strangerClient.cert,
            clientKey: Redacted.make(strangerClient.keyPath)
          })
        })
      )
      // Node's server closes without an alert; the probe of a fresh connection tells why (see tlsRefusals.test.ts)
      expect(stranger._tag).toBe("TlsError")
      expect(stranger.message).toMatch(/did not accept our client certificate/)
      const withCert = remote("mtls", mtls.origin, {
        caCert: ca.certPath,
        clientCert: client.certPath,
        clientKey: Redacted.make(client.key)
      })
      const artifact = yield* download({ url: mtls.url("/x"), remote: withCert })
      expect(artifact.size).toBe(body.length)
      const events = yield* (yield* CollectedProgress).events
      const keyLine = client.key.split("\n")[1]!
      expect(leaks(keyLine, [without, stranger, withCert, events, artifact, String(withCert)])).toEqual([])
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("remotes with equal TLS settings share one pool and its connections", () =>
    Effect.gen(function* () {
      const https = yield* serve({ key: server.key, cert: server.cert })
      const pools = yield* HttpPools
      const before = pools.count()
      const a = remote("mirror-a", https.origin, { caCert: ca.cert })
      const b = remote("mirror-b", https.origin, { caCert: ca.cert })
      for (let i = 0; i < 5; i++) {
        yield* download({ url: `/a${i}`, remote: a })
        yield* download({ url: `/b${i}`, remote: b })
      }
      expect(pools.count()).toBe(before + 1)
      expect(https.stats.requests.length).toBe(10)
      // undici may open a second socket for the second request while the first is being released
      const shared = https.stats.connections
      expect(shared).toBeLessThanOrEqual(2)
      const c = remote("other-settings", https.origin, { caCert: ca.cert, minVersion: "TLSv1.3" })
      yield* download({ url: "/c", remote: c })
      expect(pools.count()).toBe(before + 2)
      expect(https.stats.connections).toBe(shared + 1)
      console.log(`pool sharing: 10 downloads over 2 remotes with equal TLS settings → ${shared} connection(s); a third setting → 1 more pool, 1 more connection`)
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
