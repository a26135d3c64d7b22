import { describe, expect, it } from "@effect/vitest"
import { detectFormat, fetchMany, parseManifest } from "@cargohold/core"
import { MemoryBackends } from "@cargohold/core/testing"
import { Chunk, Effect, Either, Stream } from "effect"
import { bodyOf, layerBatchTest, serve, sha256 } from "./helpers.js"

const hex = "a".repeat(64)

describe("manifests", () => {
  it.effect("plain lines: URL [ALG:HEX]... [SIZE], comments and blank lines", () =>
    Effect.gen(function* () {
      const parsed = yield* parseManifest(
        ["# a comment", "", `http://h.test/a sha256:${hex} 12`, "  http://h.test/b   ", `http://h.test/c md5:${"b".repeat(32)}`].join("\n")
      )
      expect(parsed.format).toBe("lines")
      expect(parsed.requests.length).toBe(3)
      expect(parsed.lines).toEqual([3, 4, 5])
      expect(parsed.requests[0]).toMatchObject({ url: "http://h.test/a", digests: { sha256: hex }, size: 12 })
      expect(parsed.totalBytes).toBe(12)
      expect(parsed.allSized).toBe(false)
    })
  )

  it.effect("a malformed manifest reports every bad line with its number", () =>
    Effect.gen(function* () {
      const text = [
        `http://h.test/ok sha256:${hex}`,
        "not a url",
        `http://h.test/x sha256:abc`,
        "# fine",
        `http://h.test/y 12 13`,
        `ftp://h.test/z`,
        `http://h.test/w sha999:${hex}`,
        `http://h.test/v banana`
      ].join("\n")
      const result = yield* Effect.either(parseManifest(text, "lines"))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        const error = result.left
        expect(error._tag).toBe("ManifestError")
        expect([...new Set(error.problems.map((p) => p.line))]).toEqual([2, 3, 5, 6, 7, 8])
        expect(error.message).toContain("line 3")
        expect(error.message).toContain("sha256 digest must be 64 hex characters")
        expect(error.message).toContain("unsupported scheme 'ftp'")
      }
    })
  )

  it.live("a malformed manifest downloads nothing", () =>
    Effect.gen(function* () {
      const server = yield* serve(() => bodyOf("x"))
      const text = `${server.url("/a")}\n${server.url("/b")} sha256:zz\n`
      const result = yield* Effect.either(
        Effect.flatMap(parseManifest(text), (m) => Stream.runCollect(fetchMany(Stream.fromIterable(m.requests))))
      )
      expect(Either.isLeft(result)).toBe(true)
      expect(server.total()).toBe(0)
      const { storage } = yield* MemoryBackends
      expect((yield* storage.objects).size).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )

  it.effect("JSON Lines: url/urls, sha256/digests, size, mirrors with priorities; schema errors per line", () =>
    Effect.gen(function* () {
      const good = [
        JSON.stringify({ url: "http://a.test/1", sha256: hex, size: 5, mirrors: [{ url: "http://m.test/1", priority: 50 }] }),
        JSON.stringify({ urls: ["http://a.test/2", "http://b.test/2"], digests: { sha512: "c".repeat(128) } })
      ]
      const parsed = yield* parseManifest(good.join("\n"))
      expect(parsed.format).toBe("jsonl")
      expect(parsed.requests[0]).toMatchObject({
        url: "http://a.test/1",
        sha256: hex,
        size: 5,
        sources: [{ url: "http://m.test/1", priority: 50 }]
      })
      expect(parsed.requests[1]).toMatchObject({ url: "http://a.test/2", sources: [{ url: "http://b.test/2" }] })
      const bad = [
        good[0],
        "{not json",
        JSON.stringify({ sha256: hex }),
        JSON.stringify({ url: "http://a.test/3", sha265: hex }),
        JSON.stringify({ url: "http://a.test/4", size: -1 }),
        JSON.stringify({ url: "http://a.test/5", mirrors: [{ url: "nope" }] })
      ].join("\n")
      const result = yield* Effect.either(parseManifest(bad, "jsonl"))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left.problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6])
        expect(result.left.problems[1]!.message).toContain('needs "url" or "urls"')
        expect(result.left.problems[2]!.message).toContain("sha265")
      }
    })
  )

  it.effect("Metalink 4: size, hashes, urls by priority (lower is preferred), metaurl ignored with a warning", () =>
    Effect.gen(function* () {
      const text = `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <published>2024-01-01T00:00:00Z</published>
  <file name="one.iso">
    <size>1024</size>
    <hash type="sha-256">${hex}</hash>
    <hash type="sha-224">ffff</hash>
    <url location="de" priority="2">http://slow.test/one.iso</url>
    <url location="us" priority="1">http://fast.test/one.iso</url>
    <url>http://last.test/one.iso</url>
    <metaurl mediatype="torrent">http://t.test/one.torrent</metaurl>
  </file>
  <file name="two.bin">
    <hash type="sha-1">${"d".repeat(40)}</hash>
    <url>http://only.test/two.bin</url>
  </file>
</metalink>`
      expect(detectFormat(text)).toBe("metalink")
      const parsed = yield* parseManifest(text)
      expect(parsed.requests.length).toBe(2)
      const [one, two] = parsed.requests
      expect(one).toMatchObject({ url: "http://fast.test/one.iso", size: 1024, digests: { sha256: hex } })
      expect(one!.priority).toBe(999_999)
      expect(one!.sources).toEqual([
        { url: "http://slow.test/one.iso", priority: 999_998 },
        { url: "http://last.test/one.iso", priority: 0 }
      ])
      expect(two).toMatchObject({ url: "http://only.test/two.bin", digests: { sha1: "d".repeat(40) } })
      expect(parsed.lines).toEqual([4, 13])
      expect(parsed.warnings.map((w) => w.line)).toEqual([7, 11])
      expect(parsed.warnings[1]!.message).toContain("metaurl")
    })
  )

  it.effect("Metalink problems name their lines; broken XML names the line of the break", () =>
    Effect.gen(function* () {
      const text = `<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="a">
    <size>big</size>
    <url priority="0">http://a.test/a</url>
  </file>
  <file name="b">
    <hash type="sha-256">${hex}</hash>
  </file>
</metalink>`
      const result = yield* Effect.either(parseManifest(text))
      expect(Either.isLeft(result) && result.left.problems.map((p) => p.line)).toEqual([3, 4, 6])
      const broken = yield* Effect.either(parseManifest(`<metalink>\n<file name="x">\n<url>http://a/</file>\n</metalink>`))
      expect(Either.isLeft(broken) && broken.left.problems[0]!.line).toBe(3)
    })
  )

  it.live("a manifest with mirrors, end to end: the mirror serves when the first source fails", () =>
    Effect.gen(function* () {
      const body = bodyOf("e2e")
      const down = yield* serve(() => undefined, { route: (_, response) => void response.writeHead(503).end() })
      const mirror = yield* serve(() => body)
      const text = JSON.stringify({ url: down.url("/e"), sha256: sha256(body), mirrors: [{ url: mirror.url("/e") }] })
      const parsed = yield* parseManifest(text)
      const results = Chunk.toReadonlyArray(yield* Stream.runCollect(fetchMany(Stream.fromIterable(parsed.requests))))
      expect(results[0]!._tag).toBe("Ok")
      expect(down.total() + mirror.total()).toBeLessThanOrEqual(5)
    }).pipe(Effect.scoped, Effect.provide(layerBatchTest()))
  )
})
