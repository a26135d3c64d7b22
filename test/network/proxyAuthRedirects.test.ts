/**
 * Issue 3: proxies (forwarding, CONNECT, basic auth, 407, environment variables), auth per remote, and
 * redirects (cross-origin credential dropping, loops, https→http), with secrets never in any output.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { download, Remote } from "@cargohold/core"
import { Effect, Redacted } from "effect"
import { makeCa } from "../support/certs.js"
import { failureOf, sha256Hex, tryDownload } from "../support/downloads.js"
import { CollectedProgress, expectNothingLeft, layerNetworkTest } from "../support/layers.js"
import { startProxy } from "../support/proxy.js"
import { leaks } from "../support/secrets.js"
import { bytesOf, serverScoped } from "../support/servers.js"

const ca = makeCa()
const leaf = ca.issue({ commonName: "localhost" })
afterAll(() => ca.remove())

const body = bytesOf(40 * 1024)
const other = bytesOf(40 * 1024, 99)
/** A different body per path, so no download is answered from the store. */
const bodyFor = (path: string | undefined) => Buffer.concat([body, Buffer.from(path ?? "")])
const proxySecret = "pr0xy-s3cret-\u00e9"
const userSecret = "us3r-s3cret-pw"
const tokenSecret = "t0ken-s3cret-abc"
const nothingLeft = { objects: 0, temps: 0, catalogued: 0 }

const proxyScoped = (auth?: { username: string; password: string }) =>
  Effect.acquireRelease(Effect.promise(() => startProxy(auth)), (p) => Effect.promise(() => p.close()))

describe("proxies", () => {
  it.scopedLive("http via a forwarding proxy and https via CONNECT, with proxy basic auth", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyScoped({ username: "alice", password: proxySecret })
      const plain = yield* serverScoped((_req, res) => res.end(body))
      const secure = yield* serverScoped((_req, res) => res.end(other), { tls: { key: leaf.key, cert: leaf.cert } })
      const proxied = { url: proxy.url, username: "alice", password: Redacted.make(proxySecret) }
      const httpRemote = new Remote({ name: "plain", url: plain.origin, headers: {}, proxy: proxied })
      const httpsRemote = new Remote({ name: "secure", url: secure.origin, headers: {}, proxy: proxied, tls: { caCert: ca.cert } })
      yield* download({ url: "/a", remote: httpRemote, sha256: sha256Hex(body) })
      yield* download({ url: "/b", remote: httpsRemote, sha256: sha256Hex(other) })
      expect(proxy.seen.map((s) => [s.method, s.authorized])).toEqual([
        ["GET", true],
        ["CONNECT", true]
      ])
      expect(proxy.seen[0]!.target).toBe(plain.url("/a"))
      expect(proxy.seen[1]!.target).toBe(`127.0.0.1:${secure.port}`)
      expect(plain.stats.requests[0]!.headers["proxy-authorization"]).toBeUndefined()
      expect(secure.stats.requests.length).toBe(1)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("wrong proxy credentials: a clear ProxyError (407), one try, no secret in any output", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyScoped({ username: "alice", password: "the right one" })
      const plain = yield* serverScoped((_req, res) => res.end(body))
      const secure = yield* serverScoped((_req, res) => res.end(body), { tls: { key: leaf.key, cert: leaf.cert } })
      const wrong = { url: proxy.url, username: "alice", password: Redacted.make(proxySecret) }
      const a = new Remote({ name: "a", url: plain.origin, headers: {}, proxy: wrong })
      const b = new Remote({ name: "b", url: secure.origin, headers: {}, proxy: wrong, tls: { caCert: ca.cert } })
      const forwarded = failureOf(yield* tryDownload({ url: "/x", remote: a }))
      const tunnelled = failureOf(yield* tryDownload({ url: "/y", remote: b }))
      for (const error of [forwarded, tunnelled]) {
        expect(error._tag).toBe("ProxyError")
        expect(error.message).toMatch(/407/)
        expect(error.message).toContain(proxy.url)
      }
      expect(proxy.seen.length).toBe(2)
      expect(plain.stats.requests.length + secure.stats.requests.length).toBe(0)
      const events = yield* (yield* CollectedProgress).events
      const encoded = Buffer.from(`alice:${proxySecret}`).toString("base64")
      expect(leaks(proxySecret, [forwarded, tunnelled, events, a, b])).toEqual([])
      expect(leaks(encoded, [forwarded, tunnelled, events, a, b])).toEqual([])
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("HTTP_PROXY is honoured when no proxy is configured, NO_PROXY exempts a host", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyScoped()
      const viaProxy = yield* serverScoped((_req, res) => res.end(other))
      const direct = yield* serverScoped((_req, res) => res.end(body))
      const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY }
      process.env.HTTP_PROXY = proxy.url
      process.env.NO_PROXY = `127.0.0.1:${direct.port}`
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v)
        })
      )
      yield* Effect.gen(function* () {
        yield* download({ url: viaProxy.url("/p") })
        yield* download({ url: direct.url("/d") })
      }).pipe(Effect.provide(layerNetworkTest()))
      expect(proxy.seen.map((s) => s.target)).toEqual([viaProxy.url("/p")])
      expect(direct.stats.requests.length).toBe(1)
    })
  )
})

describe("auth and redirects", () => {
  it.scopedLive("basic and bearer auth; the second origin of a redirect never sees Authorization or cookies", () =>
    Effect.gen(function* () {
      const second = yield* serverScoped((req, res) => res.end(bodyFor(req.url)))
      const first = yield* serverScoped((req, res) => {
        const auth = req.headers.authorization
        const ok =
          auth === `Basic ${Buffer.from(`bob:${userSecret}`).toString("base64")}` || auth === `Bearer ${tokenSecret}`
        if (!ok) return res.writeHead(401).end()
        if (req.url === "/direct") return res.end(bodyFor(req.url))
        res.writeHead(302, { location: second.url(`/moved${req.url}`) }).end()
      })
      const basic = new Remote({
        name: "basic",
        url: first.origin,
        headers: { cookie: "session=abc" },
        auth: { _tag: "Basic", username: "bob", password: Redacted.make(userSecret) }
      })
      const bearer = new Remote({ name: "bearer", url: first.origin, headers: {}, auth: { _tag: "Bearer", token: Redacted.make(tokenSecret) } })
      yield* download({ url: "/direct", remote: basic })
      const moved = yield* download({ url: "/file", remote: bearer, sha256: sha256Hex(bodyFor("/moved/file")) })
      expect(moved.finalUrl).toBe(second.url("/moved/file"))
      expect(moved.url).toBe(first.url("/file"))
      const viaBasic = yield* download({ url: "/other", remote: basic })
      expect(viaBasic.finalUrl).toBe(second.url("/moved/other"))
      for (const seen of second.stats.requests) {
        expect(seen.headers.authorization).toBeUndefined()
        expect(seen.headers.cookie).toBeUndefined()
      }
      expect(first.stats.requests.every((r) => r.headers.authorization !== undefined)).toBe(true)
      const refused = failureOf(
        yield* tryDownload({
          url: "/direct",
          remote: new Remote({ name: "wrong", url: first.origin, headers: {}, auth: { _tag: "Basic", username: "bob", password: Redacted.make(`${userSecret}x`) } })
        })
      )
      expect(refused._tag).toBe("HttpStatusError")
      // an absolute URL on another origin gets no credentials from the remote
      const before = second.stats.requests.length
      yield* download({ url: second.url("/elsewhere"), remote: bearer })
      expect(second.stats.requests[before]!.headers.authorization).toBeUndefined()
      const events = yield* (yield* CollectedProgress).events
      for (const secret of [userSecret, tokenSecret]) {
        expect(leaks(secret, [refused, events, basic, bearer, moved])).toEqual([])
      }
    }).pipe(Effect.provide(layerNetworkTest()))
  )

  it.scopedLive("a redirect loop, too many redirects and an https→http downgrade are typed errors", () =>
    Effect.gen(function* () {
      const plain = yield* serverScoped((req, res) => {
        if (req.url === "/loop-a") return res.writeHead(301, { location: "/loop-b" }).end()
        if (req.url === "/loop-b") return res.writeHead(307, { location: "/loop-a" }).end()
        const hop = /^\/hop(\d+)$/.exec(req.url ?? "")
        if (hop !== null) return res.writeHead(302, { location: `/hop${Number(hop[1]) + 1}` }).end()
        res.end(body)
      })
      const secure = yield* serverScoped((_req, res) => res.writeHead(302, { location: plain.url("/plain") }).end(), {
        tls: { key: leaf.key, cert: leaf.cert }
      })
      const loop = failureOf(yield* tryDownload({ url: plain.url("/loop-a") }))
      expect(loop._tag).toBe("RedirectError")
      expect(loop.message).toMatch(/loop/)
      const many = failureOf(yield* tryDownload({ url: plain.url("/hop0") }))
      expect(many._tag).toBe("RedirectError")
      expect(many.message).toMatch(/more than 10/)
      const tls = { caCert: ca.cert }
      const strict = new Remote({ name: "strict", url: secure.origin, headers: {}, tls })
      const downgrade = failureOf(yield* tryDownload({ url: "/x", remote: strict }))
      expect(downgrade._tag).toBe("RedirectError")
      expect(downgrade.message).toMatch(/https to http/)
      expect(plain.stats.requests.filter((r) => r.url === "/plain").length).toBe(0)
      expect(yield* expectNothingLeft).toEqual(nothingLeft)
      const lenient = new Remote({ name: "lenient", url: secure.origin, headers: {}, tls, allowHttpsToHttp: true })
      const allowed = yield* download({ url: "/x", remote: lenient })
      expect(allowed.finalUrl).toBe(plain.url("/plain"))
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
