/**
 * `whereis SHA256|URL`: everything the catalog knows about one artifact, found by digest or by URL.
 */
import { redactUrl } from "../http/userinfo.js"
import { Effect, Option } from "effect"
import { type Algorithm, type ByteSize, hexLength, isAlgorithm, Sha256 } from "../domain/digest.js"
import type { CatalogError } from "../domain/errors.js"
import { Catalog } from "./Catalog.js"
import type { LocationRow, ProvenanceRow, SourceRow } from "./schema.js"

/** One artifact's whereabouts. `size` and `digests` are missing when it is only declared (sources, no download). */
export interface Whereabouts {
  readonly sha256: Sha256
  readonly size: ByteSize | undefined
  readonly digests: Readonly<Partial<Record<Algorithm, string>>>
  readonly locations: ReadonlyArray<LocationRow>
  readonly sources: ReadonlyArray<SourceRow>
  /** The latest downloads (newest first): where the bytes came from, peer, TLS certificate, protocol. */
  readonly downloads: ReadonlyArray<ProvenanceRow>
}

/** What a whereis query names. */
export type WhereisQuery =
  | { readonly _tag: "Digest"; readonly algorithm: Algorithm; readonly hex: string }
  | { readonly _tag: "Url"; readonly url: string }
  /** Neither a digest nor an absolute URL: nothing can match it (a usage error at a command line). */
  | { readonly _tag: "Invalid"; readonly reason: string }

/** What a whereis query names: a digest (`<sha256 hex>` or `algorithm:hex`), an absolute URL, or nothing valid. */
export const parseWhereisQuery = (query: string): WhereisQuery => {
  const trimmed = query.trim()
  const prefixed = /^([a-z0-9]+):([0-9a-fA-F]+)$/.exec(trimmed)
  if (prefixed !== null && isAlgorithm(prefixed[1]) && prefixed[2]!.length === hexLength[prefixed[1]]) {
    return { _tag: "Digest", algorithm: prefixed[1], hex: prefixed[2]!.toLowerCase() }
  }
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return { _tag: "Digest", algorithm: "sha256", hex: trimmed.toLowerCase() }
  if (prefixed !== null && isAlgorithm(prefixed[1])) {
    return { _tag: "Invalid", reason: `a ${prefixed[1]} digest has ${hexLength[prefixed[1]]} hex digits, got ${prefixed[2]!.length}` }
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\/./i.test(trimmed)) {
    return {
      _tag: "Invalid",
      reason: /^[0-9a-fA-F]+$/.test(trimmed)
        ? `a sha256 has 64 hex digits, got ${trimmed.length}`
        : "not a sha256 (64 hex digits), an ALG:HEX digest or an absolute URL"
    }
  }
  // URLs are catalogued without credentials written into them
  return { _tag: "Url", url: redactUrl(trimmed) }
}

/** Finds an artifact by digest or URL and gathers its locations and sources. */
export const whereis = (query: string): Effect.Effect<Option.Option<Whereabouts>, CatalogError, Catalog> =>
  Effect.gen(function* () {
    const catalog = yield* Catalog
    const parsed = parseWhereisQuery(query)
    if (parsed._tag === "Invalid") return Option.none()
    const sha256 =
      parsed._tag === "Url"
        ? yield* catalog.findByUrl(parsed.url)
        : parsed.algorithm === "sha256"
          ? Option.some(Sha256.make(parsed.hex))
          : yield* catalog.findByDigest(parsed.algorithm, parsed.hex)
    if (Option.isNone(sha256)) return Option.none()
    const entry = yield* catalog.lookup(sha256.value)
    if (Option.isSome(entry)) {
      const { artifact, locations, sources } = entry.value
      const downloads = yield* catalog.provenanceOf(artifact.sha256)
      return Option.some({ sha256: artifact.sha256, size: artifact.size, digests: artifact.digests, locations, sources, downloads })
    }
    const sources = yield* catalog.sourcesFor(sha256.value)
    if (sources.length === 0) return Option.none()
    return Option.some({
      sha256: sha256.value,
      size: undefined,
      digests: { sha256: sha256.value },
      locations: [],
      sources,
      downloads: []
    })
  })

const iso = (date: Date | undefined) => (date === undefined ? undefined : date.toISOString())

/** The `--json` shape of whereis: one object, dates as ISO strings, nothing secret. */
export const whereaboutsJson = (w: Whereabouts) => ({
  sha256: w.sha256,
  size: w.size,
  digests: w.digests,
  locations: w.locations.map((l) => ({
    store: l.store,
    key: l.key,
    state: l.state,
    storedAt: iso(l.storedAt),
    verifiedAt: iso(l.verifiedAt)
  })),
  sources: w.sources.map((s) => ({
    url: s.url,
    remote: s.remote,
    priority: s.priority,
    consecutiveFailures: s.consecutiveFailures,
    lastSuccess: iso(s.lastSuccess),
    lastFailure: iso(s.lastFailure),
    lastErrorTag: s.lastErrorTag,
    servedSha256: s.servedSha256
  })),
  downloads: w.downloads.map((d) => ({
    url: d.url,
    finalUrl: d.finalUrl,
    remote: d.remote,
    at: iso(d.at),
    bytes: d.bytes,
    peerAddress: d.peerAddress,
    tlsFingerprint: d.tlsFingerprint,
    protocol: d.protocol
  }))
})
