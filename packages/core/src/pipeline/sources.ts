/**
 * Choosing among the sources of one artifact: the request's own, joined by those the catalog knows; the best
 * healthy one first, equal priorities spread by weight, sources that failed recently held back for a cooldown.
 */
import { Context, Effect } from "effect"
import { isNonEmptyReadonlyArray, type NonEmptyArray, type NonEmptyReadonlyArray } from "effect/Array"
import type { CatalogService } from "../catalog/Catalog.js"
import { defaultPriority, type SourceRow } from "../catalog/schema.js"
import type { Sha256 } from "../domain/digest.js"
import type { DownloadError, InvalidRequest } from "../domain/errors.js"
import { type DownloadRequestInput, type DownloadSpec, validateRequest } from "../domain/request.js"
import type { Remote } from "../remote/Remote.js"
import type { RemotesService } from "../remote/Remotes.js"
import { originOf } from "../http/origin.js"
import type { FileAccess } from "../source/FileSource.js"

/** One place the bytes may come from, validated. */
export interface Candidate {
  readonly spec: DownloadSpec
  readonly priority: number
  /** The priority the request gave explicitly (recorded in the catalog), if any. */
  readonly declaredPriority: number | undefined
  readonly weight: number
  readonly remote: Remote | undefined
  /** True when the request named it (false: the catalog knew it). */
  readonly requested: boolean
  /** What a `file://` URL of this source may reach: the user's own choice only when they typed it. */
  readonly fileAccess: FileAccess
  /** Milliseconds since the epoch until which the source is held back; 0 when healthy. */
  readonly coolingUntil: number
}

export interface SourcePolicySettings {
  /** How long a failed source is held back (unless no other source is left). */
  readonly cooldownMs: number
}

export class SourcePolicy extends Context.Reference<SourcePolicy>()("@cargohold/core/SourcePolicy", {
  defaultValue: (): SourcePolicySettings => ({ cooldownMs: 60_000 })
}) {}

/**
 * Health of origins (scheme, host, port) within this process: a mirror that refused a connection for one artifact is
 * held back for the next ones too, without a catalog round trip. Keyed by origin, so bounded by the hosts in use.
 */
export interface OriginHealthService {
  readonly coolingUntil: (origin: string) => number
  readonly failed: (origin: string, until: number) => void
  readonly succeeded: (origin: string) => void
}

export const makeOriginHealth = (): OriginHealthService => {
  const until = new Map<string, number>()
  return {
    coolingUntil: (origin) => until.get(origin) ?? 0,
    failed: (origin, at) => {
      until.set(origin, at)
    },
    succeeded: (origin) => {
      until.delete(origin)
    }
  }
}

export class OriginHealth extends Context.Reference<OriginHealth>()("@cargohold/core/OriginHealth", {
  defaultValue: makeOriginHealth
}) {}

/** The origin a source's health is kept under (see http/origin.ts); a validated URL always has one. */
export const originOfSpec = (spec: DownloadSpec): string => originOf(spec.url) ?? spec.url

/** The validated sources a request names, `url` first; an invalid one fails the request before any I/O. */
export const requestedCandidates = (
  input: DownloadRequestInput
): Effect.Effect<NonEmptyReadonlyArray<Candidate>, InvalidRequest> => {
  const byUser = input.chosenBy === "user"
  const primary = validateRequest(input).pipe(
    Effect.map((spec) => candidate(spec, input.priority, undefined, input.remote, byUser))
  )
  const extra = input.sources
  if (extra === undefined || extra.length === 0) return Effect.map(primary, (c) => [c])
  return Effect.gen(function* () {
    const first = yield* primary
    const out: NonEmptyArray<Candidate> = [first]
    const seen = new Set<string>([first.spec.url])
    for (const source of extra) {
      const remote = source.remote ?? input.remote
      const spec = yield* validateRequest({ ...input, url: source.url, remote, sources: undefined })
      if (seen.has(spec.url)) continue
      seen.add(spec.url)
      out.push(candidate(spec, source.priority, source.weight, remote, byUser))
    }
    return out
  })
}

const candidate = (
  spec: DownloadSpec,
  priority: number | undefined,
  weight: number | undefined,
  remote: Remote | undefined,
  /** Named by the request (true, false) or known to the catalog (undefined); true: typed by the user. */
  chosenByUser: boolean | undefined,
  coolingUntil = 0
): Candidate => ({
  spec,
  priority: priority ?? remote?.priority ?? defaultPriority,
  declaredPriority: chosenByUser !== undefined ? priority : undefined,
  weight: weight !== undefined && weight > 0 ? weight : 1,
  remote,
  requested: chosenByUser !== undefined,
  fileAccess: {
    chosenByUser: chosenByUser === true,
    remote: remote === undefined ? undefined : { name: remote.name, fileRoots: remote.fileRoots }
  },
  coolingUntil
})

/**
 * Adds the sources the catalog knows for `sha256` (already ordered by priority, then health) and marks the
 * ones that failed recently. A catalog source naming a remote gets that remote's policy when Remotes has it.
 */
export const joinCatalogSources = (
  requested: ReadonlyArray<Candidate>,
  known: ReadonlyArray<SourceRow>,
  remotes: RemotesService,
  input: DownloadRequestInput,
  cooldownMs: number
): Effect.Effect<ReadonlyArray<Candidate>, DownloadError> =>
  Effect.gen(function* () {
    if (known.length === 0) return requested
    /** url → its place in `out` */
    const placeOf = new Map<string, number>()
    for (const [i, c] of requested.entries()) placeOf.set(c.spec.url, i)
    const out = [...requested]
    for (const row of known) {
      const failedAt = row.lastFailure
      const recent = failedAt !== undefined && (row.lastSuccess === undefined || failedAt > row.lastSuccess)
      const coolingUntil = recent ? failedAt.getTime() + cooldownMs : 0
      const place = placeOf.get(row.url)
      const mine = place === undefined ? undefined : out[place]
      if (place !== undefined && mine !== undefined) {
        out[place] = { ...mine, coolingUntil: Math.max(mine.coolingUntil, coolingUntil) }
        continue
      }
      let remote: Remote | undefined
      if (row.remote !== undefined) {
        const found = yield* remotes.get(row.remote)
        remote = found._tag === "Some" ? found.value : undefined
      }
      const spec = yield* Effect.either(validateRequest({ ...input, url: row.url, remote, sources: undefined }))
      if (spec._tag === "Left") continue // a source recorded by an older, laxer version: ignore it
      placeOf.set(row.url, out.length)
      out.push(candidate(spec.right, row.priority, undefined, remote, undefined, coolingUntil))
    }
    return out
  })

/** Weighted random order (Efraimidis–Spirakis): a source of weight w comes first w times as often as one of weight 1. */
const weightedShuffle = (group: Array<Candidate>): Array<Candidate> => {
  if (group.length < 2) return group
  const keyed = group.map((c) => ({ c, key: Math.random() ** (1 / c.weight) }))
  keyed.sort((a, b) => b.key - a.key)
  return keyed.map((k) => k.c)
}

/**
 * The order to try sources in: healthy ones by priority (highest first; equal priorities in weighted random
 * order), then those still cooling down, best priority and soonest recovery first — they are tried only when
 * every healthy one has failed.
 */
export const rankCandidates = (
  candidates: ReadonlyArray<Candidate>,
  health: OriginHealthService,
  now: number
): ReadonlyArray<Candidate> => {
  if (candidates.length === 1) return candidates
  const healthy: Array<Candidate> = []
  const cooling: Array<Candidate> = []
  for (const known of candidates) {
    const until = Math.max(known.coolingUntil, health.coolingUntil(originOfSpec(known.spec)))
    const c = until === known.coolingUntil ? known : { ...known, coolingUntil: until }
    ;(c.coolingUntil > now ? cooling : healthy).push(c)
  }
  healthy.sort((a, b) => b.priority - a.priority)
  const ordered: Array<Candidate> = []
  for (let i = 0; i < healthy.length; ) {
    let j = i + 1
    while (j < healthy.length && healthy[j]!.priority === healthy[i]!.priority) j++
    ordered.push(...weightedShuffle(healthy.slice(i, j)))
    i = j
  }
  cooling.sort((a, b) => b.priority - a.priority || a.coolingUntil - b.coolingUntil)
  return [...ordered, ...cooling]
}

/** The sources of one artifact, in the order to try them. */
export const planSources = (
  input: DownloadRequestInput,
  requested: NonEmptyReadonlyArray<Candidate>,
  sha256: Sha256 | undefined,
  catalog: CatalogService,
  remotes: RemotesService,
  /** The catalog's sources for `sha256` when the caller already has them (a batch looked them up in a group). */
  prefetched?: ReadonlyArray<SourceRow> | undefined
): Effect.Effect<NonEmptyReadonlyArray<Candidate>, DownloadError> =>
  Effect.gen(function* () {
    const policy = yield* SourcePolicy
    const health = yield* OriginHealth
    const now = Date.now()
    const known = sha256 === undefined ? [] : (prefetched ?? (yield* catalog.sourcesFor(sha256)))
    const joined = yield* joinCatalogSources(requested, known, remotes, input, policy.cooldownMs)
    const ranked = rankCandidates(joined, health, now)
    // the requested sources are always among the joined ones; the check only tells the type so
    return isNonEmptyReadonlyArray(ranked) ? ranked : requested
  })
