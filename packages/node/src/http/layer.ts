/**
 * `layerHttp`: @effect/platform's `HttpClient` on undici, with one set of connection pools for the whole
 * process, and the `NetworkPolicy` that routes each remote's requests to the pool of its TLS and proxy settings.
 * Plugins use the same `HttpClient` for their own requests (and share the pools): wrap an effect in
 * `(yield* NetworkPolicy).forRemote(remote)` → `provide` to send it through a remote's transport.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import {
  defaultSettings,
  directConnection,
  type InvalidRequest,
  NetworkPolicy,
  type NetworkPolicyService,
  needsTransport,
  type Remote,
  type RemoteConnection
} from "@cargohold/core"
import { Context, Duration, Effect, Layer } from "effect"
import type { Dispatcher } from "undici"
import { makeDispatcher, type PoolOptions, RoutingDispatcher } from "./pools.js"
import { resolveTransport } from "./transportSettings.js"

export interface HttpOptions {
  /** Connections per origin in each pool (default 16, the per-host limit). */
  readonly connectionsPerOrigin?: number | undefined
  /** Connect timeout of requests that name no remote, or a remote without its own (default 10 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Honour HTTP_PROXY / HTTPS_PROXY / NO_PROXY for remotes without a proxy (default true). */
  readonly environmentProxy?: boolean | undefined
  /** Idle keep-alive sockets close after this long (default 4 s). */
  readonly keepAliveTimeout?: Duration.DurationInput | undefined
}

/** The process's pools, for inspection (tests, diagnostics). */
export interface HttpPoolsService {
  /** Distinct transport settings seen so far, the default included. */
  readonly count: () => number
  /** The routing dispatcher the HttpClient sends through. */
  readonly dispatcher: Dispatcher
}

export class HttpPools extends Context.Tag("@cargohold/node/HttpPools")<HttpPools, HttpPoolsService>() {}

const makePools = (options: HttpOptions) =>
  Effect.gen(function* () {
    const poolOptions: PoolOptions = {
      connectionsPerOrigin: options.connectionsPerOrigin ?? 16,
      environmentProxy: options.environmentProxy ?? true,
      keepAliveTimeoutMs: Duration.toMillis(options.keepAliveTimeout ?? Duration.seconds(4))
    }
    const connectTimeoutMs = Duration.toMillis(options.connectTimeout ?? defaultSettings.connectTimeout)
    // without a remote nothing is read or parsed, so this cannot fail
    const defaults = yield* Effect.orDie(resolveTransport(undefined, connectTimeoutMs))
    const fallback = makeDispatcher(defaults, poolOptions)
    const byKey = new Map<string, Dispatcher>([[defaults.key, fallback]])
    const byRemote = new WeakMap<Remote, RemoteConnection>()
    const routing = new RoutingDispatcher(fallback)
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => Promise.allSettled([...byKey.values()].map((d) => d.destroy()))).pipe(Effect.asVoid)
    )
    const connectionFor = (remote: Remote): Effect.Effect<RemoteConnection, InvalidRequest> =>
      Effect.map(resolveTransport(remote, connectTimeoutMs), (settings) => {
        let dispatcher = byKey.get(settings.key)
        if (dispatcher === undefined) {
          dispatcher = makeDispatcher(settings, poolOptions)
          byKey.set(settings.key, dispatcher)
        }
        if (dispatcher === fallback) return directConnection
        const requestOptions = { dispatcher } as unknown as NodeHttpClient.UndiciRequestOptions["Type"]
        const connection: RemoteConnection = {
          provide: (effect) => Effect.provideService(effect, NodeHttpClient.UndiciRequestOptions, requestOptions)
        }
        return connection
      })
    const policy: NetworkPolicyService = {
      forRemote: (remote) => {
        if (remote === undefined) return Effect.succeed(directConnection)
        if (!needsTransport(remote) && remote.timeouts?.connectMs === undefined) return Effect.succeed(directConnection)
        const known = byRemote.get(remote)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.tap(connectionFor(remote), (connection) => Effect.sync(() => byRemote.set(remote, connection)))
      }
    }
    return { policy, pools: { count: () => byKey.size, dispatcher: routing } satisfies HttpPoolsService }
  })

/**
 * The Node HTTP layer: `HttpClient` (undici), `NetworkPolicy` (TLS, proxies and connect timeouts per remote,
 * one pool per distinct setting) and `HttpPools`. Build it once per process; everything under it shares the pools.
 */
export const layerHttp = (
  options: HttpOptions = {}
): Layer.Layer<HttpClient.HttpClient | NetworkPolicy | HttpPools> =>
  Layer.unwrapScoped(
    Effect.map(makePools(options), ({ policy, pools }) =>
      Layer.mergeAll(
        Layer.provide(NodeHttpClient.layerUndiciWithoutDispatcher, Layer.succeed(NodeHttpClient.Dispatcher, pools.dispatcher)),
        Layer.succeed(NetworkPolicy, policy),
        Layer.succeed(HttpPools, pools)
      )
    )
  )
