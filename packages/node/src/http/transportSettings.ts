/**
 * A remote's transport settings (TLS, proxy, connect timeout) resolved to what undici takes: PEM files read,
 * the CA mode applied, and a key that is equal exactly when two remotes can share one connection pool.
 */
import { InvalidRequest, type Remote } from "@cargohold/core"
import { Effect, Redacted } from "effect"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { rootCertificates } from "node:tls"

export interface ResolvedTls {
  readonly ca?: ReadonlyArray<string> | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
  readonly rejectUnauthorized: boolean
  readonly minVersion?: "TLSv1.2" | "TLSv1.3" | undefined
  readonly servername?: string | undefined
}

export interface ResolvedProxy {
  readonly uri: string
  /** `Basic …` for Proxy-Authorization, when the proxy has credentials. */
  readonly token?: string | undefined
}

export interface TransportSettings {
  readonly tls: ResolvedTls | undefined
  readonly proxy: ResolvedProxy | undefined
  readonly connectTimeoutMs: number
  /** Equal for settings that may share a dispatcher; a digest, so no secret is kept in it. */
  readonly key: string
}

const isPem = (value: string) => value.includes("-----BEGIN ")

/** PEM given inline or as a path; the error names the path, never the content. */
const pem = (remote: Remote, what: string, value: string): Effect.Effect<string, InvalidRequest> =>
  isPem(value)
    ? Effect.succeed(value)
    : Effect.try({
        try: () => readFileSync(value, "utf8"),
        catch: (error) =>
          new InvalidRequest({
            url: remote.url,
            reason: `remote '${remote.name}': cannot read ${what} file ${value}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`
          })
      }).pipe(
        Effect.filterOrFail(isPem, () =>
          new InvalidRequest({ url: remote.url, reason: `remote '${remote.name}': ${what} file ${value} holds no PEM block` })
        )
      )

const basicToken = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`

const resolveTls = (remote: Remote): Effect.Effect<ResolvedTls | undefined, InvalidRequest> =>
  Effect.gen(function* () {
    const tls = remote.tls
    if (tls === undefined) return undefined
    const ca = tls.caCert === undefined ? undefined : yield* pem(remote, "CA certificate", tls.caCert)
    const cert = tls.clientCert === undefined ? undefined : yield* pem(remote, "client certificate", tls.clientCert)
    const key =
      tls.clientKey === undefined ? undefined : yield* pem(remote, "client key", Redacted.value(tls.clientKey))
    if ((cert === undefined) !== (key === undefined)) {
      return yield* new InvalidRequest({
        url: remote.url,
        reason: `remote '${remote.name}': a client certificate needs both clientCert and clientKey`
      })
    }
    return {
      ca: ca === undefined ? undefined : tls.caMode === "replace" ? [ca] : [...rootCertificates, ca],
      cert,
      key,
      rejectUnauthorized: tls.verify ?? true,
      minVersion: tls.minVersion,
      servername: tls.serverName
    }
  })

const resolveProxy = (remote: Remote): Effect.Effect<ResolvedProxy | undefined, InvalidRequest> => {
  const proxy = remote.proxy
  if (proxy === undefined) return Effect.succeed(undefined)
  let url: URL
  try {
    url = new URL(proxy.url)
  } catch {
    return Effect.fail(new InvalidRequest({ url: remote.url, reason: `remote '${remote.name}': proxy URL is not valid` }))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Effect.fail(
      new InvalidRequest({ url: remote.url, reason: `remote '${remote.name}': proxy must be http:// or https://` })
    )
  }
  // a user name written into the URL counts like `username` (the Remote schema refuses a password there)
  const username = proxy.username ?? (url.username !== "" ? decodeURIComponent(url.username) : undefined)
  const password = proxy.password !== undefined ? Redacted.value(proxy.password) : undefined
  url.username = ""
  url.password = ""
  return Effect.succeed({
    uri: url.href,
    token: username === undefined ? undefined : basicToken(username, password ?? "")
  })
}

export const resolveTransport = (
  remote: Remote | undefined,
  defaultConnectTimeoutMs: number
): Effect.Effect<TransportSettings, InvalidRequest> =>
  Effect.gen(function* () {
    const tls = remote === undefined ? undefined : yield* resolveTls(remote)
    const proxy = remote === undefined ? undefined : yield* resolveProxy(remote)
    const connectTimeoutMs = remote?.timeouts?.connectMs ?? defaultConnectTimeoutMs
    const key = createHash("sha256")
      .update(JSON.stringify({ tls: tls ?? null, proxy: proxy ?? null, connectTimeoutMs }))
      .digest("hex")
    return { tls, proxy, connectTimeoutMs, key }
  })
