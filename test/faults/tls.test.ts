/**
 * Issue 11, bad TLS through the built CLI: an unknown CA, a hostname mismatch and an expired certificate are each a
 * TlsError saying why, asked once (not retried), with nothing stored; the same batch's trusted server is fetched.
 * Certificates are made by openssl in the test (test/support/certs.ts). Library level: test/network/tls.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { join } from "node:path"
import { type CliResult, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { makeCa } from "../support/certs.js"
import { forbiddenIn, homeState, serve } from "../support/faults.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"

const ca = makeCa()
const stranger = makeCa("a CA nobody trusts")
const work = tempDir("cargohold-faults-tls-")
const servers: Array<TestServer> = []
let seed = 40

interface TlsCase {
  readonly name: string
  readonly pem: { readonly key: string; readonly cert: string }
  /** undefined: fetched and verified. */
  readonly reason: RegExp | undefined
}

const cases: ReadonlyArray<TlsCase> = [
  { name: "a certificate of a trusted CA", pem: ca.issue({ commonName: "localhost" }), reason: undefined },
  {
    name: "unknown CA",
    pem: stranger.issue({ commonName: "localhost" }),
    reason: /TLS failure on .*: unknown certificate authority/
  },
  {
    name: "hostname mismatch",
    pem: ca.issue({ commonName: "repo.test", dns: ["repo.test"], ips: [] }),
    reason: /TLS failure on .*: hostname mismatch/
  },
  {
    name: "expired certificate",
    pem: ca.issue({ commonName: "localhost", expired: true }),
    reason: /TLS failure on .*: the server's certificate has expired/
  }
]

const home = join(work.path, "home")
const byCase = new Map<TlsCase, { server: TestServer; body: Buffer }>()
let result: CliResult

beforeAll(async () => {
  for (const c of cases) {
    const body = bytesOf(50_000, ++seed)
    const server = await startServer(serve(body), { tls: { key: c.pem.key, cert: c.pem.cert } })
    servers.push(server)
    byCase.set(c, { server, body })
  }
  const urls = cases.map((c) => byCase.get(c)!.server.url("/artifact.bin"))
  result = await runCli(["fetch", ...urls, "--ca-cert", ca.certPath, "--json", "--home", home])
})

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
  ca.remove()
  stranger.remove()
  work.remove()
})

describe("TLS faults through the CLI", () => {
  it("exit 1 with one result per server, no internal error or stack trace", () => {
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(1)
    expect(jsonLines(result.stdout)).toHaveLength(cases.length)
  })

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const { server, body } = byCase.get(c)!
    const line = jsonLines(result.stdout).find((l) => l.url === server.url("/artifact.bin"))
    if (c.reason === undefined) {
      expect(line).toMatchObject({ status: "ok", sha256: sha256Hex(body), size: body.length })
      expect(server.stats.requests.length).toBe(1)
      return
    }
    expect(line).toMatchObject({ status: "failed", error: { _tag: "TlsError" } })
    expect((line!.error as { message: string }).message).toMatch(c.reason)
    // refused at the handshake: no request reached the server, and it was not tried again
    expect(server.stats.requests.length).toBe(0)
    expect(server.stats.connections).toBe(1)
  })

  it("only the trusted server's artifact is stored and catalogued", () => {
    const state = homeState(home)
    expect(state.objects.map((key) => key.split("/").pop())).toEqual([sha256Hex(byCase.get(cases[0]!)!.body)])
    expect(state).toMatchObject({ temps: [], artifacts: 1, locations: 1, badLocations: 0 })
  })
})
