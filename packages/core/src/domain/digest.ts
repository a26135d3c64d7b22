/**
 * Digests and sizes as values: branded, validated by Schema.
 */
import { Schema } from "effect"

/** The digest algorithms cargohold understands. sha256 is always computed: it is the identity of an artifact. */
export const Algorithm = Schema.Literal("sha256", "sha384", "sha512", "sha1", "md5")
export type Algorithm = typeof Algorithm.Type

export const algorithms: ReadonlyArray<Algorithm> = Algorithm.literals

/** Length in hex characters of each algorithm's digest. */
export const hexLength: Readonly<Record<Algorithm, number>> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha384: 96,
  sha512: 128
}

/** A lower-case hex digest of any supported algorithm. */
export const HexDigest = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]+$/, { message: () => "expected a hexadecimal digest" }),
  Schema.brand("HexDigest")
)
export type HexDigest = typeof HexDigest.Type

/** The identity of an artifact: a lower-case sha256 hex digest. */
export const Sha256 = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "expected 64 hexadecimal characters (sha256)" }),
  Schema.brand("Sha256")
)
export type Sha256 = typeof Sha256.Type

/** A size in bytes: a non-negative safe integer. */
export const ByteSize = Schema.Number.pipe(Schema.int(), Schema.nonNegative(), Schema.brand("ByteSize"))
export type ByteSize = typeof ByteSize.Type

/** Digests by algorithm. */
export const Digests = Schema.partial(
  Schema.Struct({
    sha256: HexDigest,
    sha384: HexDigest,
    sha512: HexDigest,
    sha1: HexDigest,
    md5: HexDigest
  })
)
export type Digests = typeof Digests.Type

/** All digests of a stored artifact: sha256 always, the others when computed. */
export const ComputedDigests = Schema.Struct({
  sha256: Sha256,
  sha384: Schema.optional(HexDigest),
  sha512: Schema.optional(HexDigest),
  sha1: Schema.optional(HexDigest),
  md5: Schema.optional(HexDigest)
})
export type ComputedDigests = typeof ComputedDigests.Type

const knownAlgorithms: ReadonlySet<string> = new Set(algorithms)

/** Whether a string names an algorithm (a set lookup: it runs on every download, Schema.is costs ≈ 10 µs cold). */
export const isAlgorithm = (name: unknown): name is Algorithm => typeof name === "string" && knownAlgorithms.has(name)

/**
 * The digests given, as [algorithm, hex] pairs (in the order given). `Object.entries` types keys as strings; a
 * `Digests` has only algorithm keys, so this is the one place that says so.
 */
export const digestEntries = (digests: Digests): Array<readonly [Algorithm, HexDigest]> =>
  Object.entries(digests).flatMap(([algorithm, hex]) =>
    hex !== undefined && isAlgorithm(algorithm) ? [[algorithm, hex] as const] : []
  )

/** Checks that a hex string has the right length for its algorithm. */
export const checkHexLength = (algorithm: Algorithm, hex: string): string | undefined =>
  hex.length === hexLength[algorithm]
    ? undefined
    : `${algorithm} digest must be ${hexLength[algorithm]} hex characters, got ${hex.length}`

/**
 * The key under which a content-addressed backend stores an artifact: `ab/cd/abcdef…` (the memory, null and S3
 * stores). A local file store shards one level deep in stores it makes (`ab/abcdef…`, the Node package's
 * shardLayout.ts), where every folder costs a directory inode and an fsync.
 */
export const shardedKey = (sha256: Sha256): string => `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`
