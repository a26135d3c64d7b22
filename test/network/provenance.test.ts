/**
 * Provenance per download: the peer address (ip:port), the TLS peer certificate's sha256 fingerprint and the
 * protocol are recorded in the catalog, over both transfer paths (the lean exchange and the platform HttpClient),
 * and `whereis` shows them. The fingerprint is compared with what `openssl x509 -fingerprint -sha256` prints for
 * the certificate the test server presents.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { download, Remote, whereis } from "@cargohold/core"
import { MemoryBackends } from "@cargohold/core/testing"
import { layerNode } from "@cargohold/node"
import { whereaboutsText } from "../../packages/cli/src/commands/catalog.js"
import { Effect, Option } from "effect"
import { makeCa } from "../support/certs.js"
import { sha256Hex } from "../support/downloads.js"
import { layerNetworkTest } from "../support/layers.js"
import { bytesOf, serverScoped } from "../support/servers.js"
import { tempDir } from "../node/helpers.js"

const ca = makeCa()
const server = ca.issue({ commonName: "localhost" })
const dir = tempDir("cargohold-provenance-")
afterAll(() => {
  ca.remove()
  dir.remove()
})

/** What openssl says the certificate's sha256 fingerprint is (`sha256 Fingerprint=AB:CD:…`). */
const opensslFingerprint = (certPath: string): string => {
  const out = execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", certPath], { encoding: "utf8" })
  return out.trim().split("=")[1]!
}

const body = bytesOf(200 * 1024, 9)
const serve = (tls: boolean) =>
  serverScoped((_req, res) => res.end(body), tls ? { tls: { key: server.key, cert: server.cert } } : {})

for (const transfer of ["lean", "generic"] as const) {
  describe(`provenance (${transfer} transfer)`, () => {
    it.scopedLive("https: peer address, the certificate's sha256 fingerprint (as openssl prints it), http/1.1", () =>
      Effect.gen(function* () {
        const https = yield* serve(true)
        const remote = new Remote({ name: "tls", url: https.origin, headers: {}, tls: { caCert: ca.cert } })
        yield* download({ url: "/a.bin", remote, sha256: sha256Hex(body) })
        const { catalog } = yield* MemoryBackends
        const [row] = yield* catalog.provenance
        expect(row?.peerAddress).toBe(`127.0.0.1:${https.port}`)
        expect(row?.tlsFingerprint).toBe(opensslFingerprint(server.certPath))
        expect(row?.protocol).toBe("http/1.1")
      }).pipe(Effect.provide(layerNetworkTest({ http: { transfer } })))
    )

    it.scopedLive("http: peer address and protocol, no fingerprint", () =>
      Effect.gen(function* () {
        const http = yield* serve(false)
        yield* download({ url: http.url("/b.bin") })
        const { catalog } = yield* MemoryBackends
        const [row] = yield* catalog.provenance
        expect(row?.peerAddress).toBe(`127.0.0.1:${http.port}`)
        expect(row?.tlsFingerprint).toBeUndefined()
        expect(row?.protocol).toBe("http/1.1")
      }).pipe(Effect.provide(layerNetworkTest({ http: { transfer } })))
    )
  })
}

describe("provenance in the SQLite catalog", () => {
  it.scopedLive("whereis shows peer, fingerprint and protocol of each download, newest first", () =>
    Effect.gen(function* () {
      const https = yield* serve(true)
      const remote = new Remote({ name: "tls", url: https.origin, headers: {}, tls: { caCert: ca.cert } })
      const artifact = yield* download({ url: "/c.bin", remote, sha256: sha256Hex(body) })
      const found = yield* whereis(artifact.sha256)
      const w = Option.getOrThrow(found)
      expect(w.downloads).toHaveLength(1)
      expect(w.downloads[0]).toMatchObject({
        url: https.url("/c.bin"),
        peerAddress: `127.0.0.1:${https.port}`,
        tlsFingerprint: opensslFingerprint(server.certPath),
        protocol: "http/1.1"
      })
      const text = whereaboutsText(w)
      expect(text).toContain(`peer 127.0.0.1:${https.port}`)
      expect(text).toContain(`tls sha256 ${opensslFingerprint(server.certPath)}`)
    }).pipe(
      Effect.provide(
        layerNode({
          catalog: pathToFileURL(join(dir.path, "catalog.db")).href.replace("file:", "sqlite:"),
          store: "memory:"
        })
      )
    )
  )
})
