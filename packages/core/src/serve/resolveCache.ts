/**
 * Path resolution for the server, cached: a repository version never changes, so what a path resolves to in a
 * given version is cached for good (bounded, least recently used first out), and which version is the latest is
 * asked of the catalog at most once per `latestTtlMs` per repository (default 1 s: a new version is served within
 * a second of being made, by every process on the catalog). A hot path then costs no catalog round trip.
 */
import { Effect, type Option } from "effect"
import type { CatalogError } from "../domain/errors.js"
import type { RepositoryNotFound, VersionNotFound } from "../repository/errors.js"
import type { RepositoriesService } from "../repository/Repositories.js"
import type { ContentUnit, RepositoryName, UnitPath, VersionNumber, VersionSelector } from "../repository/schema.js"

export interface Resolution {
  readonly version: VersionNumber
  readonly unit: Option.Option<ContentUnit>
}

export interface ResolveCache {
  /** Cached answer, if any (synchronous: the hot path). */
  readonly cached: (name: RepositoryName, selector: VersionSelector, path: UnitPath) => Resolution | undefined
  readonly resolve: (
    name: RepositoryName,
    selector: VersionSelector,
    path: UnitPath
  ) => Effect.Effect<Resolution, RepositoryNotFound | VersionNotFound | CatalogError>
}

export const makeResolveCache = (
  repositories: RepositoriesService,
  options: { readonly latestTtlMs?: number; readonly maxEntries?: number } = {}
): ResolveCache => {
  const ttl = options.latestTtlMs ?? 1000
  const max = Math.max(1, options.maxEntries ?? 100_000)
  const latest = new Map<string, { readonly version: VersionNumber; readonly until: number }>()
  const units = new Map<string, Option.Option<ContentUnit>>()
  const key = (name: string, version: number, path: string) => `${name}@${version}/${path}`
  const remember = (k: string, unit: Option.Option<ContentUnit>) => {
    if (units.size >= max) units.delete(units.keys().next().value!)
    units.set(k, unit)
  }
  const refreshing = new Set<string>()
  /** Asks the catalog which version is the latest, in the background, once at a time per repository. */
  const refresh = (name: RepositoryName, path: UnitPath) => {
    if (refreshing.has(name)) return
    refreshing.add(name)
    Effect.runFork(
      repositories.resolve(name, "latest", path).pipe(
        Effect.tap((answer) =>
          Effect.sync(() => {
            latest.set(name, { version: answer.version.number, until: Date.now() + ttl })
            remember(key(name, answer.version.number, path), answer.unit)
          })
        ),
        // a failure (the repository went, the catalog is down) drops what was known: the next request asks itself
        Effect.catchAll(() => Effect.sync(() => latest.delete(name))),
        Effect.ensuring(Effect.sync(() => refreshing.delete(name)))
      )
    )
  }
  const versionNow = (name: RepositoryName, selector: VersionSelector, path: UnitPath): VersionNumber | undefined => {
    if (selector !== "latest") return selector
    const known = latest.get(name)
    if (known === undefined) return undefined
    // past its time the known version is still answered while the catalog is asked again: requests never wait
    // on that question, and a new version is served from the answer on (within `latestTtlMs` plus one query)
    if (known.until <= Date.now()) refresh(name, path)
    return known.version
  }
  const cached = (name: RepositoryName, selector: VersionSelector, path: UnitPath): Resolution | undefined => {
    const version = versionNow(name, selector, path)
    if (version === undefined) return undefined
    const k = key(name, version, path)
    const unit = units.get(k)
    if (unit === undefined) return undefined
    // refreshed as recently used
    units.delete(k)
    units.set(k, unit)
    return { version, unit }
  }
  return {
    cached,
    resolve: (name, selector, path) =>
      Effect.suspend(() => {
        const hit = cached(name, selector, path)
        if (hit !== undefined) return Effect.succeed(hit)
        const version = versionNow(name, selector, path)
        return Effect.map(repositories.resolve(name, version ?? selector, path), (answer) => {
          if (selector === "latest") latest.set(name, { version: answer.version.number, until: Date.now() + ttl })
          remember(key(name, answer.version.number, path), answer.unit)
          return { version: answer.version.number, unit: answer.unit }
        })
      })
  }
}
