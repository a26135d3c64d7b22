/**
 * Turns transport failures into cargohold's typed errors by their error codes (Node, undici and browsers name
 * them as strings, so this needs no platform import).
 */
import {
  ConnectError,
  type DownloadError,
  ProtocolError,
  ProxyError,
  TimeoutError,
  TlsError,
  TransferError
} from "../domain/errors.js"

const tlsReasons: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown certificate authority (unable to verify the leaf signature)",
  UNABLE_TO_GET_ISSUER_CERT: "unknown certificate authority (issuer certificate not found)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown certificate authority (issuer not in the trusted store)",
  SELF_SIGNED_CERT_IN_CHAIN: "unknown certificate authority (self-signed certificate in chain)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "unknown certificate authority (self-signed certificate)",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not yet valid",
  ERR_TLS_CERT_ALTNAME_INVALID: "hostname mismatch: the certificate does not name this host",
  CERT_REVOKED: "the server's certificate is revoked",
  CERT_SIGNATURE_FAILURE: "the certificate's signature is invalid",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "the server requires a client certificate",
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: "handshake failure (no common protocol or cipher, or a client certificate was required)",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "the server does not trust our client certificate (unknown CA)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the server rejected our client certificate",
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: "no TLS version both sides accept",
  ERR_SSL_UNSUPPORTED_PROTOCOL: "no TLS version both sides accept",
  ERR_SSL_WRONG_VERSION_NUMBER: "the server did not answer with TLS (wrong version number)",
  ERR_TLS_INVALID_PROTOCOL_VERSION: "invalid TLS protocol version"
}

const connectCodes = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
  "ECONNABORTED"
])

const brokenCodes = new Set([
  "ECONNRESET",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "ERR_STREAM_PREMATURE_CLOSE"
])

/** True for the error codes of a TLS failure (OpenSSL's `ERR_SSL_*`, Node's `ERR_TLS_*`, certificate `CERT_*`). */
export const isTlsErrorCode = (code: unknown): code is string =>
  typeof code === "string" && (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || code.startsWith("CERT_"))

interface CodedError {
  readonly code?: unknown
  readonly message?: unknown
  readonly cause?: unknown
}

/** Walks `cause` links and yields every error-like object. */
const chain = function* (error: unknown): Generator<CodedError> {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    yield current as CodedError
    current = (current as CodedError).cause
  }
}

const firstCode = (error: unknown): string | undefined => {
  for (const e of chain(error)) if (typeof e.code === "string") return e.code
  return undefined
}

const firstMessage = (error: unknown): string => {
  for (const e of chain(error)) if (typeof e.message === "string" && e.message !== "") return e.message
  return String(error)
}

/**
 * The HTTP parser's refusal of the server's answer somewhere in the cause chain — llhttp's `HPE_*` codes, undici's
 * `HTTPParserError` (which does not always carry a code) or its message — as the detail it gives (undici's
 * "Response does not match the HTTP/1.1 protocol (Invalid character in Content-Length)" → what is in brackets).
 */
const parserRefusal = (error: unknown): string | undefined => {
  for (const e of chain(error)) {
    const message = typeof e.message === "string" ? e.message : ""
    const coded = typeof e.code === "string" && e.code.startsWith("HPE_")
    if (coded || (e as { readonly name?: unknown }).name === "HTTPParserError" || message.includes("does not match the HTTP/1.1 protocol")) {
      return /\(([^)]+)\)\s*$/.exec(message)?.[1] ?? (message || String(e.code))
    }
  }
  return undefined
}

/**
 * Classifies a transport failure. `received` is the number of body bytes seen: 0 means the failure came
 * before the body (a connect or handshake problem), more means the body broke off.
 */
export const classifyTransportError = (
  url: string,
  cause: unknown,
  received: number | undefined,
  connectTimeoutMs: number,
  /** The proxy in use, named without credentials. */
  proxy?: string
): DownloadError => {
  const code = firstCode(cause)
  const message = firstMessage(cause)
  // undici: "Proxy response (407) !== 200 when HTTP Tunneling" (CONNECT), "Proxy Authentication Required (407)" (forwarding)
  const proxyStatus = /Proxy response \((\d+)\)|Proxy Authentication Required \((\d+)\)/.exec(message)
  if (proxyStatus !== null) {
    const status = Number(proxyStatus[1] ?? proxyStatus[2])
    return new ProxyError({
      url,
      proxy: proxy ?? "proxy",
      status,
      reason:
        status === 407
          ? "407 Proxy Authentication Required (proxy credentials missing or refused)"
          : `the proxy answered ${status} to CONNECT`
    })
  }
  if (code === "UND_ERR_PRX_TLS") return new ProxyError({ url, proxy: proxy ?? "proxy", reason: `TLS to the proxy failed: ${message}` })
  if (code !== undefined && code in tlsReasons) return new TlsError({ url, reason: tlsReasons[code]!, code })
  if (isTlsErrorCode(code)) {
    return new TlsError({ url, reason: message, code })
  }
  if (code === "UND_ERR_CONNECT_TIMEOUT") return new TimeoutError({ url, phase: "connect", timeoutMs: connectTimeoutMs })
  if (code !== undefined && connectCodes.has(code)) return new ConnectError({ url, reason: `${code}: ${message}` })
  const refusal = parserRefusal(cause)
  if (refusal !== undefined) return new ProtocolError({ url, received: received ?? 0, reason: refusal })
  // the connection was made and an answer began: a body cut short of its Content-Length is a broken transfer even
  // when it broke before the response was handed over
  if (code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH") return new TransferError({ url, received: received ?? 0, reason: `${code}: ${message}` })
  if (received === undefined) {
    return new ConnectError({ url, reason: code === undefined ? message : `${code}: ${message}` })
  }
  if (code === undefined || brokenCodes.has(code)) {
    return new TransferError({ url, received, reason: code === undefined ? message : `${code}: ${message}` })
  }
  return new TransferError({ url, received, reason: `${code}: ${message}` })
}

/**
 * True when a failure before any response is the server closing (or resetting) the connection, the case where a
 * TLS-level refusal can hide (see `RemoteConnection.diagnoseClose`); false for refusals, DNS, timeouts and
 * errors that already say what happened.
 */
export const isCloseBeforeAnswer = (cause: unknown): boolean => {
  const code = firstCode(cause)
  return code === undefined || code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_CLOSED"
}

/** Parses `Retry-After` (delta-seconds or an HTTP date) into milliseconds from `now`. */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** A proxy URL fit for messages: scheme, host and port, never credentials. */
export const proxyLabel = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}`
  } catch {
    return "proxy (unparseable URL)"
  }
}
