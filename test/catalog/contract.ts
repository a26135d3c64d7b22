/**
 * The behaviour every Catalog backend shares: memory, SQLite and PostgreSQL run this same suite.
 */
import { Catalog, type CatalogError, Remotes, type Sha256, whereaboutsJson, whereis } from "@cargohold/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Layer, Option, Redacted } from "effect"
import { bearerRemote, digest, record, remoteWithSecrets, secrets, sha, unique } from "./fixtures.js"

export interface ContractTarget {
  /** An empty catalog (and the Remotes kept beside it) for one test. */
  readonly layer: () => Layer.Layer<Catalog | Remotes, CatalogError>
}

export const catalogContract = (name: string, target: ContractTarget) =>
  describe(`Catalog contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Catalog | Remotes>) => Effect.provide(effect, target.layer())

    it.live("records a download and looks it up", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const text = unique("a")
          const r = record(text, { digests: { sha256: sha(text), sha1: digest("sha1", text) as never }, etag: '"e1"' })
          yield* catalog.recordDownload(r)
          const entry = Option.getOrThrow(yield* catalog.lookup(r.sha256))
          expect(entry.artifact).toEqual({ sha256: r.sha256, size: r.size, digests: r.digests, firstSeen: r.at })
          expect(entry.locations).toEqual([
            { sha256: r.sha256, store: r.store, key: r.key, storedAt: r.at, verifiedAt: r.at, state: "ok" }
          ])
          expect(entry.sources).toEqual([
            { sha256: r.sha256, url: r.url, priority: 100, lastSuccess: r.at, consecutiveFailures: 0, etag: '"e1"' }
          ])
          expect(Option.isNone(yield* catalog.lookup(sha(unique("absent"))))).toBe(true)
        })
      )
    )

    it.live("is idempotent: one artifact, one location per store, one source per URL", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const text = unique("b")
          const first = record(text)
          const later = record(text, {
            at: new Date(1_700_000_100_000),
            digests: { sha256: sha(text), md5: digest("md5", text) as never },
            key: "other/key"
          })
          yield* catalog.recordDownload(first)
          yield* catalog.recordDownload(first)
          yield* catalog.recordDownload(later)
          yield* catalog.recordDownload(record(text, { store: "s3://bucket/p", at: new Date(1_700_000_200_000) }))
          const entry = Option.getOrThrow(yield* catalog.lookup(first.sha256))
          expect(entry.artifact.firstSeen).toEqual(first.at)
          expect(entry.artifact.digests).toEqual({ sha256: first.sha256, md5: digest("md5", text) })
          expect(entry.locations.map((l) => [l.store, l.key, l.storedAt.getTime(), l.verifiedAt?.getTime()])).toEqual([
            ["file:///store", "other/key", first.at.getTime(), later.at.getTime()],
            ["s3://bucket/p", first.key, 1_700_000_200_000, 1_700_000_200_000]
          ])
          expect(entry.sources.length).toBe(1)
          expect(entry.sources[0]!.lastSuccess).toEqual(new Date(1_700_000_200_000))
        })
      )
    )

    it.live("concurrent fibers recording the same artifact leave one row of each and no error", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const text = unique("c")
          const r = record(text)
          yield* Effect.forEach(
            Array.from({ length: 24 }, (_, i) => i),
            (i) => (i % 2 === 0 ? catalog.recordDownload(r) : catalog.recordDownloads([r, r])),
            { concurrency: "unbounded", discard: true }
          )
          const entry = Option.getOrThrow(yield* catalog.lookup(r.sha256))
          expect(entry.locations.length).toBe(1)
          expect(entry.sources.length).toBe(1)
        })
      )
    )

    it.live("records a batch larger than one statement, merging duplicates like one-by-one recording", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const prefix = unique("batch")
          const records = Array.from({ length: 5000 }, (_, i) =>
            record(`${prefix}-${i % 4000}`, { at: new Date(1_700_000_000_000 + i), url: `http://127.0.0.1/${prefix}/${i}` })
          )
          const before = yield* catalog.count()
          yield* catalog.recordDownloads(records)
          expect((yield* catalog.count()) - before).toBe(4000)
          const dup = Option.getOrThrow(yield* catalog.lookup(sha(`${prefix}-7`)))
          expect(dup.artifact.firstSeen).toEqual(new Date(1_700_000_000_007))
          expect(dup.locations[0]!.verifiedAt).toEqual(new Date(1_700_000_004_007))
          expect(dup.sources.map((s) => s.url)).toEqual([`http://127.0.0.1/${prefix}/4007`, `http://127.0.0.1/${prefix}/7`])
          const newest = yield* catalog.list({ limit: 3 })
          expect(newest.map((a) => a.sha256)).toEqual([3999, 3998, 3997].map((i) => sha(`${prefix}-${i}`)))
          const page = yield* catalog.list({ limit: 2, offset: 1 })
          expect(page.map((a) => a.sha256)).toEqual([3998, 3997].map((i) => sha(`${prefix}-${i}`)))
          expect((yield* catalog.list()).length).toBe(4000)
        })
      )
    )

    it.live("finds artifacts by any digest and by URL (asked for, final, or only declared)", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const text = unique("d")
          const digests = {
            sha256: sha(text),
            sha1: digest("sha1", text),
            md5: digest("md5", text),
            sha384: digest("sha384", text),
            sha512: digest("sha512", text)
          }
          const r = record(text, { digests: digests as never, finalUrl: `http://127.0.0.2/cdn/${text}` })
          yield* catalog.recordDownload(r)
          for (const [algorithm, hex] of Object.entries(digests)) {
            expect(yield* catalog.findByDigest(algorithm as never, hex.toUpperCase())).toEqual(Option.some(r.sha256))
          }
          expect(yield* catalog.findByDigest("md5", digest("md5", unique("x")))).toEqual(Option.none())
          // a known digest followed by text that is not hex names nothing (not the digest it starts with)
          expect(yield* catalog.findByDigest("sha1", `${digests.sha1}zz`)).toEqual(Option.none())
          expect(yield* catalog.findByDigest("sha1", `${digests.sha1}0`)).toEqual(Option.none())
          expect(yield* catalog.findByUrl(r.url)).toEqual(Option.some(r.sha256))
          expect(yield* catalog.findByUrl(r.finalUrl)).toEqual(Option.some(r.sha256))
          // the same URL later served other bytes: the most recent download wins
          const changed = record(unique("d2"), { url: r.url, finalUrl: r.url, at: new Date(1_700_000_500_000) })
          yield* catalog.recordDownload(changed)
          expect(yield* catalog.findByUrl(r.url)).toEqual(Option.some(changed.sha256))
          const lazy = sha(unique("lazy"))
          const lazyUrl = `http://127.0.0.1/${unique("declared")}`
          yield* catalog.addSources(lazy, [{ url: lazyUrl }])
          expect(yield* catalog.findByUrl(lazyUrl)).toEqual(Option.some(lazy))
          expect(yield* catalog.findByUrl(`http://127.0.0.1/${unique("never")}`)).toEqual(Option.none())
        })
      )
    )

    it.live("orders sources by priority (own, else the remote's, else 100), then health", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const target256 = sha(unique("e"))
          const u = (n: string) => `http://127.0.0.1/e/${n}`
          const remoteName = unique("mirror")
          yield* (yield* Remotes).put(bearerRemote(remoteName, 300))
          yield* catalog.addSources(target256, [
            { url: u("plain-b") },
            { url: u("plain-a") },
            { url: u("preferred"), priority: 200 },
            { url: u("from-remote"), remote: remoteName },
            { url: u("failing") },
            { url: u("low"), priority: 10 }
          ])
          // declaring again keeps what was said before and never duplicates
          yield* catalog.addSources(target256, [{ url: u("preferred") }, { url: u("plain-a") }])
          yield* catalog.recordFailure({ url: u("failing"), sha256: target256, errorTag: "ConnectError", at: new Date(1_700_000_000_000) })
          yield* catalog.recordFailure({ url: u("failing"), errorTag: "HttpStatusError", servedSha256: "ab".repeat(32), at: new Date(1_700_000_001_000) })
          const sources = yield* catalog.sourcesFor(target256)
          expect(sources.map((s) => s.url)).toEqual(
            ["from-remote", "preferred", "plain-a", "plain-b", "failing", "low"].map(u)
          )
          expect(sources.map((s) => s.priority)).toEqual([300, 200, 100, 100, 100, 10])
          const failing = sources.find((s) => s.url === u("failing"))!
          expect(failing).toMatchObject({
            consecutiveFailures: 2,
            lastErrorTag: "HttpStatusError",
            servedSha256: "ab".repeat(32),
            lastFailure: new Date(1_700_000_001_000)
          })
          // a recent success ranks a source above an equally weighted one that never succeeded
          yield* catalog.addSources(target256, [{ url: u("plain-z") }])
          expect(Option.isNone(yield* catalog.lookup(target256))).toBe(true)
          const text = unique("e-bytes")
          const fetched = record(text, { url: u("fetched"), at: new Date(1_700_000_002_000) })
          yield* catalog.recordDownload(fetched)
          yield* catalog.addSources(fetched.sha256, [{ url: u("zz-never") }, { url: u("aa-never") }])
          expect((yield* catalog.sourcesFor(fetched.sha256)).map((s) => s.url)).toEqual(
            [u("fetched"), u("aa-never"), u("zz-never")]
          )
          // a success resets the failure count
          yield* catalog.recordFailure({ url: u("fetched"), sha256: fetched.sha256, errorTag: "TimeoutError", at: new Date(1_700_000_003_000) })
          expect((yield* catalog.sourcesFor(fetched.sha256))[0]!.url).toBe(u("aa-never"))
          yield* catalog.recordDownload({ ...fetched, at: new Date(1_700_000_004_000) })
          expect((yield* catalog.sourcesFor(fetched.sha256))[0]).toMatchObject({ url: u("fetched"), consecutiveFailures: 0 })
        })
      )
    )

    it.live("tracks location state, extra locations and removals", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const r = record(unique("f"))
          yield* catalog.recordDownload(r)
          yield* catalog.setLocationState(r.sha256, r.store, "corrupt", new Date(1_700_000_900_000))
          yield* catalog.addLocation({ sha256: r.sha256, store: "s3://replica", key: "k", at: new Date(1_700_000_950_000) })
          yield* catalog.addLocation({ sha256: sha(unique("unknown")), store: "s3://replica", key: "k", at: new Date() })
          const entry = Option.getOrThrow(yield* catalog.lookup(r.sha256))
          expect(entry.locations.map((l) => [l.store, l.state])).toEqual([
            [r.store, "corrupt"],
            ["s3://replica", "ok"]
          ])
          yield* catalog.removeLocation(r.sha256, r.store)
          expect(Option.getOrThrow(yield* catalog.lookup(r.sha256)).locations.map((l) => l.store)).toEqual(["s3://replica"])
        })
      )
    )

    it.live("queues locations for verification, oldest first, by store, age and limit", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const store = `file:///${unique("verify")}`
          const texts = Array.from({ length: 5 }, (_, i) => unique(`v${i}`))
          yield* catalog.recordDownloads(
            texts.map((t, i) => record(t, { store, at: new Date(1_600_000_000_000 + (5 - i) * 1000) }))
          )
          yield* catalog.recordDownload(record(unique("elsewhere"), { store: `${store}-other`, at: new Date(1_500_000_000_000) }))
          const due = yield* catalog.locationsToVerify({ store })
          expect(due.map((l) => l.sha256)).toEqual([4, 3, 2, 1, 0].map((i) => sha(texts[i]!)))
          expect((yield* catalog.locationsToVerify({ store, limit: 2 })).map((l) => l.sha256)).toEqual(
            [4, 3].map((i) => sha(texts[i]!))
          )
          const old = yield* catalog.locationsToVerify({ store, olderThan: new Date(1_600_000_003_500) })
          expect(old.map((l) => l.sha256)).toEqual([4, 3, 2].map((i) => sha(texts[i]!)))
          yield* catalog.setLocationState(sha(texts[4]!), store, "ok", new Date(1_700_000_000_000))
          expect((yield* catalog.locationsToVerify({ store, limit: 1 }))[0]!.sha256).toBe(sha(texts[3]!))
          expect((yield* catalog.locationsToVerify({ store, limit: 0 })).length).toBe(0)
          expect((yield* catalog.locationsToVerify({ limit: 1 }))[0]!.store).toBe(`${store}-other`)
        })
      )
    )

    it.live("keeps remotes by name, secrets intact, and forgets them", () =>
      run(
        Effect.gen(function* () {
          const remotes = yield* Remotes
          const a = unique("remote-a")
          const b = unique("remote-b")
          yield* remotes.put(remoteWithSecrets(b, 50))
          yield* remotes.put(remoteWithSecrets(a))
          const got = Option.getOrThrow(yield* remotes.get(b))
          expect(got.url).toBe(`https://${b}.example.test/repo/`)
          expect(got.priority).toBe(50)
          expect(got.headers).toEqual({ "x-repo": b })
          expect(Redacted.value(got.tls!.clientKey!)).toBe(secrets.clientKey)
          expect(Redacted.value(got.proxy!.password!)).toBe(secrets.proxyPassword)
          expect(got.auth?._tag).toBe("Basic")
          if (got.auth?._tag === "Basic") expect(Redacted.value(got.auth.password)).toBe(secrets.password)
          expect(String(got)).not.toContain(secrets.password)
          const names = (yield* remotes.list()).map((r) => r.name).filter((n) => n === a || n === b)
          expect(names).toEqual([a, b])
          // replace: now a bearer remote
          yield* remotes.put(bearerRemote(b))
          const replaced = Option.getOrThrow(yield* remotes.get(b))
          expect(replaced.auth?._tag === "Bearer" && Redacted.value(replaced.auth.token)).toBe(secrets.token)
          expect(replaced.proxy).toBeUndefined()
          expect(yield* remotes.remove(b)).toBe(true)
          expect(yield* remotes.remove(b)).toBe(false)
          expect(Option.isNone(yield* remotes.get(b))).toBe(true)
        })
      )
    )

    it.live("whereis finds by sha256, by other digest, by URL, and shows declared-only artifacts", () =>
      run(
        Effect.gen(function* () {
          const catalog = yield* Catalog
          const text = unique("w")
          const r = record(text, { digests: { sha256: sha(text), sha1: digest("sha1", text) as never } })
          yield* catalog.recordDownload(r)
          const bySha = Option.getOrThrow(yield* whereis(r.sha256.toUpperCase()))
          expect(bySha.size).toBe(r.size)
          expect(Option.getOrThrow(yield* whereis(`sha1:${digest("sha1", text)}`)).sha256).toBe(r.sha256)
          expect(Option.getOrThrow(yield* whereis(r.url)).sha256).toBe(r.sha256)
          const json = whereaboutsJson(bySha)
          expect(Object.keys(json)).toEqual(["sha256", "size", "digests", "locations", "sources", "downloads"])
          // the download's provenance row, newest first
          expect(json.downloads[0]).toMatchObject({ url: r.url, bytes: r.size, at: r.at.toISOString() })
          expect(json.locations[0]).toMatchObject({ store: r.store, key: r.key, state: "ok", verifiedAt: r.at.toISOString() })
          expect(json.sources[0]).toMatchObject({ url: r.url, priority: 100 })
          const lazy = sha(unique("w-lazy")) as Sha256
          yield* catalog.addSources(lazy, [{ url: `http://127.0.0.1/${unique("w-src")}`, priority: 5 }])
          const declared = Option.getOrThrow(yield* whereis(lazy))
          expect(declared.size).toBeUndefined()
          expect(declared.sources.map((s) => s.priority)).toEqual([5])
          expect(Option.isNone(yield* whereis(sha(unique("nothing"))))).toBe(true)
        })
      )
    )
  })
