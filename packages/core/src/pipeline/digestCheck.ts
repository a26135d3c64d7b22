/**
 * The digest check of a download: the bytes a source delivered are accepted only when their size and every digest
 * the request expects match what was computed while they arrived. (Integrity at rest — re-hashing stored copies —
 * is integrity/verify.ts.)
 */
import { Effect } from "effect"
import { type ComputedDigests, digestEntries } from "../domain/digest.js"
import { DigestMismatch, type DownloadError, SizeMismatch } from "../domain/errors.js"
import type { Transfer } from "./transfer.js"

/**
 * Checks size and every expected digest; returns the computed digests. On a digest mismatch, `served` receives
 * the sha256 of the bytes the source actually sent.
 */
export const checkDigests = (
  transfer: Transfer,
  served: (sha256: string) => void
): Effect.Effect<ComputedDigests, DownloadError> =>
  Effect.suspend((): Effect.Effect<ComputedDigests, DownloadError> => {
    const { spec } = transfer
    if (spec.size !== undefined && transfer.received !== spec.size) {
      return Effect.fail(new SizeMismatch({ url: transfer.finalUrl, expected: spec.size, actual: transfer.received }))
    }
    const computed = transfer.hash.digests()
    for (const [algorithm, expected] of digestEntries(spec.digests)) {
      const actual = computed[algorithm]
      if (actual !== expected) {
        served(computed.sha256 ?? "")
        return Effect.fail(new DigestMismatch({ url: transfer.finalUrl, algorithm, expected, actual: actual ?? "" }))
      }
    }
    return Effect.succeed(computed as ComputedDigests)
  })
