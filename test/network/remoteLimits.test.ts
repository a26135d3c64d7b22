/**
 * Issue 3: a remote's own connection limit, and `file://` sources confined to a remote's `fileRoots`.
 */
import { describe, expect, it } from "@effect/vitest"
import { download, Remote } from "@cargohold/core"
import { fileAccessProblem } from "@cargohold/core/internal/remote/policy"
import { layerFileSource } from "@cargohold/node"
import { Effect } from "effect"
import { createServer, type Socket } from "node:net"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { failureOf, sha256Hex, tryDownload } from "../support/downloads.js"
import { layerNetworkTest } from "../support/layers.js"
import { serverScoped } from "../support/servers.js"

/** A server answering each request after 40 ms, counting the most requests it had in flight at once. */
const slowServer = Effect.gen(function* () {
  let inFlight = 0
  let most = 0
  const server = yield* serverScoped((req, res) => {
    inFlight += 1
    most = Math.max(most, inFlight)
    setTimeout(() => {
      inFlight -= 1
      res.end(`body ${req.url}`)
    }, 40)
  })
  return { server, most: () => most }
})

describe("remote limits and file roots", () => {
  it.scopedLive("a remote's maxConnections bounds its requests in flight", () =>
    Effect.gen(function* () {
      const { server, most } = yield* slowServer
      const remote = new Remote({ name: "narrow", url: server.origin, headers: {}, limits: { maxConnections: 2 } })
      yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => `/n${i}`),
        (url) => download({ url, remote }),
        { concurrency: "unbounded" }
      )
      expect(most()).toBe(2)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a redirect target counts against its own host's limit, whichever hosts redirect to it", () =>
    Effect.gen(function* () {
      const { server: target, most } = yield* slowServer
      const redirecting = () =>
        serverScoped((req, res) => {
          res.writeHead(302, { location: target.url(req.url ?? "/") })
          res.end()
        })
      const first = yield* redirecting()
      const second = yield* redirecting()
      const urls = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? first : second).url(`/r${i}`))
      yield* Effect.forEach(urls, (url) => download({ url }), { concurrency: "unbounded" })
      expect(target.stats.requests.length).toBe(12)
      // 2 per host: without moving the permit, the two redirecting hosts would let 4 requests at the target at once
      expect(most()).toBe(2)
    }).pipe(Effect.provide(layerNetworkTest({ limits: { global: 64, perHost: 2 }, http: { connectionsPerOrigin: 16 } })))
  )

  it.scopedLive("file:// only under the remote's roots; no remote: any path; no roots: none", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "cargohold-roots-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const inside = join(dir, "repo", "a.rpm")
      const outside = join(dir, "secret.txt")
      yield* Effect.sync(() => {
        rmSync(join(dir, "repo"), { recursive: true, force: true })
        mkdirSync(join(dir, "repo"))
        writeFileSync(inside, "package bytes")
        writeFileSync(outside, "not yours")
      })
      const rootUrl = pathToFileURL(join(dir, "repo")).href
      const confined = new Remote({ name: "local", url: `${rootUrl}/`, headers: {}, fileRoots: [join(dir, "repo")] })
      const artifact = yield* download({ url: "a.rpm", remote: confined, sha256: sha256Hex("package bytes") })
      expect(artifact.url).toBe(pathToFileURL(inside).href)
      const escaped = failureOf(yield* tryDownload({ url: pathToFileURL(outside).href, remote: confined }))
      expect(escaped._tag).toBe("InvalidRequest")
      expect(escaped.message).toMatch(/outside the allowed roots/)
      const encoded = failureOf(yield* tryDownload({ url: `${rootUrl}/x%2F..%2F..%2Fsecret.txt`, remote: confined }))
      expect(encoded._tag).toBe("InvalidRequest")
      const sibling = failureOf(yield* tryDownload({ url: pathToFileURL(`${join(dir, "repo")}-other/x`).href, remote: confined }))
      expect(sibling._tag).toBe("InvalidRequest")
      const pluginRemote = new Remote({ name: "plugin", url: "https://example.test/" })
      const none = failureOf(yield* tryDownload({ url: pathToFileURL(inside).href, remote: pluginRemote }))
      expect(none.message).toMatch(/allows no file:\/\/ sources/)
      const free = yield* download({ url: pathToFileURL(outside).href })
      expect(free.size).toBe("not yours".length)
      expect(fileAccessProblem(new URL("file://otherhost/etc/passwd"))).toMatch(/host/)
    }).pipe(Effect.provide(layerNetworkTest()), Effect.provide(layerFileSource({ roots: "any" })))
  )

  it.scopedLive("a remote's connect and idle timeouts: a TLS handshake that never ends, a body that stalls", () =>
    Effect.gen(function* () {
      const sockets = new Set<Socket>()
      const silent = createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          silent.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () =>
          Effect.async<void>((resume) => {
            for (const s of sockets) s.destroy()
            silent.close(() => resume(Effect.void))
          })
      )
      const port = (silent.address() as { port: number }).port
      const remote = new Remote({
        name: "impatient",
        url: `https://127.0.0.1:${port}/`,
        // undici checks connect timeouts on a ~0.5 s tick; the idle watchdog must not fire first
        timeouts: { connectMs: 300, idleMs: 5000 },
        retry: { attempts: 2, baseDelayMs: 10 }
      })
      const started = Date.now()
      const error = failureOf(yield* tryDownload({ url: "x", remote }))
      expect(error._tag).toBe("TimeoutError")
      if (error._tag === "TimeoutError") {
        expect(error.phase).toBe("connect")
        expect(error.timeoutMs).toBe(300)
      }
      expect(Date.now() - started).toBeGreaterThanOrEqual(600)
      const stalling = yield* serverScoped((_req, res) => {
        res.writeHead(200, { "content-length": "100000" })
        res.write("a few bytes")
      })
      const idle = failureOf(
        yield* tryDownload({ url: "/s", remote: new Remote({ name: "idle", url: stalling.origin, timeouts: { idleMs: 300 }, retry: { attempts: 1 } }) })
      )
      expect(idle._tag).toBe("TimeoutError")
      if (idle._tag === "TimeoutError") expect(idle.phase).toBe("idle-read")
      expect(stalling.stats.requests.length).toBe(1)
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
