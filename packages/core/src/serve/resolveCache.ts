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
  const versionNow = (name: RepositoryName, selector: VersionSelector): VersionNumber | undefined => {
    if (selector !== "latest") return selector
    const known = latest.get(name)
    return known !== undefined && known.until > Date.now() ? known.version : undefined
  }
  const cached = (name: RepositoryName, selector: VersionSelector, path: UnitPath): Resolution | undefined => {
    const version = versionNow(name, selector)
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
        const version = versionNow(name, selector)
        return Effect.map(repositories.resolve(name, version ?? selector, path), (answer) => {
          if (selector === "latest") latest.set(name, { version: answer.version.number, until: Date.now() + ttl })
          remember(key(name, answer.version.number, path), answer.unit)
          return { version: answer.version.number, unit: answer.unit }
        })
      })
  }
}
