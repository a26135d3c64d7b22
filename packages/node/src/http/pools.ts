/**
 * undici dispatchers: one per distinct transport setting (TLS, proxy, connect timeout), shared by every remote
 * with that setting, behind one routing dispatcher that the HttpClient uses. A request picks its pool through the
 * `dispatcher` request option (set per fiber with `NodeHttpClient.UndiciRequestOptions`); without one it goes to
 * the default pool.
 */
import { isTlsErrorCode } from "@cargohold/core/internal/http/classify"
import type { Socket } from "node:net"
import { Agent, buildConnector, Dispatcher, EnvHttpProxyAgent, ProxyAgent } from "undici"
import { type PeerSlot, peerSlotOption, trackingHandler } from "./peer.js"
import type { ResolvedTls, TransportSettings } from "./transportSettings.js"

export interface PoolOptions {
  /** Connections per origin in each pool (default 16). */
  readonly connectionsPerOrigin: number
  /** Honour HTTP_PROXY / HTTPS_PROXY / NO_PROXY for remotes without a proxy (default true). */
  readonly environmentProxy: boolean
  /** Idle keep-alive sockets are closed after this long (default 4 s, undici's default). */
  readonly keepAliveTimeoutMs: number
}

const proxyVariables = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] as const

/** True when the environment names a proxy. */
export const environmentHasProxy = (): boolean => proxyVariables.some((name) => (process.env[name] ?? "") !== "")

const tlsOptions = (tls: ResolvedTls | undefined, timeout: number) =>
  tls === undefined
    ? { timeout }
    : {
        timeout,
        ...(tls.ca !== undefined ? { ca: [...tls.ca] } : {}),
        ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
        rejectUnauthorized: tls.rejectUnauthorized,
        ...(tls.minVersion !== undefined ? { minVersion: tls.minVersion } : {}),
        ...(tls.servername !== undefined ? { servername: tls.servername } : {})
      }

/**
 * A connector that keeps a TLS alert arriving after the handshake (TLS 1.3 reports "certificate required" this
 * way) as the socket's error: undici would otherwise replace it with "other side closed" when the end follows.
 */
const keepingTlsAlerts = (options: buildConnector.BuildOptions): buildConnector.connector => {
  const connect = buildConnector(options)
  return (opts, callback) =>
    connect(opts, (error, socket) => {
      if (error === null && socket !== null && opts.protocol === "https:") {
        let alert: Error | undefined
        const tcp = socket as Socket
        tcp.prependListener("error", (e: unknown) => {
          if (alert === undefined && e instanceof Error && isTlsErrorCode((e as NodeJS.ErrnoException).code)) alert = e
        })
        tcp.prependListener("end", () => {
          if (alert !== undefined && !tcp.destroyed) tcp.destroy(alert)
        })
      }
      // undici's callback takes (error, null) or (null, socket)
      ;(callback as (e: Error | null, s: typeof socket) => void)(error, socket)
    })
}

/** Builds the dispatcher for one transport setting. */
export const makeDispatcher = (settings: TransportSettings, options: PoolOptions): Dispatcher => {
  const connect = tlsOptions(settings.tls, settings.connectTimeoutMs)
  const common = {
    connections: options.connectionsPerOrigin,
    keepAliveTimeout: options.keepAliveTimeoutMs
  }
  if (settings.proxy !== undefined) {
    return new ProxyAgent({
      ...common,
      uri: settings.proxy.uri,
      ...(settings.proxy.token !== undefined ? { token: settings.proxy.token } : {}),
      // http targets are forwarded (absolute-form requests), https targets tunnelled with CONNECT
      proxyTunnel: false,
      requestTls: connect,
      proxyTls: { timeout: settings.connectTimeoutMs, ...(settings.tls?.ca !== undefined ? { ca: [...settings.tls.ca] } : {}) }
    })
  }
  if (options.environmentProxy && environmentHasProxy()) {
    return new EnvHttpProxyAgent({ ...common, connect: keepingTlsAlerts(connect), requestTls: connect, proxyTunnel: false })
  }
  return new Agent({ ...common, connect: keepingTlsAlerts(connect) })
}

interface RoutedOptions extends Dispatcher.DispatchOptions {
  readonly dispatcher?: Dispatcher | undefined
  readonly [peerSlotOption]?: PeerSlot | undefined
}

/**
 * Sends each request to the dispatcher named in its options, else to the default one; a request that carries a
 * peer slot (`observePeer`) has its handler wrapped to record the connection's peer there (provenance, peer.ts).
 */
export class RoutingDispatcher extends Dispatcher {
  constructor(readonly fallback: Dispatcher) {
    super()
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const { dispatcher: target, [peerSlotOption]: slot } = options as RoutedOptions
    if (target === undefined && slot === undefined) return this.fallback.dispatch(options, handler)
    const tracked = slot === undefined ? handler : trackingHandler(handler, slot)
    const forwarded = { ...options, dispatcher: undefined, [peerSlotOption]: undefined } as RoutedOptions
    return (target ?? this.fallback).dispatch(forwarded, tracked)
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | void {
    const done = this.fallback.close()
    if (callback === undefined) return done
    done.then(callback, callback)
  }

  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const callback = typeof a === "function" ? a : b
    const done = this.fallback.destroy(typeof a === "function" || a === undefined ? null : a)
    if (callback === undefined) return done
    done.then(callback, callback)
  }
}
