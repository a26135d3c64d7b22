/**
 * A remote: one place artifacts come from, described once with all its network policy.
 * Secrets are `Redacted`: they never print, in logs, errors, JSON output or `toString`.
 */
import { Schema } from "effect"

/** PEM material, either inline (`-----BEGIN …`) or a path to a file holding it. */
export const Pem = Schema.String.pipe(Schema.brand("Pem"))

export const TlsSettings = Schema.Struct({
  /** Extra trusted CA certificate(s). */
  caCert: Schema.optional(Schema.String),
  /** `add`: trust the CA in addition to the system store (default); `replace`: trust only it. */
  caMode: Schema.optional(Schema.Literal("add", "replace")),
  clientCert: Schema.optional(Schema.String),
  clientKey: Schema.optional(Schema.Redacted(Schema.String)),
  /** Verify the server's certificate (default true). */
  verify: Schema.optional(Schema.Boolean),
  minVersion: Schema.optional(Schema.Literal("TLSv1.2", "TLSv1.3")),
  /** SNI name and the name the certificate must match. */
  serverName: Schema.optional(Schema.String)
})
export type TlsSettings = typeof TlsSettings.Type

/** True when `url` parses and carries a password in its user-info part (`scheme://user:password@host`). */
const hasPassword = (url: string): boolean => {
  try {
    return new URL(url).password !== ""
  } catch {
    return false
  }
}

/**
 * A URL that may not carry a password: a password written into a URL would be stored, printed and logged with it.
 * Credentials go into the fields made for them, which are `Redacted`.
 */
const UrlWithoutPassword = (where: string, instead: string) =>
  Schema.String.pipe(
    Schema.filter((url) => !hasPassword(url), {
      // the message must not repeat the URL: it holds the password
      message: () => `${where} must not contain a password; give it as ${instead} (kept redacted)`
    })
  )

export const ProxySettings = Schema.Struct({
  url: UrlWithoutPassword("the proxy URL", "the proxy's password (--proxy-user / --proxy-password-env)"),
  username: Schema.optional(Schema.String),
  password: Schema.optional(Schema.Redacted(Schema.String))
})
export type ProxySettings = typeof ProxySettings.Type

export const BasicAuth = Schema.TaggedStruct("Basic", {
  username: Schema.String,
  password: Schema.Redacted(Schema.String)
})
export const BearerAuth = Schema.TaggedStruct("Bearer", { token: Schema.Redacted(Schema.String) })
export const Auth = Schema.Union(BasicAuth, BearerAuth)
export type Auth = typeof Auth.Type

export const Timeouts = Schema.Struct({
  connectMs: Schema.optional(Schema.Number),
  idleMs: Schema.optional(Schema.Number)
})
export const RetrySettings = Schema.Struct({
  attempts: Schema.optional(Schema.Number),
  baseDelayMs: Schema.optional(Schema.Number),
  maxDelayMs: Schema.optional(Schema.Number)
})
export const RemoteLimits = Schema.Struct({
  maxConnections: Schema.optional(Schema.Number),
  requestsPerSecond: Schema.optional(Schema.Number),
  bytesPerSecond: Schema.optional(Schema.Number)
})

export class Remote extends Schema.Class<Remote>("Remote")({
  name: Schema.String.pipe(
    Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
      message: (issue) =>
        `must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (got ${JSON.stringify(issue.actual)})`
    })
  ),
  /** Base URL; relative request URLs resolve against it. */
  url: UrlWithoutPassword("a remote's URL", "auth (--user / --password-env)"),
  headers: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  tls: Schema.optional(TlsSettings),
  // exact: no `undefined` branch, whose parse error would print the rejected value (and a password in its URL)
  proxy: Schema.optionalWith(ProxySettings, { exact: true }),
  auth: Schema.optional(Auth),
  timeouts: Schema.optional(Timeouts),
  retry: Schema.optional(RetrySettings),
  limits: Schema.optional(RemoteLimits),
  /** Default priority of sources from this remote (higher is preferred). */
  priority: Schema.optional(Schema.Number),
  /** Follow https → http redirects (default false). */
  allowHttpsToHttp: Schema.optional(Schema.Boolean),
  /** Folders `file://` URLs of this remote may read; none unless given. */
  fileRoots: Schema.optional(Schema.Array(Schema.String))
}) {}
