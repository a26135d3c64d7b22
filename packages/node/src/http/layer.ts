/**
 * `layerHttp`: @effect/platform's `HttpClient` on undici, with one set of connection pools for the whole
 * process (shared with every other `layerHttp`, unless `pool: "private"`), and the `NetworkPolicy` that routes each remote's requests to the pool of its TLS and proxy settings.
 * Plugins use the same `HttpClient` for their own requests (and share the pools): wrap an effect in
 * `(yield* NetworkPolicy).forRemote(remote)` → `provide` to send it through a remote's transport.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import {
  defaultSettings,
  type Exchange,
  HttpExchange,
  type HttpExchangeService,
  type InvalidRequest,
  NetworkPolicy,
  type NetworkPolicyService,
  type Peer,
  type Remote,
  type RemoteConnection
} from "@cargohold/core"
import { needsTransport } from "@cargohold/core/internal/remote/policy"
import { Context, Duration, Effect, Layer } from "effect"
import type { Dispatcher } from "undici"
import { makeExchange } from "./exchange.js"
import { environmentHasProxy, makeDispatcher, type PoolOptions, RoutingDispatcher } from "./pools.js"
import { newSlot, peerSlotOption } from "./peer.js"
import { acquireShared, proxyEnvironmentKey, releaseShared } from "./sharedPools.js"
import { probeTls } from "./tlsProbe.js"
import { resolveTransport, type TransportSettings } from "./transportSettings.js"

export interface HttpOptions {
  /** Connections per origin in each pool (default 16, the per-host limit). */
  readonly connectionsPerOrigin?: number | undefined
  /** Connect timeout of requests that name no remote, or a remote without its own (default 10 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Honour HTTP_PROXY / HTTPS_PROXY / NO_PROXY for remotes without a proxy (default true). */
  readonly environmentProxy?: boolean | undefined
  /** Idle keep-alive sockets close after this long (default 4 s). */
  readonly keepAliveTimeout?: Duration.DurationInput | undefined
  /**
   * How downloads move bytes: "lean" (default) over undici's `dispatch` with no Effect per chunk (see
   * exchange.ts), or "generic" through the platform HttpClient, as every other layer does. Both share the pools.
   */
  readonly transfer?: "lean" | "generic" | undefined
  /**
   * "shared" (default): the process-wide pools, one per distinct transport setting and pool shape, shared with
   * every other `layerHttp` in the process (see sharedPools.ts). "private": pools of this layer alone, opened and
   * closed with it, for a runtime whose connections must not be reused by anyone else (separate credentials held in
   * TLS client certificates of equal settings, isolation in tests).
   */
  readonly pool?: "shared" | "private" | undefined
}

/** The process's pools, for inspection (tests, diagnostics). */
export interface HttpPoolsService {
  /** Distinct transport settings seen so far, the default included. */
  readonly count: () => number
  /** The routing dispatcher the HttpClient sends through. */
  readonly dispatcher: Dispatcher
}

export class HttpPools extends Context.Tag("@cargohold/node/HttpPools")<HttpPools, HttpPoolsService>() {}

/** After a probe found a server accepting the handshake, closes from that origin are not probed again for this long. */
const acceptedProbeMemoryMs = 30_000

/**
 * `diagnoseClose` for one transport setting (see tlsProbe.ts). A probe that found the handshake accepted is
 * remembered per origin for a while, so a server that drops keep-alive connections does not cost a probe each time.
 */
const closeDiagnosis = (settings: TransportSettings) => {
  const accepted = new Map<string, number>()
  return (url: string): Effect.Effect<unknown> =>
    Effect.suspend(() => {
      const target = new URL(url)
      const since = accepted.get(target.origin)
      if (since !== undefined && Date.now() - since < acceptedProbeMemoryMs) return Effect.void
      return Effect.map(
        Effect.promise((signal) => probeTls(target, settings, { signal })),
        (finding) => {
          if (finding === undefined) accepted.set(target.origin, Date.now())
          return finding
        }
      )
    })
}
/**
 * `observePeer` of a connection whose requests take `base` as undici request options: the request carries a fresh
 * peer slot in its options (public `UndiciRequestOptions`), which the routing dispatcher fills (peer.ts).
 */
const observing =
  (base: Readonly<Record<string, unknown>>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<readonly [A, Peer | undefined], E, R> =>
    Effect.suspend(() => {
      const slot = newSlot()
      const requestOptions = { ...base, [peerSlotOption]: slot } as unknown as NodeHttpClient.UndiciRequestOptions["Type"]
      return Effect.map(
        Effect.provideService(effect, NodeHttpClient.UndiciRequestOptions, requestOptions),
        (a) => [a, slot.peer] as const
      )
    })

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
    // the pool shape and the proxy environment belong to the key: equal remotes under other pool options or another
    // proxy environment are not the same pool
    const shape = `${poolOptions.connectionsPerOrigin}|${poolOptions.keepAliveTimeoutMs}|${
      poolOptions.environmentProxy ? proxyEnvironmentKey() : "no-env-proxy"
    }`
    const held: Array<string> = []
    const open =
      options.pool === "private"
        ? (settings: TransportSettings) => makeDispatcher(settings, poolOptions)
        : (settings: TransportSettings) => {
            const key = `${settings.key}|${shape}`
            held.push(key)
            return acquireShared(key, () => makeDispatcher(settings, poolOptions))
          }
    const fallback = open(defaults)
    // settings without a proxy of their own take the environment's when it names one: the probe could not take
    // the requests' route, so it is not offered for them
    const environmentProxied = poolOptions.environmentProxy && environmentHasProxy()
    const diagnosisFor = (settings: TransportSettings) =>
      settings.proxy === undefined && environmentProxied ? undefined : closeDiagnosis(settings)
    const defaultConnection: RemoteConnection = {
      provide: (effect) => effect,
      diagnoseClose: diagnosisFor(defaults),
      observePeer: observing({})
    }
    // the lean exchange of each connection this layer made, on the same dispatcher its HttpClient requests use
    const exchanges = new WeakMap<RemoteConnection, Exchange>([[defaultConnection, makeExchange(fallback)]])
    const byKey = new Map<string, Dispatcher>([[defaults.key, fallback]])
    const byRemote = new WeakMap<Remote, RemoteConnection>()
    const routing = new RoutingDispatcher(fallback)
    yield* Effect.addFinalizer(() =>
      Effect.promise(() =>
        options.pool === "private"
          ? Promise.allSettled([...byKey.values()].map((d) => d.destroy()))
          : Promise.allSettled(held.map(releaseShared))
      ).pipe(Effect.asVoid)
    )
    const connectionFor = (remote: Remote): Effect.Effect<RemoteConnection, InvalidRequest> =>
      Effect.map(resolveTransport(remote, connectTimeoutMs), (settings) => {
        let dispatcher = byKey.get(settings.key)
        if (dispatcher === undefined) {
          dispatcher = open(settings)
          byKey.set(settings.key, dispatcher)
        }
        if (dispatcher === fallback) return defaultConnection
        const requestOptions = { dispatcher } as unknown as NodeHttpClient.UndiciRequestOptions["Type"]
        const connection: RemoteConnection = {
          provide: (effect) => Effect.provideService(effect, NodeHttpClient.UndiciRequestOptions, requestOptions),
          diagnoseClose: diagnosisFor(settings),
          observePeer: observing({ dispatcher })
        }
        exchanges.set(connection, makeExchange(dispatcher))
        return connection
      })
    const policy: NetworkPolicyService = {
      forRemote: (remote) => {
        if (remote === undefined) return Effect.succeed(defaultConnection)
        if (!needsTransport(remote) && remote.timeouts?.connectMs === undefined) return Effect.succeed(defaultConnection)
        const known = byRemote.get(remote)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.tap(connectionFor(remote), (connection) => Effect.sync(() => byRemote.set(remote, connection)))
      }
    }
    const exchange: HttpExchangeService = { forConnection: (connection) => exchanges.get(connection) }
    return { policy, exchange, pools: { count: () => byKey.size, dispatcher: routing } satisfies HttpPoolsService }
  })

/**
 * The platform's undici HttpClient on `dispatcher`, as it is: downloads take the lean exchange, and this client
 * (for plugins, and for downloads with `transfer: "generic"`) stays on the platform's public API.
 */
const undiciClient = (dispatcher: Dispatcher): HttpClient.HttpClient => NodeHttpClient.makeUndici(dispatcher)

/**
 * The Node HTTP layer: `HttpClient` (undici), `NetworkPolicy` (TLS, proxies and connect timeouts per remote,
 * one pool per distinct setting), `HttpPools`, and (unless `transfer: "generic"`) the lean `HttpExchange` that
 * downloads use on the same pools. Build it once per process; everything under it shares the pools.
 */
export const layerHttp = (
  options: HttpOptions = {}
): Layer.Layer<HttpClient.HttpClient | NetworkPolicy | HttpPools> =>
  Layer.unwrapScoped(
    Effect.map(makePools(options), ({ policy, exchange, pools }) =>
      Layer.mergeAll(
        Layer.succeed(HttpClient.HttpClient, undiciClient(pools.dispatcher)),
        Layer.succeed(NetworkPolicy, policy),
        Layer.succeed(HttpPools, pools),
        options.transfer === "generic" ? Layer.empty : Layer.succeed(HttpExchange, exchange)
      )
    )
  )
