/**
 * Repository manifests: a path per unit (JSON Lines `path`, Metalink `name`), every problem named with its line.
 */
import { Catalog, parseRepositoryManifest, Repositories, type RepositoryName, addOnDemand, onDemandOfEntry } from "@cargohold/core"
import { layerMemoryCatalog, layerMemoryRepositories } from "@cargohold/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Effect, Layer, Option } from "effect"

const sha = (text: string) => createHash("sha256").update(text).digest("hex")

describe("repository manifests", () => {
  it.effect("JSON Lines: path and metadata come off each line, the rest is a fetch line", () =>
    Effect.gen(function* () {
      const text = [
        `{"url": "http://127.0.0.1:1/a", "path": "pool/a.deb", "sha256": "${sha("a")}", "size": 1, "metadata": {"arch": "amd64"}}`,
        "# comment",
        `{"url": "http://127.0.0.1:1/b", "path": "b.txt", "mirrors": [{"url": "http://127.0.0.1:2/b"}]}`
      ].join("\n")
      const entries = yield* parseRepositoryManifest(text)
      expect(entries.map((e) => [e.line, e.path, e.metadata])).toEqual([
        [1, "pool/a.deb", { arch: "amd64" }],
        [3, "b.txt", undefined]
      ])
      expect(entries[1]!.request.sources?.map((s) => s.url)).toEqual(["http://127.0.0.1:2/b"])
    })
  )

  it.effect("every bad line is named: no path, a path escaping, a duplicate, an unknown key, on demand without digest", () =>
    Effect.gen(function* () {
      const text = [
        `{"url": "http://127.0.0.1:1/a"}`,
        `{"url": "http://127.0.0.1:1/b", "path": "../etc/passwd", "sha256": "${sha("b")}", "size": 1}`,
        `{"url": "http://127.0.0.1:1/c", "path": "c", "sha256": "${sha("c")}", "size": 1}`,
        `{"url": "http://127.0.0.1:1/d", "path": "c", "sha256": "${sha("d")}", "size": 1}`,
        `{"url": "http://127.0.0.1:1/e", "path": "e", "sha265": "x"}`,
        `{"url": "http://127.0.0.1:1/f", "path": "f"}`
      ].join("\n")
      const error = yield* Effect.flip(parseRepositoryManifest(text, { onDemand: true }))
      const lines = error.problems.map((p) => p.line)
      expect(lines).toEqual(expect.arrayContaining([1, 2, 4, 5, 6]))
      expect(error.message).toContain("needs a \"path\"")
      expect(error.message).toContain("'..' segment")
      expect(error.message).toContain("already given on line 3")
      expect(error.message).toContain("needs its sha256")
    })
  )

  it.effect("Metalink: each file's name is its path; plain URL lists are refused", () =>
    Effect.gen(function* () {
      const meta4 = `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="dists/stable/Release">
    <size>3</size>
    <hash type="sha-256">${sha("rel")}</hash>
    <url priority="1">http://127.0.0.1:1/Release</url>
    <url priority="2">http://127.0.0.1:2/Release</url>
  </file>
</metalink>`
      const entries = yield* parseRepositoryManifest(meta4, { onDemand: true })
      expect(entries.map((e) => e.path)).toEqual(["dists/stable/Release"])
      const bad = yield* Effect.flip(parseRepositoryManifest(meta4.replace("dists/stable/Release", "/etc/Release")))
      expect(bad.message).toContain("must be relative")
      const lines = yield* Effect.flip(parseRepositoryManifest("http://127.0.0.1:1/x\n"))
      expect(lines.message).toContain("names each unit's path")
    })
  )

  it.effect("on demand: the units join a new version and their sources the catalog, nothing is downloaded", () =>
    Effect.gen(function* () {
      const repos = yield* Repositories
      const catalog = yield* Catalog
      const name = "lazy" as RepositoryName
      yield* repos.create(name)
      const entries = yield* parseRepositoryManifest(
        `{"url": "http://127.0.0.1:1/a", "mirrors": [{"url": "http://127.0.0.1:2/a", "priority": 50}], "path": "a", "sha256": "${sha("a")}", "size": 1}`,
        { onDemand: true }
      )
      const change = yield* addOnDemand(name, entries.map(onDemandOfEntry))
      expect(change.version.number).toBe(1)
      const sources = yield* catalog.sourcesFor(sha("a") as never)
      expect(sources.map((s) => [s.url, s.priority])).toEqual([
        ["http://127.0.0.1:1/a", 100],
        ["http://127.0.0.1:2/a", 50]
      ])
      expect(Option.isNone(yield* catalog.lookup(sha("a") as never))).toBe(true)
      const missing = yield* Effect.flip(addOnDemand("nope" as RepositoryName, entries.map(onDemandOfEntry)))
      expect(missing._tag).toBe("RepositoryNotFound")
    }).pipe(Effect.provide(Layer.merge(layerMemoryCatalog, layerMemoryRepositories)))
  )
})
