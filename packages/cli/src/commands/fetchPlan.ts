/**
 * From `fetch` flags to download requests, checked before anything is fetched: a usage error names what is wrong
 * and nothing is downloaded.
 */
import { type DownloadRequestInput, parseDigestSpec, type Remote, validateRequest } from "@cargohold/core"
import { Effect, Option } from "effect"
import { rejectFlagLikeArgs, UsageError } from "../errors.js"

export interface SingleArtifactFlags {
  readonly sha256: Option.Option<string>
  readonly digest: ReadonlyArray<string>
  readonly size: Option.Option<number>
  readonly mirror: ReadonlyArray<string>
}

const usage = (message: string) => new UsageError({ message })

/** `--digest ALG:HEX`… and `--sha256 HEX` as one record. */
const expectedDigests = (flags: SingleArtifactFlags): Effect.Effect<Record<string, string>, UsageError> =>
  Effect.suspend(() => {
    const digests: Record<string, string> = {}
    for (const spec of flags.digest) {
      const parsed = parseDigestSpec(spec)
      if (parsed === undefined) return Effect.fail(usage(`--digest must be ALG:HEX (e.g. sha512:ab12…), got '${spec}'`))
      if (digests[parsed.algorithm] !== undefined && digests[parsed.algorithm] !== parsed.hex) {
        return Effect.fail(usage(`two different ${parsed.algorithm} digests given`))
      }
      digests[parsed.algorithm] = parsed.hex
    }
    if (Option.isSome(flags.sha256)) {
      const hex = flags.sha256.value.trim().toLowerCase()
      if (digests.sha256 !== undefined && digests.sha256 !== hex) return Effect.fail(usage("--sha256 and --digest sha256:… disagree"))
      digests.sha256 = hex
    }
    return Effect.succeed(digests)
  })

/** Requests for the URLs on the command line, validated; `remote` applies to all of them. */
export const planFromUrls = (
  urls: ReadonlyArray<string>,
  flags: SingleArtifactFlags,
  remote: Remote | undefined
): Effect.Effect<ReadonlyArray<DownloadRequestInput>, UsageError> =>
  Effect.gen(function* () {
    const flagLike = rejectFlagLikeArgs(urls)
    if (flagLike !== undefined) return yield* Effect.fail(flagLike)
    const single = Option.isSome(flags.sha256) || flags.digest.length > 0 || Option.isSome(flags.size) || flags.mirror.length > 0
    if (single && urls.length !== 1) {
      return yield* Effect.fail(
        usage(`--sha256, --digest, --size and --mirror describe one artifact: give exactly one URL (got ${urls.length})`)
      )
    }
    const digests = yield* expectedDigests(flags)
    const size = Option.getOrUndefined(flags.size)
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
      return yield* Effect.fail(usage(`--size must be a non-negative integer, got ${size}`))
    }
    // typed here: the user's own choice (a file:// URL may name any of their files; see FileSource)
    const requests: Array<DownloadRequestInput> = urls.map((url) => ({
      url,
      chosenBy: "user",
      digests,
      size,
      remote,
      sources: flags.mirror.length > 0 ? flags.mirror.map((mirror) => ({ url: mirror, remote })) : undefined
    }))
    yield* validateAll(requests)
    return requests
  })

/** Every request validated; all problems reported together. */
export const validateAll = (requests: Iterable<DownloadRequestInput>): Effect.Effect<void, UsageError> =>
  Effect.gen(function* () {
    const problems: Array<string> = []
    for (const request of requests) {
      const checks = [request.url, ...(request.sources ?? []).map((source) => source.url)].map((url) =>
        validateRequest({ ...request, url, sources: undefined })
      )
      for (const check of checks) {
        const result = yield* Effect.either(check)
        if (result._tag === "Left") problems.push(result.left.message)
      }
    }
    if (problems.length > 0) return yield* Effect.fail(usage(problems.join("\n")))
  })
