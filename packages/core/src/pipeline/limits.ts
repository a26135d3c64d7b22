/**
 * Connection limits and rates: one global semaphore, an adaptive gate per host, and per remote a connection
 * semaphore, a requests/s bucket and a bytes/s bucket; plus an optional global bytes/s bucket. Shared by every
 * download in the process unless a program provides its own `ConnectionLimits`.
 */
import { Context, Effect, Layer } from "effect"
import { HostGate, HostPermit, type HostSignal, type HostSlots } from "../http/hostGate.js"
import type { LatencyLimitOptions } from "../http/latencyLimit.js"
import { byteBucket, requestBucket, type TokenBucket } from "../http/tokenBucket.js"
import type { Remote } from "../remote/Remote.js"

export type { HostSignal }

/** The limits that apply to one remote (or to requests naming no remote). */
export interface RemoteLimiter {
  /** Waits for a request token (requests per second); immediate without a rate. */
  readonly requestToken: Effect.Effect<void>
  /**
   * Takes `bytes` from the bytes/s buckets (the remote's and the global one) and answers the milliseconds to
   * wait; `undefined` when no byte rate applies, so the per-chunk path stays free.
   */
  readonly throttle: ((bytes: number) => number) | undefined
  /**
   * Runs `use` holding a permit of the remote, a connection of `host` and a global permit. `use` gets the host
   * connection as a `HostPermit`: a redirect to another host moves it there (see `HostPermit.moveTo`).
   */
  readonly withPermit: <A, E, R>(host: string, use: (permit: HostPermit) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export interface ConnectionLimiter {
  readonly global: number
  readonly perHost: number
  /** Runs `effect` holding one global permit and one permit of `host`. */
  readonly withPermit: <A, E, R>(host: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The limits of `remote`, shared by the remotes of its name with the same limit settings. */
  readonly forRemote: (remote: Remote | undefined) => RemoteLimiter
  /** The adaptive gate of `host`: backoff on 429/503, recovery on success. */
  readonly host: (host: string) => HostGate
}

export interface LimitOptions {
  readonly global: number
  readonly perHost: number
  /** A cap on all body bytes per second, every remote together. */
  readonly bytesPerSecond?: number | undefined
  /** Successes in a row that give a throttled host one connection back (default 2). */
  readonly recoverAfter?: number | undefined
  /** Each host's `perHost` budget shared with other processes (e.g. cluster runners), on top of this process's. */
  readonly hostSlots?: HostSlots | undefined
  /**
   * Per-host concurrency by latency (see http/latencyLimit.ts): options of the controller, or `false` for the
   * 429/503 limit alone (default: on, with the controller's defaults).
   */
  readonly latency?: Partial<Omit<LatencyLimitOptions, "max">> | false | undefined
}

const maxBytesMs = (a: TokenBucket | undefined, b: TokenBucket | undefined) =>
  a === undefined
    ? b === undefined
      ? undefined
      : (bytes: number) => b.take(bytes)
    : b === undefined
      ? (bytes: number) => a.take(bytes)
      : (bytes: number) => Math.max(a.take(bytes), b.take(bytes))

const waitFor = (bucket: TokenBucket): Effect.Effect<void> =>
  Effect.suspend(() => {
    const ms = bucket.take(1)
    return ms > 0 ? Effect.sleep(ms) : Effect.void
  })

export const makeLimiter = (options: LimitOptions): ConnectionLimiter => {
  const global = Effect.unsafeMakeSemaphore(options.global)
  const globalBytes = options.bytesPerSecond !== undefined ? byteBucket(options.bytesPerSecond) : undefined
  const hosts = new Map<string, HostGate>()
  const host = (name: string): HostGate => {
    let gate = hosts.get(name)
    if (gate === undefined) {
      gate = new HostGate(name, options.perHost, options.recoverAfter ?? 2, options.hostSlots, options.latency ?? {})
      hosts.set(name, gate)
    }
    return gate
  }
  // the host's connection first, then the global permit: a fiber waiting for a busy host holds no global permit
  const withHostPermit = <A, E, R>(name: string, use: (permit: HostPermit) => Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const permit = new HostPermit()
      return Effect.ensuring(Effect.zipRight(permit.moveTo(host(name)), global.withPermits(1)(use(permit))), permit.release)
    })
  const withPermit = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => withHostPermit(name, () => effect)
  const unlimited: RemoteLimiter = {
    requestToken: Effect.void,
    throttle: maxBytesMs(globalBytes, undefined),
    withPermit: withHostPermit
  }
  const remotes = new Map<string, RemoteLimiter>()
  const forRemote = (remote: Remote | undefined): RemoteLimiter => {
    const limits = remote?.limits
    if (remote === undefined || limits === undefined) return unlimited
    // by name and settings: a remote redefined with other limits gets limits of its own, not the old ones
    const key = `${remote.name}\u0000${limits.maxConnections}\u0000${limits.requestsPerSecond}\u0000${limits.bytesPerSecond}`
    let limiter = remotes.get(key)
    if (limiter === undefined) {
      const connections =
        limits.maxConnections !== undefined ? Effect.unsafeMakeSemaphore(Math.max(1, limits.maxConnections)) : undefined
      const requests = limits.requestsPerSecond !== undefined ? requestBucket(limits.requestsPerSecond) : undefined
      const bytes = limits.bytesPerSecond !== undefined ? byteBucket(limits.bytesPerSecond) : undefined
      limiter = {
        requestToken: requests === undefined ? Effect.void : waitFor(requests),
        throttle: maxBytesMs(bytes, globalBytes),
        withPermit:
          connections === undefined
            ? withHostPermit
            : (name, use) => connections.withPermits(1)(withHostPermit(name, use))
      }
      remotes.set(key, limiter)
    }
    return limiter
  }
  return { global: options.global, perHost: options.perHost, withPermit, forRemote, host }
}

export const defaultLimits = { global: 64, perHost: 16 } as const

export class ConnectionLimits extends Context.Reference<ConnectionLimits>()("@cargohold/core/ConnectionLimits", {
  defaultValue: (): ConnectionLimiter => makeLimiter(defaultLimits)
}) {}

/** Replaces the process-wide limits for everything under this layer. */
export const layerConnectionLimits = (options: LimitOptions): Layer.Layer<ConnectionLimits> =>
  Layer.sync(ConnectionLimits, () => makeLimiter(options))
