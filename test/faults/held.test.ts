/**
 * Issue 11, the network faults that held, through the built CLI against real loopback servers: resets mid-body
 * (with and without Range), lying Content-Length, oversize bodies, stalls, 429/503 with Retry-After, redirect
 * loops and chains, https→http, credentials across origins and a gzip bomb. One manifest runs the table in one
 * process; each case has its own server, so the bytes and requests it saw are its own.
 * (The same behaviours at library level: test/network/resume.test.ts, basics.test.ts, proxyAuthRedirects.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type CliResult, jsonLines, runCli, sha256Hex, tempDir } from "../cli/helpers.js"
import { makeCa } from "../support/certs.js"
import {
  damagedObjects,
  forbiddenIn,
  gzipBomb,
  homeState,
  lyingLength,
  redirectTo,
  refuseOnceWithRetryAfter,
  routes,
  serve,
  stallAfterHeaders,
  stallBeforeHeaders,
  stallOnceAt,
  unsizedBody
} from "../support/faults.js"
import { bytesOf, type Handler, rangeHandler, startServer, type TestServer } from "../support/servers.js"

const mib = 1024 * 1024
/**
 * A body of its own per case (the same sha256 twice in one batch would share one download), larger than the
 * one-piece limit (256 KiB), so bodies stream and a cut can resume.
 */
let seed = 10
const fresh = () => bytesOf(mib + 4321, ++seed)
const bomb = gzipBomb(512 * mib)
const ca = makeCa()
const leaf = ca.issue({ commonName: "localhost" })
const work = tempDir("cargohold-faults-")
const servers: Array<TestServer> = []

const server = async (handler: Handler, tls = false) => {
  const started = await startServer(handler, tls ? { tls: { key: leaf.key, cert: leaf.cert } } : {})
  servers.push(started)
  return started
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
  ca.remove()
  work.remove()
})

interface Case {
  readonly name: string
  readonly handler: Handler
  readonly tls?: boolean
  /** The manifest entry besides its URL. */
  readonly entry: { readonly sha256?: string; readonly size?: number }
  /** `ok`, or the error tag and a pattern its message matches. */
  readonly outcome: "ok" | { readonly tag: string; readonly message: RegExp }
  /** What the case's own server must have seen. */
  readonly check?: (seen: TestServer) => void
  /**
   * Runs in the batch with the short `--idle-timeout`; the others keep the default (30 s), so a slow moment of a
   * loaded machine cannot turn their answers into timeouts.
   */
  readonly idle?: true
}

const idleSeconds = 1.5
/** A case with a body of its own. */
const withBody = (make: (body: Buffer) => Case): Case => make(fresh())
const gapsBetweenRequests = (seen: TestServer) => seen.stats.requests.slice(1).map((r, i) => r.epochMs - seen.stats.requests[i]!.epochMs)

const cases: ReadonlyArray<Case> = [
  withBody((big) => ({
    name: "reset mid-body, Range supported: resumed, ≈ 1.0× the size served",
    handler: rangeHandler(big, { etag: '"v1"', cutAt: big.length >> 1 }),
    entry: { sha256: sha256Hex(big), size: big.length },
    outcome: "ok",
    check: (seen) => {
      expect(seen.stats.requests.map((r) => r.headers.range)).toEqual([undefined, `bytes=${big.length >> 1}-`])
      expect(seen.stats.bytesServed / big.length).toBeGreaterThanOrEqual(1)
      expect(seen.stats.bytesServed / big.length).toBeLessThan(1.05)
    }
  })),
  withBody((big) => ({
    name: "reset mid-body, no Range support: started over (≈ 1.5× served), verified",
    handler: rangeHandler(big, { cutAt: big.length >> 1, ignoreRange: true }),
    entry: { sha256: sha256Hex(big), size: big.length },
    outcome: "ok",
    check: (seen) => {
      expect(seen.stats.requests.map((r) => r.headers.range)).toEqual([undefined, undefined])
      expect(seen.stats.bytesServed / big.length).toBeGreaterThan(1.45)
      expect(seen.stats.bytesServed / big.length).toBeLessThan(1.55)
    }
  })),
  withBody((big) => ({
    name: "Content-Length longer than the body: TransferError",
    handler: lyingLength(big, big.length + 1000),
    entry: { sha256: sha256Hex(big) },
    outcome: { tag: "TransferError", message: new RegExp(`broke after ${big.length} bytes`) }
  })),
  withBody((big) => ({
    name: "Content-Length longer than the body and than --size: SizeMismatch before the body, not retried",
    handler: lyingLength(big, big.length + 1000),
    entry: { sha256: sha256Hex(big), size: big.length },
    outcome: { tag: "SizeMismatch", message: new RegExp(`expected ${big.length} bytes, stopped at ${big.length + 1000}`) },
    check: (seen) => expect(seen.stats.requests.length).toBe(1)
  })),
  withBody((big) => ({
    name: "Content-Length shorter than the body: only the announced bytes count, DigestMismatch",
    handler: lyingLength(big, 1000),
    entry: { sha256: sha256Hex(big) },
    outcome: { tag: "DigestMismatch", message: new RegExp(sha256Hex(big.subarray(0, 1000))) }
  })),
  withBody((big) => ({
    name: "Content-Length shorter than the body and --size: SizeMismatch",
    handler: lyingLength(big, 1000),
    entry: { size: big.length },
    outcome: { tag: "SizeMismatch", message: new RegExp(`expected ${big.length} bytes, got 1000`) }
  })),
  {
    name: "an unsized body larger than the size given: SizeMismatch, stopped within a few chunks",
    handler: unsizedBody(64 * mib),
    entry: { size: 100_000 },
    outcome: { tag: "SizeMismatch", message: /larger than expected: expected 100000 bytes/ },
    check: (seen) => {
      expect(seen.stats.requests.length).toBe(1)
      // what the socket buffers took before the client stopped reading, not the 64 MiB
      expect(seen.stats.bytesServed).toBeLessThan(16 * mib)
    }
  },
  withBody((big) => ({
    name: "silence mid-body with Range: TimeoutError (idle-read) after --idle-timeout, then resumed",
    idle: true,
    handler: stallOnceAt(big, big.length >> 2, rangeHandler(big, { etag: '"stall"' })),
    entry: { sha256: sha256Hex(big), size: big.length },
    outcome: "ok",
    check: (seen) => {
      expect(seen.stats.requests.map((r) => r.headers.range)).toEqual([undefined, `bytes=${big.length >> 2}-`])
      expect(gapsBetweenRequests(seen)[0]).toBeGreaterThanOrEqual(idleSeconds * 1000 - 50)
      expect(seen.stats.bytesServed / big.length).toBeLessThan(1.05)
    }
  })),
  withBody((big) => ({
    name: "headers then silence: TimeoutError (idle-read) after --idle-timeout",
    idle: true,
    handler: stallAfterHeaders(big.length),
    entry: { size: big.length },
    outcome: { tag: "TimeoutError", message: new RegExp(`idle-read timeout after ${idleSeconds * 1000} ms`) },
    check: (seen) => {
      expect(seen.stats.requests.length).toBe(2)
      for (const gap of gapsBetweenRequests(seen)) expect(gap).toBeGreaterThanOrEqual(idleSeconds * 1000 - 50)
    }
  })),
  {
    name: "no headers at all: TimeoutError (response) after --idle-timeout",
    idle: true,
    handler: stallBeforeHeaders,
    entry: {},
    outcome: { tag: "TimeoutError", message: new RegExp(`response timeout after ${idleSeconds * 1000} ms`) },
    check: (seen) => {
      expect(seen.stats.requests.length).toBe(2)
      for (const gap of gapsBetweenRequests(seen)) expect(gap).toBeGreaterThanOrEqual(idleSeconds * 1000 - 50)
    }
  },
  withBody((big) => ({
    name: "429 with Retry-After in seconds: waited, then ok",
    handler: refuseOnceWithRetryAfter(429, () => "2", serve(big)),
    entry: { sha256: sha256Hex(big) },
    outcome: "ok",
    check: (seen) => {
      expect(seen.stats.requests.length).toBe(2)
      expect(gapsBetweenRequests(seen)[0]).toBeGreaterThanOrEqual(1950)
    }
  })),
  withBody((big) => ({
    name: "503 with Retry-After as an HTTP-date: waited until then, then ok",
    // 3 s ahead at one-second resolution: at least 2 s from the request
    handler: refuseOnceWithRetryAfter(503, () => new Date(Date.now() + 3000).toUTCString(), serve(big)),
    entry: { sha256: sha256Hex(big) },
    outcome: "ok",
    check: (seen) => {
      expect(seen.stats.requests.length).toBe(2)
      expect(gapsBetweenRequests(seen)[0]).toBeGreaterThanOrEqual(1950)
    }
  })),
  {
    name: "a redirect loop: RedirectError, no request after the loop closes",
    handler: routes({ "/case": redirectTo("/b"), "/b": redirectTo("/case") }),
    entry: {},
    outcome: { tag: "RedirectError", message: /redirect loop/ },
    check: (seen) => expect(seen.stats.requests.map((r) => r.url)).toEqual(["/case", "/b"])
  },
  {
    name: "too many redirects: RedirectError after 10 hops",
    handler: (request, response, stats) => {
      const hop = Number(/\d+$/.exec(request.url ?? "")?.[0] ?? 0)
      redirectTo(`/case${hop + 1}`)(request, response, stats)
    },
    entry: {},
    outcome: { tag: "RedirectError", message: /more than 10 redirects/ },
    check: (seen) => expect(seen.stats.requests.length).toBe(11)
  },
  {
    name: "https → http downgrade: RedirectError, the http URL never asked",
    tls: true,
    handler: redirectTo("http://127.0.0.1:9/never"),
    entry: {},
    outcome: { tag: "RedirectError", message: /https to http downgrade refused/ },
    check: (seen) => expect(seen.stats.requests.length).toBe(1)
  },
  {
    name: "gzip bomb (Content-Encoding: gzip, 512 MiB of zeros inflated): identity asked, raw bytes stored",
    handler: serve(bomb, { "content-encoding": "gzip", "content-type": "application/octet-stream" }),
    entry: { sha256: sha256Hex(bomb), size: bomb.length },
    outcome: "ok",
    check: (seen) => expect(seen.stats.requests[0]!.headers["accept-encoding"]).toBe("identity")
  }
]

describe("network faults that held, through the CLI", () => {
  const homes = { idle: join(work.path, "home-idle"), other: join(work.path, "home") }
  const urls = new Map<string, Case>()
  const seenBy = new Map<Case, TestServer>()
  let results: ReadonlyArray<CliResult>

  beforeAll(async () => {
    const entries = { idle: [] as Array<string>, other: [] as Array<string> }
    for (const c of cases) {
      const started = await server(c.handler, c.tls)
      const url = started.url("/case")
      urls.set(url, c)
      seenBy.set(c, started)
      entries[c.idle ? "idle" : "other"].push(JSON.stringify({ url, ...c.entry }))
    }
    const run = (batch: "idle" | "other", extra: ReadonlyArray<string>) => {
      const manifest = join(work.path, `held-${batch}.jsonl`)
      writeFileSync(manifest, `${entries[batch].join("\n")}\n`)
      return runCli(["fetch", "-i", manifest, "--json", "--home", homes[batch], "--retries", "1", "--ca-cert", ca.certPath, ...extra])
    }
    results = await Promise.all([run("idle", ["--idle-timeout", String(idleSeconds)]), run("other", [])])
  })
  const lines = () => results.flatMap((result) => jsonLines(result.stdout))

  it("exit 1, one typed result per case, no internal error or stack trace", () => {
    for (const result of results) {
      expect(forbiddenIn(result)).toEqual([])
      expect(result.code).toBe(1)
    }
    expect(lines().map((line) => line.url).sort()).toEqual([...urls.keys()].sort())
  })

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const line = lines().find((l) => urls.get(String(l.url)) === c)
    expect(line).toBeDefined()
    if (c.outcome === "ok") {
      expect(line).toMatchObject({ status: "ok", sha256: c.entry.sha256 })
    } else {
      expect(line).toMatchObject({ status: "failed", error: { _tag: c.outcome.tag } })
      expect((line!.error as { message: string }).message).toMatch(c.outcome.message)
    }
    c.check?.(seenBy.get(c)!)
  })

  it("the stores hold exactly the verified artifacts, raw bytes; nothing partial, no temp file, catalogs agree", () => {
    for (const batch of ["idle", "other"] as const) {
      const home = homes[batch]
      const okSha = cases.filter((c) => c.outcome === "ok" && (c.idle === true) === (batch === "idle")).map((c) => c.entry.sha256!)
      const state = homeState(home)
      expect(state.objects.map((key) => key.split("/").pop()).sort()).toEqual(okSha.sort())
      expect(state.temps).toEqual([])
      expect(state).toMatchObject({ artifacts: okSha.length, locations: okSha.length, badLocations: 0 })
      expect(damagedObjects(home)).toEqual([])
    }
    // the bomb is stored as it came over the wire: its gzip bytes, not 512 MiB of zeros
    const stored = homeState(homes.other).objects.find((key) => key.endsWith(sha256Hex(bomb)))!
    expect(readFileSync(join(homes.other, "store", stored)).length).toBe(bomb.length)
  })
})

describe("single-artifact flags and credentials, through the CLI", () => {
  it("--size smaller than an unsized body: SizeMismatch, the server stopped early, nothing stored", async () => {
    const seen = await server(unsizedBody(64 * mib))
    const home = join(work.path, "home-size")
    const result = await runCli(["fetch", seen.url("/endless"), "--size", "5000", "--json", "--home", home])
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(1)
    expect(jsonLines(result.stdout)).toMatchObject([{ status: "failed", error: { _tag: "SizeMismatch" } }])
    expect(seen.stats.requests.length).toBe(1)
    expect(seen.stats.bytesServed).toBeLessThan(16 * mib)
    expect(homeState(home)).toMatchObject({ objects: [], temps: [], artifacts: 0, locations: 0 })
  })

  it("Authorization, Cookie and Proxy-Authorization never reach another origin; auth only the remote's origin", async () => {
    const secret = "pa55-w0rd-never-elsewhere"
    const target = await server(serve(fresh()))
    const first = await server(redirectTo(target.url("/moved")))
    const home = join(work.path, "home-creds")
    const result = await runCli(
      [
        "fetch", first.url("/start"), target.url("/direct"), "--json", "--home", home, "--user", "alice",
        "--password-env", "CARGOHOLD_TEST_PW", "--header", `Cookie: session=${secret}`, "--header",
        `Proxy-Authorization: Basic ${Buffer.from(`p:${secret}`).toString("base64")}`
      ],
      { env: { CARGOHOLD_TEST_PW: secret } }
    )
    expect(forbiddenIn(result)).toEqual([])
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout).map((l) => l.status)).toEqual(["ok", "ok"])
    const [asked] = first.stats.requests
    expect(asked!.headers.authorization).toBe(`Basic ${Buffer.from(`alice:${secret}`).toString("base64")}`)
    expect(asked!.headers.cookie).toBe(`session=${secret}`)
    const moved = target.stats.requests.find((r) => r.url === "/moved")!
    expect([moved.headers.authorization, moved.headers.cookie, moved.headers["proxy-authorization"]]).toEqual([
      undefined, undefined, undefined
    ])
    // the command line's credentials belong to the first URL's origin: a URL elsewhere gets no Authorization
    const direct = target.stats.requests.find((r) => r.url === "/direct")!
    expect(direct.headers.authorization).toBeUndefined()
    expect(`${result.stdout}${result.stderr}`).not.toContain(secret)
  })

  it("a stored remote's credentials go to its own origin only, never to a URL elsewhere fetched through it", async () => {
    const secret = "r3mote-t0ken-own-origin"
    const own = await server(serve(fresh()))
    const elsewhere = await server(serve(fresh()))
    const home = join(work.path, "home-remote")
    const env = { CARGOHOLD_TEST_TOKEN: secret }
    const added = await runCli(["remote", "add", "repo", own.url("/"), "--bearer-env", "CARGOHOLD_TEST_TOKEN", "--home", home], { env })
    expect(added.code).toBe(0)
    const result = await runCli(["fetch", "--remote", "repo", "/relative.bin", elsewhere.url("/absolute.bin"), "--json", "--home", home])
    for (const run of [added, result]) {
      expect(forbiddenIn(run)).toEqual([])
      expect(`${run.stdout}${run.stderr}`).not.toContain(secret)
    }
    expect(result.code).toBe(0)
    expect(own.stats.requests.map((r) => [r.url, r.headers.authorization])).toEqual([["/relative.bin", `Bearer ${secret}`]])
    expect(elsewhere.stats.requests.map((r) => [r.url, r.headers.authorization])).toEqual([["/absolute.bin", undefined]])
  })
})
