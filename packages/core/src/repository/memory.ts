/**
 * In-memory Repositories: the reference behaviour the SQL backends are tested against, and a stub for users' tests.
 * Content is kept as the SQL backends keep it: each unit with the version that added it and the one that removed it.
 */
import { Effect, Layer, Option, Ref } from "effect"
import { RepositoryExists, RepositoryNotFound, UnitNotFound, VersionNotFound } from "./errors.js"
import { Repositories, type RepositoriesService } from "./Repositories.js"
import { type ContentUnit, type RepositoryInfo, type RepositoryName, type RepositoryVersion, VersionNumber, type VersionSelector } from "./schema.js"
import { byPath, checkUnits, diffUnits, folderConflict, foldersOf, planAdd } from "./units.js"

interface Held {
  readonly unit: ContentUnit
  readonly added: number
  removed: number | undefined
}

interface Repo {
  readonly name: RepositoryName
  readonly createdAt: Date
  readonly versions: Array<RepositoryVersion>
  readonly content: Array<Held>
}

const presentAt = (held: Held, version: number) => held.added <= version && (held.removed === undefined || held.removed > version)

export const makeMemoryRepositories: Effect.Effect<RepositoriesService> = Effect.gen(function* () {
  const ref = yield* Ref.make(new Map<string, Repo>())
  const repo = (name: RepositoryName) =>
    Effect.flatMap(Ref.get(ref), (repos) => {
      const found = repos.get(name)
      return found === undefined ? Effect.fail(new RepositoryNotFound({ name })) : Effect.succeed(found)
    })
  const versionOf = (r: Repo, selector: VersionSelector) => {
    const latest = r.versions.length - 1
    const number = selector === "latest" ? latest : selector
    const found = r.versions[number]
    return found === undefined
      ? Effect.fail(new VersionNotFound({ name: r.name, version: number, latest }))
      : Effect.succeed(found)
  }
  const unitsAt = (r: Repo, version: number) =>
    r.content.filter((h) => presentAt(h, version)).map((h) => h.unit).sort(byPath)
  const newVersion = (r: Repo, added: number, removed: number): RepositoryVersion => {
    const number = VersionNumber.make(r.versions.length)
    const previous = r.versions[number - 1]!
    const version: RepositoryVersion = {
      repository: r.name,
      number,
      createdAt: new Date(),
      units: previous.units + added - removed,
      added,
      removed
    }
    r.versions.push(version)
    return version
  }
  const service: RepositoriesService = {
    create: (name) =>
      Effect.flatMap(Ref.get(ref), (repos) => {
        if (repos.has(name)) return Effect.fail(new RepositoryExists({ name }))
        const createdAt = new Date()
        const version: RepositoryVersion = {
          repository: name,
          number: VersionNumber.make(0),
          createdAt,
          units: 0,
          added: 0,
          removed: 0
        }
        repos.set(name, { name, createdAt, versions: [version], content: [] })
        return Effect.succeed(version)
      }),
    list: () =>
      Effect.map(Ref.get(ref), (repos) =>
        [...repos.values()]
          .map((r): RepositoryInfo => ({ name: r.name, createdAt: r.createdAt, latest: VersionNumber.make(r.versions.length - 1) }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      ),
    versions: (name) => Effect.map(repo(name), (r) => [...r.versions]),
    version: (name, selector) => Effect.flatMap(repo(name), (r) => versionOf(r, selector)),
    addUnits: (name, inputs) =>
      Effect.gen(function* () {
        const r = yield* repo(name)
        const units = yield* checkUnits(inputs)
        const latest = r.versions.length - 1
        const live = r.content.filter((h) => h.removed === undefined)
        const current = new Map<string, ContentUnit>(live.map((h) => [h.unit.path, h.unit]))
        const { added, replaced } = planAdd(units, current)
        for (const unit of added) {
          for (const folder of foldersOf(unit.path)) if (current.has(folder)) return yield* folderConflict(unit.path, folder)
          const under = live.find((h) => h.unit.path.startsWith(`${unit.path}/`))
          if (under !== undefined) return yield* folderConflict(unit.path, under.unit.path)
        }
        if (added.length === 0) return { version: r.versions[latest]!, changed: false }
        const number = latest + 1
        const replacedPaths = new Set<string>(replaced.map((u) => u.path))
        for (const h of live) if (replacedPaths.has(h.unit.path)) h.removed = number
        for (const unit of added) r.content.push({ unit, added: number, removed: undefined })
        return { version: newVersion(r, added.length, replaced.length), changed: true }
      }),
    removeUnits: (name, paths) =>
      Effect.gen(function* () {
        const r = yield* repo(name)
        const wanted = new Set<string>(paths)
        const live = r.content.filter((h) => h.removed === undefined && wanted.has(h.unit.path))
        const found = new Set<string>(live.map((h) => h.unit.path))
        const missing = [...wanted].filter((p) => !found.has(p))
        if (missing.length > 0) return yield* new UnitNotFound({ name, paths: missing })
        const latest = r.versions.length - 1
        if (live.length === 0) return { version: r.versions[latest]!, changed: false }
        for (const h of live) h.removed = latest + 1
        return { version: newVersion(r, 0, live.length), changed: true }
      }),
    listUnits: (name, selector) =>
      Effect.gen(function* () {
        const r = yield* repo(name)
        const version = yield* versionOf(r, selector)
        return unitsAt(r, version.number)
      }),
    listUnder: (name, selector, folder) =>
      Effect.gen(function* () {
        const r = yield* repo(name)
        const version = yield* versionOf(r, selector)
        const prefix = folder === "" ? "" : `${folder}/`
        return unitsAt(r, version.number).filter((u) => u.path.startsWith(prefix))
      }),
    diff: (name, from, to) =>
      Effect.gen(function* () {
        const r = yield* repo(name)
        const a = yield* versionOf(r, from)
        const b = yield* versionOf(r, to)
        return { repository: name, from: a.number, to: b.number, ...diffUnits(unitsAt(r, a.number), unitsAt(r, b.number)) }
      }),
    resolve: (name, selector, path) =>
      Effect.gen(function* () {
        const r = yield* repo(name)
        const version = yield* versionOf(r, selector)
        const held = r.content.find((h) => h.unit.path === path && presentAt(h, version.number))
        return { version, unit: Option.fromNullable(held?.unit) }
      })
  }
  return service
})

/** Fresh in-memory Repositories per layer build. */
export const layerMemoryRepositories: Layer.Layer<Repositories> = Layer.effect(Repositories, makeMemoryRepositories)
