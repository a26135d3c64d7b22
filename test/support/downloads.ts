/**
 * Small helpers around `download` for tests: the failure of an exit, hashing, timing.
 */
import { download, type DownloadError, type DownloadRequestInput } from "@cargohold/core"
import { Cause, Effect, Exit, Option } from "effect"
import { createHash } from "node:crypto"

export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")

/** Runs a download and returns its exit, for asserting on failures. */
export const tryDownload = (input: DownloadRequestInput) => Effect.exit(download(input))

/** The typed failure of an exit (throws when the exit is a success or a defect). */
export const failureOf = <A>(exit: Exit.Exit<A, DownloadError>): DownloadError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** Milliseconds `effect` took, with its result. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = Date.now()
    const result = yield* effect
    return { result, ms: Date.now() - start }
  })
