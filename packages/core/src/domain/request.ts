/**
 * What a caller asks for, and the validated form the pipeline works on.
 */
import { Effect, type Redacted, Schema } from "effect"
import { ByteSize, checkHexLength, Digests, isAlgorithm, Sha256 } from "./digest.js"
import { InvalidRequest } from "./errors.js"
import { Remote } from "../remote/Remote.js"
import { fileAccessProblem } from "../remote/policy.js"
import { redactUrl, takeUserinfo } from "../http/userinfo.js"

/** One more place a request's bytes can come from (a mirror, an alternate content source). */
export interface SourceInput {
  readonly url: string | URL
  /** Higher is preferred (default 100, the catalog's default priority). */
  readonly priority?: number | undefined
  /** Share of the load among sources of equal priority (default 1). */
  readonly weight?: number | undefined
  /** The remote this source belongs to (its network policy applies; its name is recorded in the catalog). */
  readonly remote?: Remote | undefined
}

/**
 * Digests of consecutive pieces of the file (Metalink `<pieces>`): piece i is bytes `[i * length, (i + 1) * length)`.
 * A segmented download checks each piece as it completes and fetches a bad one again from another source.
 */
export interface PieceDigests {
  /** sha256, sha1, … (as `digests`). */
  readonly algorithm: string
  readonly length: number
  readonly hashes: ReadonlyArray<string>
}

/** A download request as callers write it. */
export interface DownloadRequestInput {
  readonly url: string | URL
  /** Expected size in bytes; the body is cut off as soon as it passes this. */
  readonly size?: number | undefined
  /** Shorthand for `digests: { sha256 }`. */
  readonly sha256?: string | undefined
  /** Expected digests by algorithm (sha256, sha384, sha512, sha1, md5). */
  readonly digests?: Readonly<Record<string, string | undefined>> | undefined
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** The remote this comes from: its network policy applies, and a relative `url` resolves against its base. */
  readonly remote?: Remote | undefined
  /** Further sources of the same bytes; `url` is the first one (priority 100 unless `priority` says otherwise). */
  readonly sources?: ReadonlyArray<SourceInput> | undefined
  /** Per-piece digests (Metalink `<pieces>`), checked when the artifact is fetched in segments. */
  readonly pieces?: PieceDigests | undefined
  /** Priority of `url` among `sources` (default 100). */
  readonly priority?: number | undefined
  /**
   * Who chose the URLs of this request (`url` and `sources`). `"user"`: the person running the program typed them
   * (a command-line argument), so a `file://` URL may name any regular file of theirs. `"data"` (the default):
   * they come from a manifest, a remote's index, the catalog or other input, and a `file://` URL is read only
   * under an explicit root (the file source's roots, its remote's `fileRoots`). Never under /proc, /sys or /dev.
   */
  readonly chosenBy?: "user" | "data" | undefined
}

export const Scheme = Schema.Literal("http:", "https:", "file:")
export type Scheme = typeof Scheme.Type

/** A request the pipeline can run: URL parsed, scheme known, digests well-formed. */
export class DownloadSpec extends Schema.Class<DownloadSpec>("DownloadSpec")({
  url: Schema.String,
  scheme: Scheme,
  size: Schema.optional(ByteSize),
  digests: Digests,
  headers: Schema.Record({ key: Schema.String, value: Schema.String }),
  remote: Schema.optional(Schema.instanceOf(Remote)),
  /** Basic auth from credentials written into the URL (`user:pw@`), for `url`'s own origin only; `url` is without them. */
  urlAuthorization: Schema.optional(Schema.Redacted(Schema.String))
}) {
  /** The expected digests as a partial record. */
  get expected(): Digests {
    return this.digests
  }
}

const fail = (url: string, reason: string) => Effect.fail(new InvalidRequest({ url, reason }))

/**
 * The longest URL a request may have. Servers refuse longer request lines anyway (nginx's default buffer is 8 KiB,
 * Node's header limit 16 KiB), and a source URL is kept in the catalog and printed in every report.
 */
export const maxUrlLength = 16 * 1024

const parseUrl = (raw: string, base: string | undefined): URL | undefined => {
  try {
    return new URL(raw, base)
  } catch {
    return undefined
  }
}

/** A digest as requests give it, normalized: surrounding blanks dropped, lower case. */
const normalizeHex = (value: string): string => value.trim().toLowerCase()

/**
 * The sha256 a request names, normalized as `validateRequest` normalizes it; undefined when it names none or a
 * malformed one (validation then says why). For grouping requests before they are validated.
 */
export const requestedSha256 = (input: DownloadRequestInput): Sha256 | undefined => {
  const raw = input.sha256 ?? input.digests?.sha256
  if (raw === undefined) return undefined
  const hex = normalizeHex(raw)
  return /^[0-9a-f]{64}$/.test(hex) ? Sha256.make(hex) : undefined
}

/**
 * Validates a request before any I/O: bad URL, unknown scheme, unknown algorithm, malformed hex, bad size
 * all fail with `InvalidRequest`.
 */
export const validateRequest = (input: DownloadRequestInput): Effect.Effect<DownloadSpec, InvalidRequest> =>
  Effect.suspend(() => {
    // every message names the URL without credentials written into it
    const written = String(input.url)
    const raw = redactUrl(written)
    if (written.length > maxUrlLength) {
      return fail(`${raw.slice(0, 100)}…`, `the URL is ${written.length} characters long (at most ${maxUrlLength})`)
    }
    const url = parseUrl(written, input.remote?.url)
    if (url === undefined) return fail(raw, "not a valid absolute URL")
    if (url.href.length > maxUrlLength) {
      return fail(`${redactUrl(url.href).slice(0, 100)}…`, `the URL is ${url.href.length} characters long (at most ${maxUrlLength})`)
    }
    if (!Schema.is(Scheme)(url.protocol)) {
      return fail(raw, `unsupported scheme '${url.protocol.replace(/:$/, "")}' (use http, https or file)`)
    }
    if ((url.protocol === "http:" || url.protocol === "https:") && url.hostname === "") {
      return fail(raw, "URL has no host")
    }
    if (url.protocol === "file:") {
      const problem = fileAccessProblem(url)
      if (problem !== undefined) return fail(raw, problem)
    }
    const digests: Record<string, string> = {}
    const given = { ...(input.digests ?? {}), ...(input.sha256 !== undefined ? { sha256: input.sha256 } : {}) }
    for (const [name, value] of Object.entries(given)) {
      if (value === undefined) continue
      const algorithm = name.toLowerCase().replace(/-/g, "")
      if (!isAlgorithm(algorithm)) {
        return fail(raw, `unknown digest algorithm '${name}' (known: sha256, sha384, sha512, sha1, md5)`)
      }
      const hex = normalizeHex(value)
      if (!/^[0-9a-f]*$/.test(hex)) return fail(raw, `${algorithm} digest is not hexadecimal: '${value}'`)
      const lengthProblem = checkHexLength(algorithm, hex)
      if (lengthProblem !== undefined) return fail(raw, lengthProblem)
      digests[algorithm] = hex
    }
    if (input.size !== undefined && !(Number.isSafeInteger(input.size) && input.size >= 0)) {
      return fail(raw, `size must be a non-negative integer, got ${input.size}`)
    }
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(input.headers ?? {})) {
      if (typeof value !== "string") return fail(raw, `header '${name}' must be a string`)
      headers[name] = value
    }
    if (input.remote !== undefined && !(input.remote instanceof Remote)) {
      return fail(raw, "remote must be a Remote (made with new Remote(...) or decoded with its Schema)")
    }
    const urlAuthorization: Redacted.Redacted<string> | undefined = takeUserinfo(url)
    // every field is checked above: the spec is built without a second Schema pass (hot path of every download)
    const spec = {
      url: url.href,
      scheme: url.protocol as Scheme,
      size: input.size === undefined ? undefined : ByteSize.make(input.size),
      digests,
      headers,
      remote: input.remote,
      urlAuthorization
    }
    return Effect.succeed(new DownloadSpec(spec, true))
  })

/**
 * Parses `ALG:HEX` (or `ALG=HEX`) as written on a command line or in a manifest.
 */
export const parseDigestSpec = (spec: string): { algorithm: string; hex: string } | undefined => {
  const match = /^([A-Za-z0-9-]+)[:=]([0-9A-Fa-f]+)$/.exec(spec.trim())
  return match ? { algorithm: match[1]!.toLowerCase().replace(/-/g, ""), hex: match[2]!.toLowerCase() } : undefined
}
