/**
 * `cargohold fetch URL... | -i FILE [flags]`: downloads, verifies, stores and catalogs each artifact (through the
 * library's `fetchMany`: bounded, deduplicated, one result per artifact).
 * Exit 0 when all are stored, 1 when one or more failed (the others are kept), 2 on a usage error.
 */
import { Args, Command, Options } from "@effect/cli"
import {
  type BatchResult,
  type CatalogError,
  type DownloadRequestInput,
  defaultLimits,
  fetchMany,
  Progress,
  type Remote,
  Remotes,
  Storage
} from "@cargohold/core"
import type { NodeServices } from "@cargohold/node"
import { type Either, Effect, Layer, Option, Stream } from "effect"
import { stderrRenderer, withServices } from "../env.js"
import { Finished, UsageError } from "../errors.js"
import { cluster, clusterUrl, requireClusterUrl } from "../options/cluster.js"
import { fileRoot, json, location, otlp } from "../options/common.js"
import { anyNetworkFlag, makeRemote, networkFields, networkOptions, parseByteRate } from "../options/network.js"
import { onCluster, rejectRunnerSideFlags, submitterLocation } from "./clusterFetch.js"
import { planFromUrls, validateAll } from "./fetchPlan.js"
import { type OutputError, outputTargets, saveCopy } from "./fetchOutput.js"
import { type Reported, resultJson, resultLine, storedPath } from "./fetchResults.js"
import { readManifest } from "./manifest.js"

const count = (name: string, description: string) =>
  Options.integer(name).pipe(Options.withPseudoName("N"), Options.withDescription(description), Options.optional)

export const fetchOptions = {
  urls: Args.text({ name: "URL" }).pipe(Args.withDescription("what to fetch: http://, https:// or file:// URLs (or none, with -i)"), Args.repeated),
  input: Options.text("input").pipe(
    Options.withAlias("i"),
    Options.withPseudoName("FILE"),
    Options.withDescription("a manifest: URL lines, JSON Lines or Metalink 4 (`-` reads stdin); validated as a whole first"),
    Options.optional
  ),
  sha256: Options.text("sha256").pipe(Options.withPseudoName("HEX"), Options.withDescription("expected sha256 (one URL only)"), Options.optional),
  digest: Options.text("digest").pipe(
    Options.withPseudoName("ALG:HEX"),
    Options.withDescription("expected digest ALG:HEX, e.g. sha512:… (one URL only; repeatable)"),
    Options.repeated
  ),
  size: count("size", "expected size in bytes (one URL only)"),
  mirror: Options.text("mirror").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("another source of the same artifact (one URL only; repeatable)"),
    Options.repeated
  ),
  remote: Options.text("remote").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("a remote defined with `remote add`: its network policy applies, relative URLs resolve against it"),
    Options.optional
  ),
  maxConnections: count("max-connections", `connections in all (default ${defaultLimits.global})`),
  perHost: count("per-host", `connections per host (default ${defaultLimits.perHost})`),
  retries: count("retries", "retries after the first attempt (default 3)"),
  segments: count("segments", "fetch an artifact of 64 MiB or more as N ranges at once (default 16; 1: one stream)"),
  segmentBelowRate: Options.text("segment-below-rate").pipe(
    Options.withPseudoName("RATE"),
    Options.withDescription(
      "go on in segments once one stream runs slower than RATE bytes/s (suffixes k, M, G; default 64M; 0: segments from the start)"
    ),
    Options.optional
  ),
  maxSize: Options.text("max-size").pipe(
    Options.withPseudoName("SIZE"),
    Options.withDescription("fail an artifact whose body passes SIZE bytes (suffixes k, M, G), stopped as soon as it does"),
    Options.optional
  ),
  fileRoot: fileRoot("file:// URLs of the manifest, the catalog's sources and remotes (not those typed here)"),
  output: Options.text("output").pipe(
    Options.withAlias("o"),
    Options.withPseudoName("FILE"),
    Options.withDescription("also save the artifact as FILE (one URL only): a verified copy that appears only whole"),
    Options.optional
  ),
  outputDir: Options.text("output-dir").pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription("also save each artifact in DIR under its URL's file name (verified copies, created whole)"),
    Options.optional
  ),
  failFast: Options.boolean("fail-fast").pipe(Options.withDescription("stop at the first failed artifact")),
  json,
  cluster,
  otlp,
  ...location,
  ...networkOptions
}

type FetchFlags = Command.Command.ParseConfig<typeof fetchOptions>

const atLeast = (flag: string, value: Option.Option<number>, min: number) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (n) => (n >= min ? Effect.succeed(n) : Effect.fail(new UsageError({ message: `${flag} must be at least ${min}` })))
  })

/**
 * What a fetch will request: the command line's URLs, then the manifest's requests, read as the batch pulls them
 * (`requests` may be called more than once; nothing of a manifest is held but its text).
 */
export interface FetchPlan {
  readonly count: number
  /** Sum of the expected sizes, when every request gives one. */
  readonly bytesExpected: number | undefined
  readonly requests: () => Iterable<DownloadRequestInput>
  /** The manifest line a request came from (undefined for the command line's URLs). */
  readonly lineOf: (request: DownloadRequestInput) => number | undefined
  /** Set when the manifest file changed after it was validated (its requests stopped there). */
  readonly changed: () => string | undefined
}

/** Runs the batch, one stdout line per artifact as it finishes; returns how many artifacts failed. */
export const fetchAll = (
  plan: FetchPlan,
  options: {
    readonly json: boolean
    readonly concurrency: number
    readonly failFast: boolean
    /** Writes result lines (one or more, joined by newlines) without tearing the live display. */
    readonly print: (line: string) => Effect.Effect<void>
    /** Where to save a copy of each request's artifact (-o / --output-dir). */
    readonly output?: ((index: number) => string | undefined) | undefined
  }
): Effect.Effect<number, never, NodeServices> =>
  Effect.gen(function* () {
    const storage = yield* Storage
    let failed = 0
    /** The result as reported, counting it as failed when it (or its copy) failed. */
    const reported = (result: BatchResult, saved: Either.Either<string, OutputError> | undefined): Reported => {
      const report: Reported = { result, line: plan.lineOf(result.request) }
      if (result._tag === "Ok") {
        Object.assign(report, {
          path: storedPath(storage, result),
          output: saved?._tag === "Right" ? saved.right : undefined,
          outputError: saved?._tag === "Left" ? { _tag: saved.left._tag, message: saved.left.message } : undefined
        })
      }
      if (result._tag === "Failed" || report.outputError !== undefined) failed++
      return report
    }
    const lineOf = (report: Reported) => (options.json ? JSON.stringify(resultJson(report)) : resultLine(report))
    const reportOne = (result: BatchResult) =>
      Effect.gen(function* () {
        let saved: Either.Either<string, OutputError> | undefined
        if (result._tag === "Ok") {
          const target = options.output?.(result.index)
          const local = Option.getOrUndefined(storage.localPath(result.artifact.sha256))
          saved = target === undefined ? undefined : yield* Effect.either(saveCopy(result.artifact, local, target))
        }
        yield* options.print(lineOf(reported(result, saved)))
      })
    // in chunks: fetchMany looks the catalog up per input chunk
    const requests = Stream.fromIterable(plan.requests()).pipe(Stream.rechunk(1024))
    yield* fetchMany(requests, {
      concurrency: options.concurrency,
      failFast: options.failFast,
      total: plan.count,
      bytesExpected: plan.bytesExpected
    }).pipe(
      Stream.runForEachChunk((chunk) => {
        if (options.output !== undefined) return Effect.forEach(chunk, reportOne, { discard: true })
        // no copies to save: the chunk's lines are made at once and written in one go
        const lines: Array<string> = []
        for (const result of chunk) lines.push(lineOf(reported(result, undefined)))
        return lines.length === 0 ? Effect.void : options.print(lines.join("\n"))
      })
    )
    return failed
  })

/** The remote the network flags describe, if any (named `command-line`). */
const commandLineRemote = (flags: FetchFlags, base: string): Effect.Effect<Remote | undefined, UsageError> =>
  anyNetworkFlag(flags)
    ? Effect.flatMap(networkFields(flags), (fields) => makeRemote({ name: "command-line", url: base, ...fields }))
    : Effect.succeed(undefined)

/** The `--remote` named in the catalog, with the command line's network flags applied over it. */
const remoteFor = (flags: FetchFlags, base: string): Effect.Effect<Remote | undefined, UsageError | CatalogError, Remotes> =>
  Option.match(flags.remote, {
    onNone: () => commandLineRemote(flags, base),
    onSome: (name) =>
      Effect.gen(function* () {
        const stored = yield* (yield* Remotes).get(name)
        if (Option.isNone(stored)) return yield* Effect.fail(new UsageError({ message: `no remote named '${name}'` }))
        if (!anyNetworkFlag(flags)) return stored.value
        return yield* makeRemote({ ...stored.value, ...(yield* networkFields(flags)) })
      })
  })

/** Sum of the sizes, when every request gives one. */
const sizesOf = (requests: ReadonlyArray<DownloadRequestInput>): number | undefined =>
  requests.every((r) => r.size !== undefined) ? requests.reduce((sum, r) => sum + (r.size ?? 0), 0) : undefined

/** Every request of the command line and the manifest, all validated (a usage error otherwise). */
const plan = (flags: FetchFlags, remote: Remote | undefined): Effect.Effect<FetchPlan, UsageError> =>
  Effect.gen(function* () {
    const fromArgs = yield* planFromUrls(flags.urls, flags, remote)
    if (Option.isNone(flags.input)) {
      return { count: fromArgs.length, bytesExpected: sizesOf(fromArgs), requests: () => fromArgs, lineOf: () => undefined, changed: () => undefined }
    }
    const manifest = yield* readManifest(flags.input.value)
    // the line of each manifest request while the batch holds it (a request object is the batch's own until done)
    const lines = new WeakMap<DownloadRequestInput, number>()
    function* fromManifest(): Generator<DownloadRequestInput> {
      for (const { request, line } of manifest.entries()) {
        const withRemote = remote === undefined ? request : { ...request, remote: request.remote ?? remote }
        lines.set(withRemote, line)
        yield withRemote
      }
    }
    // a remote resolves and polices the manifest's URLs: checked again through it, one request at a time
    if (remote !== undefined) yield* validateAll(fromManifest())
    const argsBytes = sizesOf(fromArgs)
    return {
      count: fromArgs.length + manifest.count,
      bytesExpected: argsBytes === undefined || manifest.bytesExpected === undefined ? undefined : argsBytes + manifest.bytesExpected,
      requests: function* () {
        yield* fromArgs
        yield* fromManifest()
      },
      lineOf: (request) => lines.get(request),
      changed: manifest.changed
    }
  })

/** A byte rate, or 0 (`--segment-below-rate 0`: no watching). */
const rateOrZero = (text: string): number | undefined =>
  /^0+(?:\.0*)?\s*[kKmMgG]?(?:i?B)?$/.test(text.trim()) ? 0 : parseByteRate(text)

export const runFetch = (flags: FetchFlags): Effect.Effect<void, UsageError | Finished | CatalogError> =>
  Effect.gen(function* () {
    if (flags.urls.length === 0 && Option.isNone(flags.input)) {
      return yield* Effect.fail(new UsageError({ message: "fetch needs at least one URL or -i FILE" }))
    }
    const global = yield* atLeast("--max-connections", flags.maxConnections, 1)
    const perHost = yield* atLeast("--per-host", flags.perHost, 1)
    const retries = yield* atLeast("--retries", flags.retries, 0)
    const segments = yield* atLeast("--segments", flags.segments, 1)
    const segmentBelowRate = Option.isSome(flags.segmentBelowRate) ? rateOrZero(flags.segmentBelowRate.value) : undefined
    if (Option.isSome(flags.segmentBelowRate) && segmentBelowRate === undefined) {
      return yield* Effect.fail(
        new UsageError({ message: `--segment-below-rate: not a byte rate: '${flags.segmentBelowRate.value}' (e.g. 32M, 0)` })
      )
    }
    const maxSize = Option.isSome(flags.maxSize) ? parseByteRate(flags.maxSize.value) : undefined
    if (Option.isSome(flags.maxSize) && maxSize === undefined) {
      return yield* Effect.fail(new UsageError({ message: `--max-size: not a size: '${flags.maxSize.value}' (e.g. 500M, 2G)` }))
    }
    const onClusterAt = clusterUrl(flags.cluster) === undefined ? undefined : yield* requireClusterUrl(flags.cluster)
    if (onClusterAt !== undefined) yield* rejectRunnerSideFlags(flags, anyNetworkFlag(flags))
    if (onClusterAt !== undefined && (Option.isSome(flags.output) || Option.isSome(flags.outputDir)) && Option.isNone(flags.store)) {
      return yield* Effect.fail(new UsageError({ message: "with --cluster, -o and --output-dir copy from the runners' store: name it with --store" }))
    }
    const base = flags.urls[0] ?? "http://localhost/"
    // without --remote, everything is checked before the catalog is even opened
    const checked = Option.isNone(flags.remote) ? yield* Effect.flatMap(commandLineRemote(flags, base), (r) => plan(flags, r)) : undefined
    const limits =
      global !== undefined || perHost !== undefined
        ? { global: global ?? defaultLimits.global, perHost: Math.min(perHost ?? defaultLimits.perHost, global ?? Infinity) }
        : undefined
    // results on stdout, the live display and the summary on stderr (closed, with the summary, on every exit path)
    const renderer = yield* stderrRenderer({ results: true })
    const print = (line: string) => Effect.sync(() => renderer.printAbove(() => process.stdout.write(`${line}\n`)))
    const failed = yield* Effect.gen(function* () {
      const planned = checked ?? (yield* Effect.flatMap(remoteFor(flags, base), (remote) => plan(flags, remote)))
      // -o / --output-dir name a file per request: only then are the URLs gathered up front
      const wantsOutput = Option.isSome(flags.output) || Option.isSome(flags.outputDir)
      const urls = wantsOutput ? Array.from(planned.requests(), (request) => String(request.url)) : []
      const output = yield* outputTargets(flags, urls)
      const batch = fetchAll(planned, {
        output,
        json: flags.json,
        concurrency: Math.max(limits?.global ?? defaultLimits.global, 1),
        failFast: flags.failFast,
        print
      })
      const failedArtifacts = yield* onClusterAt === undefined ? batch : onCluster(onClusterAt)(batch)
      // the manifest file changed under the batch: what was fetched stands, the rest was not read
      const changed = planned.changed()
      if (changed === undefined) return failedArtifacts
      yield* Effect.sync(() => renderer.printAbove(() => process.stderr.write(`cargohold: ${changed}\n`)))
      return failedArtifacts + 1
    }).pipe(
      withServices(onClusterAt === undefined ? flags : submitterLocation(flags, onClusterAt), {
        progress: Layer.succeed(Progress, renderer.progress),
        limits,
        fileRoots: flags.fileRoot,
        otlp: flags.otlp,
        settings:
          retries === undefined && maxSize === undefined && segments === undefined && segmentBelowRate === undefined
            ? undefined
            : {
                ...(retries === undefined ? {} : { attempts: retries + 1 }),
                ...(maxSize === undefined ? {} : { maxSize }),
                ...(segments === undefined ? {} : { segments }),
                ...(segmentBelowRate === undefined ? {} : { segmentBelowRate })
              }
      })
    )
    if (failed > 0) return yield* Effect.fail(new Finished({ code: 1 }))
  }).pipe(Effect.scoped)

export const fetchCommand = Command.make("fetch", fetchOptions, runFetch).pipe(
  Command.withDescription("download, verify, store and catalog artifacts")
)
