/**
 * `cargohold fetch URL... [flags]`: downloads, verifies, stores and catalogs each artifact.
 * Exit 0 when all are stored, 1 when one or more failed (the others are kept), 2 on a usage error.
 */
import { Args, Command, Options } from "@effect/cli"
import { type DownloadRequestInput, download, type DownloadError, defaultLimits, type Remote } from "@cargohold/core"
import type { NodeServices } from "@cargohold/node"
import { Effect, Either, Option } from "effect"
import { withServices, stderrProgress } from "../env.js"
import { Finished, UsageError } from "../errors.js"
import { json, location } from "../options/common.js"
import { anyNetworkFlag, makeRemote, networkFields, networkOptions } from "../options/network.js"
import { printJson } from "../output.js"
import { planFromUrls } from "./fetchPlan.js"

const count = (name: string, description: string) =>
  Options.integer(name).pipe(Options.withDescription(description), Options.optional)

export const fetchOptions = {
  urls: Args.text({ name: "URL" }).pipe(Args.withDescription("http://, https:// or file:// URLs"), Args.repeated),
  sha256: Options.text("sha256").pipe(Options.withDescription("expected sha256 (one URL only)"), Options.optional),
  digest: Options.text("digest").pipe(
    Options.withDescription("expected digest ALG:HEX, e.g. sha512:… (one URL only; repeatable)"),
    Options.repeated
  ),
  size: count("size", "expected size in bytes (one URL only)"),
  mirror: Options.text("mirror").pipe(Options.withDescription("another source of the same artifact (repeatable)"), Options.repeated),
  maxConnections: count("max-connections", `connections in all (default ${defaultLimits.global})`),
  perHost: count("per-host", `connections per host (default ${defaultLimits.perHost})`),
  retries: count("retries", "retries after the first attempt (default 3)"),
  json,
  ...location,
  ...networkOptions
}

type FetchFlags = Command.Command.ParseConfig<typeof fetchOptions>

/** One line of `--json` output. */
export interface FetchResultJson {
  readonly url: string
  readonly status: "ok" | "failed"
  readonly sha256?: string
  readonly size?: number
  readonly cached?: boolean
  readonly error?: { readonly _tag: string; readonly message: string }
}

const resultJson = (url: string, result: Either.Either<{ sha256: string; size: number; cached: boolean }, DownloadError>): FetchResultJson =>
  Either.match(result, {
    onRight: (artifact) => ({ url, status: "ok", sha256: artifact.sha256, size: artifact.size, cached: artifact.cached }),
    onLeft: (error) => ({ url, status: "failed", error: { _tag: error._tag, message: error.message } })
  })

const positiveCount = (flag: string, value: Option.Option<number>, min: number) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (n) => (n >= min ? Effect.succeed(n) : Effect.fail(new UsageError({ message: `${flag} must be at least ${min}` })))
  })

/** Runs the requests concurrently (the connection limits bound the network); returns the number that failed. */
export const fetchAll = (
  requests: ReadonlyArray<DownloadRequestInput>,
  options: { readonly json: boolean; readonly concurrency: number }
): Effect.Effect<number, never, NodeServices> =>
  Effect.gen(function* () {
    let failed = 0
    yield* Effect.forEach(
      requests,
      (request) =>
        Effect.either(download(request)).pipe(
          Effect.tap((result) => {
            if (Either.isLeft(result)) failed++
            return options.json ? printJson(resultJson(String(request.url), result)) : Effect.void
          })
        ),
      { concurrency: options.concurrency, discard: true }
    )
    return failed
  })

/** The remote the network flags describe, if any (named `command-line`). */
const commandLineRemote = (flags: FetchFlags, base: string | undefined): Effect.Effect<Remote | undefined, UsageError> =>
  anyNetworkFlag(flags) && base !== undefined
    ? Effect.flatMap(networkFields(flags), (fields) => makeRemote({ name: "command-line", url: base, ...fields }))
    : Effect.succeed(undefined)

export const runFetch = (flags: FetchFlags): Effect.Effect<void, UsageError | Finished> =>
  Effect.gen(function* () {
    if (flags.urls.length === 0) return yield* Effect.fail(new UsageError({ message: "fetch needs at least one URL" }))
    const global = yield* positiveCount("--max-connections", flags.maxConnections, 1)
    const perHost = yield* positiveCount("--per-host", flags.perHost, 1)
    const retries = yield* positiveCount("--retries", flags.retries, 0)
    const remote = yield* commandLineRemote(flags, flags.urls[0])
    const requests = yield* planFromUrls(flags.urls, flags, remote)
    const limits =
      global !== undefined || perHost !== undefined
        ? { global: global ?? defaultLimits.global, perHost: Math.min(perHost ?? defaultLimits.perHost, global ?? Infinity) }
        : undefined
    const failed = yield* fetchAll(requests, { json: flags.json, concurrency: Math.max(limits?.global ?? defaultLimits.global, 1) }).pipe(
      withServices(flags, {
        progress: stderrProgress({ json: flags.json }),
        limits,
        settings: retries === undefined ? undefined : { attempts: retries + 1 }
      })
    )
    if (failed > 0) return yield* Effect.fail(new Finished({ code: 1 }))
  })

export const fetchCommand = Command.make("fetch", fetchOptions, runFetch).pipe(
  Command.withDescription("download, verify, store and catalog artifacts")
)
