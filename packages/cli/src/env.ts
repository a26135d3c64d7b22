/**
 * The services a command runs on: the Node layer (HTTP, store, catalog) chosen by `--home`, `--catalog`, `--store`
 * (or CARGOHOLD_HOME / CARGOHOLD_CATALOG / CARGOHOLD_STORE), and the progress renderer. A layer that cannot be
 * built (bad URL, unreachable database, unwritable home) is a configuration error: exit 2.
 */
import { type DownloadSettings, layerSilent, type Progress } from "@cargohold/core"
import type { NodeLayerOptions, NodeServices } from "@cargohold/node"
import { type Repositories, type Storage, StorageError } from "@cargohold/core"
import { Effect, Layer, Option, type Scope } from "effect"
import { UsageError } from "./errors.js"
import { parseByteRate } from "./options/network.js"
import { layerRenderer, startRenderer } from "./progress/layer.js"
import type { Renderer } from "./progress/renderer.js"

export interface LocationFlags {
  readonly home: Option.Option<string>
  readonly catalog: Option.Option<string>
  readonly store: Option.Option<string>
}

export interface EnvOptions {
  readonly progress?: Layer.Layer<Progress> | undefined
  readonly limits?: { readonly global: number; readonly perHost: number } | undefined
  readonly settings?: Partial<DownloadSettings> | undefined
  /** Folders `file://` URLs from manifests, the catalog and remotes may read (`--file-root`; default none). */
  readonly fileRoots?: ReadonlyArray<string> | undefined
  /** `--otlp URL`; without it OTEL_EXPORTER_OTLP_ENDPOINT; telemetry stays off when neither is set. */
  readonly otlp?: Option.Option<string> | undefined
}

const fromEnv = (flag: Option.Option<string>, variable: string): string | undefined =>
  Option.getOrUndefined(flag) ?? (process.env[variable] !== "" ? process.env[variable] : undefined)

/**
 * The renderer on stderr for the current scope (a live display on a TTY), with the summary at the end; the
 * command writes one result line per artifact on stdout itself (through `printAbove` when both are the terminal).
 */
export const stderrRenderer = (options: { readonly results: boolean }): Effect.Effect<Renderer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => startRenderer({ target: process.stderr, eachArtifact: !options.results, sharesTerminal: process.stdout.isTTY === true })),
    (renderer) => Effect.sync(renderer.stop)
  )

/** Live display only (a TTY): the command reports results itself. */
export const liveOnlyProgress: Layer.Layer<Progress> = layerRenderer({ target: process.stderr, eachArtifact: false, summary: false })

/**
 * The Node layers and the S3 store are imported when a command first needs them, so `--help`, `--version` and
 * usage errors do not pay for undici, SQLite or the AWS SDK at start-up.
 */
const loadNode = Effect.promise(() => import("@cargohold/node"))

/**
 * CARGOHOLD_MIN_FREE: the free-space reserve of a filesystem store (suffixes k, M, G; `0` turns it off; default
 * max(1 GiB, 2 % of the filesystem)). Either bytes or the reason the value is unusable.
 */
const minFreeFromEnv = (): { readonly bytes: number | undefined } | { readonly invalid: string } => {
  const text = process.env.CARGOHOLD_MIN_FREE?.trim()
  if (text === undefined || text === "") return { bytes: undefined }
  const bytes = /^0+(?:\.0*)?\s*[kKmMgG]?(?:i?B)?$/.test(text) ? 0 : parseByteRate(text)
  return bytes === undefined
    ? { invalid: `CARGOHOLD_MIN_FREE: not a size: '${text}' (e.g. 2G, 512M, 0 for no reserve)` }
    : { bytes }
}

/**
 * `s3://` stores, loaded on first use. The AWS SDK warns on every S3 client made under Node < 22 (an 8-line
 * notice about its future releases, of no use to someone running `cargohold`); the SDK's documented switch
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED turns it off, unless the user set it themselves.
 */
export const layerS3Store = (url: string): Layer.Layer<Storage, StorageError> =>
  Layer.unwrapEffect(
    Effect.zipWith(
      Effect.promise(() => {
        process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
        return import("@cargohold/s3")
      }),
      loadNode,
      // temp uploads named by their owner: the next process aborts a killed one's multipart upload at once
      (s3, node) => s3.layerS3StorageFromUrl(url, { owners: node.processTempOwners })
    )
  )

/** The Storage a URL names (`file:`, `s3:`, `temp:`, `memory:`). */
export const layerStoreAt = (url: string): Layer.Layer<Storage, StorageError> => {
  const reserve = minFreeFromEnv()
  if ("invalid" in reserve) return Layer.fail(new StorageError({ operation: "configure", reason: "InvalidConfig", detail: reserve.invalid }))
  return Layer.unwrapEffect(
    Effect.map(loadNode, (node) =>
      node.layerStorageFromUrl(url, { schemes: { "s3:": layerS3Store }, minFreeBytes: reserve.bytes })
    )
  )
}

/** What the location flags and the command's options ask of the Node layer. */
const nodeOptions = (flags: LocationFlags, options: EnvOptions, minFreeBytes: number | undefined): NodeLayerOptions => ({
  minFreeBytes,
  home: Option.getOrUndefined(flags.home),
  catalog: fromEnv(flags.catalog, "CARGOHOLD_CATALOG"),
  store: fromEnv(flags.store, "CARGOHOLD_STORE"),
  storeSchemes: { "s3:": layerS3Store },
  limits: options.limits,
  settings: options.settings,
  fileRoots: options.fileRoots ?? [],
  progress: options.progress ?? layerSilent
})

/** The Node package and the store's free-space reserve; an unusable CARGOHOLD_MIN_FREE is a configuration error. */
const withNode = <A, E>(
  f: (node: typeof import("@cargohold/node"), minFreeBytes: number | undefined) => Effect.Effect<A, E | UsageError>
): Effect.Effect<A, E | UsageError> =>
  Effect.suspend(() => {
    const reserve = minFreeFromEnv()
    if ("invalid" in reserve) return Effect.fail(new UsageError({ message: `configuration: ${reserve.invalid}` }))
    return Effect.flatMap(loadNode, (node) => f(node, reserve.bytes))
  })

/**
 * The telemetry layer when asked for (`--otlp`, else OTEL_EXPORTER_OTLP_ENDPOINT), imported only then: a command
 * without telemetry never loads the exporter.
 */
const withTelemetry = <S, E>(options: EnvOptions, layer: Layer.Layer<S, E>): Layer.Layer<S, E> => {
  const endpoint = fromEnv(options.otlp ?? Option.none(), "OTEL_EXPORTER_OTLP_ENDPOINT")?.trim()
  if (endpoint === undefined || endpoint === "") return layer
  const otlp = Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("@cargohold/node/otlp")),
      (module) => module.layerOtlp({ endpoint })
    )
  )
  // telemetry first: it is closed last, after the downloads, and sends what is left
  return Layer.provideMerge(layer, otlp)
}

/** Runs `effect` on the Node layer; building the layer fails with a `UsageError`. */
export const withServices =
  (flags: LocationFlags, options: EnvOptions = {}) =>
  <A, E>(effect: Effect.Effect<A, E, NodeServices>): Effect.Effect<A, E | UsageError> =>
    withNode((node, minFree) => runOn(withTelemetry(options, node.layerNode(nodeOptions(flags, options, minFree))), effect))

/** Runs `effect` on the Node layer with Repositories (in the catalog's database). */
export const withRepositories =
  (flags: LocationFlags, options: EnvOptions = {}) =>
  <A, E>(effect: Effect.Effect<A, E, NodeServices | Repositories>): Effect.Effect<A, E | UsageError> =>
    withNode((node, minFree) => runOn(node.layerNodeRepositories(nodeOptions(flags, options, minFree)), effect))

const runOn = <A, E, S, LE extends { readonly message: string }>(
  layer: Layer.Layer<S, LE>,
  effect: Effect.Effect<A, E, S>
): Effect.Effect<A, E | UsageError> =>
    Effect.scoped(
      Effect.gen(function* () {
        const context = yield* Layer.build(layer).pipe(
          Effect.mapError((error) => new UsageError({ message: `configuration: ${error.message}` }))
        )
        return yield* Effect.provide(effect, context)
      })
    )
