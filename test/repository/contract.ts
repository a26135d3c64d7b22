/**
 * The behaviour every Repositories backend shares: memory, SQLite and PostgreSQL run this same suite.
 */
import {
  type CatalogError,
  Repositories,
  type RepositoryName,
  type UnitInput,
  type UnitPath,
  unitMetadata,
  type VersionNumber
} from "@cargohold/core"
import { describe, expect, it } from "@effect/vitest"
import { createHash, randomBytes } from "node:crypto"
import { Effect, Exit, type Layer, Option, Schema } from "effect"

export interface RepositoriesTarget {
  /** Repositories for one test (names are unique per test, so a shared database is fine). */
  readonly layer: () => Layer.Layer<Repositories, CatalogError>
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex")
const unique = (label: string) => `${label}-${randomBytes(4).toString("hex")}` as RepositoryName
const unit = (path: string, text = path, extra: Partial<UnitInput> = {}): UnitInput => ({ path, sha256: sha(text), size: text.length, ...extra })
const v = (n: number) => n as VersionNumber
const p = (path: string) => path as UnitPath

export const repositoriesContract = (name: string, target: RepositoriesTarget) =>
  describe(`Repositories contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Repositories>) => Effect.provide(effect, target.layer())

    it.live("create makes version 0, empty; a second create of the name fails", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("create")
          const v0 = yield* repos.create(name)
          expect(v0).toMatchObject({ repository: name, number: 0, units: 0, added: 0, removed: 0 })
          const again = yield* Effect.flip(repos.create(name))
          expect(again._tag).toBe("RepositoryExists")
          expect(yield* repos.listUnits(name, "latest")).toEqual([])
          expect((yield* repos.list()).find((r) => r.name === name)?.latest).toBe(0)
          const missing = yield* Effect.flip(repos.listUnits(unique("absent"), "latest"))
          expect(missing._tag).toBe("RepositoryNotFound")
        })
      )
    )

    it.live("adding and removing make immutable numbered versions", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("versions")
          yield* repos.create(name)
          const one = yield* repos.addUnits(name, [unit("a.txt"), unit("pool/b.deb", "b", { digests: { md5: createHash("md5").update("b").digest("hex") } })])
          expect(one).toMatchObject({ changed: true, version: { number: 1, units: 2, added: 2, removed: 0 } })
          const two = yield* repos.addUnits(name, [unit("a.txt", "a2"), unit("c.txt")])
          expect(two.version).toMatchObject({ number: 2, units: 3, added: 2, removed: 1 })
          const three = yield* repos.removeUnits(name, [p("pool/b.deb")])
          expect(three.version).toMatchObject({ number: 3, units: 2, added: 0, removed: 1 })
          // every version still reads as it was
          expect((yield* repos.listUnits(name, v(0))).map((u) => u.path)).toEqual([])
          const at1 = yield* repos.listUnits(name, v(1))
          expect(at1.map((u) => [u.path, u.sha256])).toEqual([
            ["a.txt", sha("a.txt")],
            ["pool/b.deb", sha("b")]
          ])
          expect(at1[1]!.digests.md5).toBe(createHash("md5").update("b").digest("hex"))
          expect((yield* repos.listUnits(name, v(2))).map((u) => [u.path, u.sha256])).toEqual([
            ["a.txt", sha("a2")],
            ["c.txt", sha("c.txt")],
            ["pool/b.deb", sha("b")]
          ])
          expect((yield* repos.listUnits(name, "latest")).map((u) => u.path)).toEqual(["a.txt", "c.txt"])
          expect((yield* repos.versions(name)).map((x) => [x.number, x.units])).toEqual([
            [0, 0],
            [1, 2],
            [2, 3],
            [3, 2]
          ])
          const nope = yield* Effect.flip(repos.listUnits(name, v(9)))
          expect(nope).toMatchObject({ _tag: "VersionNotFound", version: 9, latest: 3 })
        })
      )
    )

    it.live("adding what is already there makes no version; removing an absent path fails and removes nothing", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("noop")
          yield* repos.create(name)
          yield* repos.addUnits(name, [unit("x"), unit("y", "y", { metadata: { b: 1, a: [true, null] } })])
          const same = yield* repos.addUnits(name, [unit("x"), unit("y", "y", { metadata: { a: [true, null], b: 1 } })])
          expect(same).toMatchObject({ changed: false, version: { number: 1 } })
          const gone = yield* Effect.flip(repos.removeUnits(name, [p("x"), p("nope")]))
          expect(gone).toMatchObject({ _tag: "UnitNotFound", paths: ["nope"] })
          expect((yield* repos.listUnits(name, "latest")).map((u) => u.path)).toEqual(["x", "y"])
          expect((yield* repos.version(name, "latest")).number).toBe(1)
        })
      )
    )

    it.live("bad units and path conflicts fail with InvalidUnit and add nothing", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("bad")
          yield* repos.create(name)
          yield* repos.addUnits(name, [unit("dir/file")])
          const attempts: ReadonlyArray<ReadonlyArray<UnitInput>> = [
            [unit("../escape")],
            [unit("/abs")],
            [unit("a//b")],
            [unit("a\\b")],
            [unit("nul\u0000x")],
            [unit("ok", "ok", { sha256: "xyz" })],
            [unit("ok", "ok", { size: -1 })],
            [unit("ok", "ok", { digests: { md5: "00" } })],
            [unit("same"), unit("same", "other")],
            [unit("dir")],
            [unit("dir/file/deeper")],
            [unit("f"), unit("f/g")]
          ]
          for (const units of attempts) {
            const error = yield* Effect.flip(repos.addUnits(name, units))
            expect(error._tag, JSON.stringify(units.map((u) => u.path))).toBe("InvalidUnit")
          }
          expect((yield* repos.version(name, "latest")).number).toBe(1)
          expect((yield* repos.listUnits(name, "latest")).map((u) => u.path)).toEqual(["dir/file"])
        })
      )
    )

    it.live("diff and resolve", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("diff")
          yield* repos.create(name)
          yield* repos.addUnits(name, [unit("keep"), unit("change"), unit("drop")])
          yield* repos.removeUnits(name, [p("drop")])
          yield* repos.addUnits(name, [unit("change", "changed"), unit("new")])
          const d = yield* repos.diff(name, v(1), "latest")
          expect(d.from).toBe(1)
          expect(d.to).toBe(3)
          expect(d.added.map((u) => u.path)).toEqual(["new"])
          expect(d.removed.map((u) => u.path)).toEqual(["drop"])
          expect(d.changed.map((c) => [c.path, c.from.sha256, c.to.sha256])).toEqual([["change", sha("change"), sha("changed")]])
          const back = yield* repos.diff(name, "latest", v(1))
          expect(back.added.map((u) => u.path)).toEqual(["drop"])
          const latest = yield* repos.resolve(name, "latest", p("change"))
          expect(latest.version.number).toBe(3)
          expect(Option.getOrThrow(latest.unit).sha256).toBe(sha("changed"))
          const old = yield* repos.resolve(name, v(1), p("change"))
          expect(Option.getOrThrow(old.unit).sha256).toBe(sha("change"))
          expect(Option.isNone((yield* repos.resolve(name, "latest", p("drop"))).unit)).toBe(true)
          expect(Option.isSome((yield* repos.resolve(name, v(2), p("keep"))).unit)).toBe(true)
          const under = yield* repos.listUnder(name, "latest", "")
          expect(under.map((u) => u.path)).toEqual(["change", "keep", "new"])
        })
      )
    )

    it.live("listUnder takes a folder's units and no sibling with the same prefix", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("under")
          yield* repos.create(name)
          yield* repos.addUnits(name, [unit("pool/a"), unit("pool/sub/b"), unit("pool-x"), unit("pool0"), unit("poo")])
          expect((yield* repos.listUnder(name, "latest", "pool")).map((u) => u.path)).toEqual(["pool/a", "pool/sub/b"])
          expect((yield* repos.listUnder(name, "latest", "pool/sub")).map((u) => u.path)).toEqual(["pool/sub/b"])
        })
      )
    )

    it.live("metadata round-trips through the caller's Schema", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("meta")
          yield* repos.create(name)
          const Deb = Schema.Struct({ package: Schema.String, version: Schema.String, installed: Schema.DateFromString })
          const codec = unitMetadata(Deb)
          const input = yield* codec.unit(
            { path: "pool/h.deb", sha256: sha("h"), size: 1 },
            { package: "hello", version: "2.10", installed: new Date(1_700_000_000_000) }
          )
          yield* repos.addUnits(name, [input])
          const [stored] = yield* repos.listUnits(name, "latest")
          expect(stored!.metadata).toEqual({ package: "hello", version: "2.10", installed: new Date(1_700_000_000_000).toISOString() })
          const read = Option.getOrThrow(yield* codec.read(stored!))
          expect(read.installed.getTime()).toBe(1_700_000_000_000)
          const wrong = yield* Effect.flip(unitMetadata(Schema.Struct({ arch: Schema.String })).read(stored!))
          expect(wrong._tag).toBe("InvalidUnit")
        })
      )
    )

    it.live("concurrent changes to one repository each get their own version", () =>
      run(
        Effect.gen(function* () {
          const repos = yield* Repositories
          const name = unique("race")
          yield* repos.create(name)
          const exits = yield* Effect.forEach(
            Array.from({ length: 8 }, (_, i) => i),
            (i) => Effect.exit(repos.addUnits(name, [unit(`f${i}`)])),
            { concurrency: "unbounded" }
          )
          expect(exits.every(Exit.isSuccess)).toBe(true)
          const versions = yield* repos.versions(name)
          expect(versions.map((x) => x.number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
          expect(versions.at(-1)!.units).toBe(8)
          expect((yield* repos.listUnits(name, "latest")).length).toBe(8)
        })
      )
    )
  })
