/**
 * How a `Remote` reaches the download: the platform-free `NetworkPolicy` service (a platform layer such as
 * `@cargohold/node`'s `layerHttp` implements TLS and proxies), the settings a remote overrides, the headers it
 * adds, and the checks every `file://` URL passes.
 */
import { Context, Effect, Redacted } from "effect"
import { InvalidRequest } from "../domain/errors.js"
import type { Peer } from "../http/exchange.js"
import { basicAuthorization } from "../http/userinfo.js"
import { systemTreeOf } from "../source/FileSource.js"
import type { Remote } from "./Remote.js"

/** The transport of one remote: requests run through `provide` use its connection pool (TLS, proxy). */
export interface RemoteConnection {
  readonly provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Asked when an https request failed because the server closed the connection before answering: probes a fresh
   * connection with the same settings and returns the TLS-level error that explains the close (an alert the close
   * overtook, or a refusal right after the handshake), classified like any transport error; undefined when the
   * probe found nothing. Platform layers provide it; without it the close stays a `ConnectError`.
   */
  readonly diagnoseClose?: ((url: string) => Effect.Effect<unknown>) | undefined
  /**
   * Runs a platform `HttpClient` request (inside `provide`) and tells which peer answered it (provenance), once
   * its head is in. Platform layers provide it; without it the peer is not known.
   */
  readonly observePeer?:
    | (<A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<readonly [A, Peer | undefined], E, R>)
    | undefined
}

export interface NetworkPolicyService {
  /**
   * The transport for `remote` (`undefined`: the process default). Remotes with equal TLS and proxy settings
   * share one connection pool. Fails with `InvalidRequest` when the settings cannot be used (unreadable PEM…).
   */
  readonly forRemote: (remote: Remote | undefined) => Effect.Effect<RemoteConnection, InvalidRequest>
}

export const directConnection: RemoteConnection = { provide: (effect) => effect }

/** True when `remote` needs a transport of its own (TLS or proxy settings). */
export const needsTransport = (remote: Remote | undefined): boolean =>
  remote !== undefined && (remote.tls !== undefined || remote.proxy !== undefined)

/** The platform-free default: the HttpClient as it is; remotes with TLS or proxy settings are refused. */
export const platformFreePolicy: NetworkPolicyService = {
  forRemote: (remote) =>
    needsTransport(remote)
      ? Effect.fail(
          new InvalidRequest({
            url: remote!.url,
            reason: `remote '${remote!.name}' has TLS or proxy settings; they need a platform layer (e.g. @cargohold/node's layerHttp)`
          })
        )
      : Effect.succeed(directConnection)
}

export class NetworkPolicy extends Context.Reference<NetworkPolicy>()("@cargohold/core/NetworkPolicy", {
  defaultValue: (): NetworkPolicyService => platformFreePolicy
}) {}

/** The `Authorization` value of the remote's auth; unwrap it only right before sending. */
export const authorizationHeader = (remote: Remote | undefined): Redacted.Redacted<string> | undefined => {
  const auth = remote?.auth
  if (auth === undefined) return undefined
  return auth._tag === "Basic"
    ? basicAuthorization(auth.username, Redacted.value(auth.password))
    : Redacted.make(`Bearer ${Redacted.value(auth.token)}`)
}

/** Decoded path of a `file://` URL, or undefined when it has a host or cannot be decoded. */
const filePath = (url: URL): string | undefined => {
  if (url.hostname !== "" && url.hostname !== "localhost") return undefined
  try {
    return decodeURIComponent(url.pathname)
  } catch {
    return undefined
  }
}

/**
 * The checks a `file://` URL passes before any I/O: a local path (no host), no NUL byte, no `.` or `..` segment
 * after decoding, nothing under /proc, /sys or /dev. Which roots it may reach depends on who chose it and is the
 * file source's to decide, after resolving symlinks (see source/FileSource.ts). Returns the reason for a refusal.
 */
export const fileAccessProblem = (url: URL): string | undefined => {
  const path = filePath(url)
  if (path === undefined) return "file:// URL with a host or a malformed path"
  if (path.includes("\0")) return "file:// path contains a NUL byte"
  if (path.split("/").some((segment) => segment === ".." || segment === ".")) {
    return "file:// path contains a '.' or '..' segment (after decoding)"
  }
  const tree = systemTreeOf(path)
  if (tree !== undefined) return `file:// under ${tree} is never read`
  return undefined
}
