/**
 * Connection limits: one global semaphore and one per host, shared by every download in the process unless a
 * program provides its own `ConnectionLimits`.
 */
import { Context, Effect, Layer } from "effect"

export interface ConnectionLimiter {
  readonly global: number
  readonly perHost: number
  /** Runs `effect` holding one global permit and one permit of `host`. */
  readonly withPermit: <A, E, R>(host: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeLimiter = (options: { readonly global: number; readonly perHost: number }): ConnectionLimiter => {
  const global = Effect.unsafeMakeSemaphore(options.global)
  const hosts = new Map<string, Effect.Semaphore>()
  const forHost = (host: string) => {
    let semaphore = hosts.get(host)
    if (semaphore === undefined) {
      semaphore = Effect.unsafeMakeSemaphore(options.perHost)
      hosts.set(host, semaphore)
    }
    return semaphore
  }
  return {
    global: options.global,
    perHost: options.perHost,
    withPermit: (host, effect) => forHost(host).withPermits(1)(global.withPermits(1)(effect))
  }
}

export const defaultLimits = { global: 64, perHost: 16 } as const

export class ConnectionLimits extends Context.Reference<ConnectionLimits>()("@cargohold/core/ConnectionLimits", {
  defaultValue: (): ConnectionLimiter => makeLimiter(defaultLimits)
}) {}

/** Replaces the process-wide limits for everything under this layer. */
export const layerConnectionLimits = (options: {
  readonly global: number
  readonly perHost: number
}): Layer.Layer<ConnectionLimits> => Layer.sync(ConnectionLimits, () => makeLimiter(options))
