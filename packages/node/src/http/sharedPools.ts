/**
 * The process's undici dispatchers: one per distinct transport setting and pool shape, shared by every
 * `layerHttp` built in the process (each `layerNode`, each home of the Promise facade, the HttpClient plugins use).
 *
 * Reference-counted rather than process-lived: a layer takes a reference when it first routes a setting and gives
 * it back when its scope closes; the last one gives the dispatcher's sockets back (destroyed, nobody is left to use
 * them). A process-lived registry would keep keep-alive sockets and TLS sessions of a runtime already disposed
 * (`close()` of the facade, a test's layer) open until their idle timeout and make "dispose released everything"
 * untrue; while any layer holds a setting, later builds with it share its connections.
 */
import { createHash } from "node:crypto"
import type { Dispatcher } from "undici"

interface Entry {
  readonly dispatcher: Dispatcher
  refs: number
}

const entries = new Map<string, Entry>()

/** Variables `EnvHttpProxyAgent` reads when it is built: pools made under other values are not the same pool. */
const proxyEnvironment = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"] as const

/** A digest of the proxy environment (it may hold credentials, so only the digest is kept). */
export const proxyEnvironmentKey = (): string =>
  createHash("sha256")
    .update(JSON.stringify(proxyEnvironment.map((name) => process.env[name] ?? "")))
    .digest("hex")

/** The shared dispatcher for `key`, made by `make` when no layer holds one; each call takes one reference. */
export const acquireShared = (key: string, make: () => Dispatcher): Dispatcher => {
  let entry = entries.get(key)
  if (entry === undefined) {
    entry = { dispatcher: make(), refs: 0 }
    entries.set(key, entry)
  }
  entry.refs++
  return entry.dispatcher
}

/** Gives back one reference to `key`'s dispatcher; the last one destroys it. */
export const releaseShared = (key: string): Promise<void> => {
  const entry = entries.get(key)
  if (entry === undefined) return Promise.resolve()
  entry.refs--
  if (entry.refs > 0) return Promise.resolve()
  entries.delete(key)
  return entry.dispatcher.destroy()
}

/** How many shared dispatchers the process holds now (diagnostics, tests). */
export const sharedPoolCount = (): number => entries.size
