/**
 * Explains an https connection that the server closed before answering. Some servers refuse a client certificate
 * with a TLS alert that the close can overtake (the alert is lost to a reset when our request was already sent);
 * others (Node's own TLS server, for one) verify the certificate after the handshake and just close, sending no
 * alert at all. Either way undici only sees "other side closed".
 *
 * The probe opens one fresh connection with the same TLS and proxy settings, completes the handshake and sends
 * nothing: an alert now arrives intact, and a server that closes a silent, freshly handshaken connection within a
 * moment has refused it at the TLS level. A server that keeps the connection open (waiting for a request) has
 * accepted the handshake, and the original error stands. It costs one connection, on this failure path only.
 */
import * as http from "node:http"
import * as https from "node:https"
import { connect as connectTcp, isIP, type Socket } from "node:net"
import * as tls from "node:tls"
import { isTlsErrorCode } from "@cargohold/core/internal/http/classify"
import type { TransportSettings } from "./transportSettings.js"

export interface ProbeOptions {
  /** How long a freshly handshaken, silent connection must stay open to count as accepted (default 1.5 s). */
  readonly quietMs?: number
  readonly signal?: AbortSignal
}

/** An error-like value the core's classifier reads by its `code`. */
export interface ProbeFinding {
  readonly code: string
  readonly message: string
}

const defaultPort = (url: URL) => (url.port !== "" ? Number(url.port) : 443)

/** The hostname without IPv6 brackets. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1")

/** A TCP socket to the target: directly, or through the proxy's CONNECT tunnel; undefined when the proxy refuses. */
const openSocket = (target: URL, settings: TransportSettings, timeoutMs: number): Promise<Socket | undefined> =>
  new Promise((resolve) => {
    const host = hostOf(target)
    const port = defaultPort(target)
    const proxy = settings.proxy
    if (proxy === undefined) {
      const socket = connectTcp({ host, port })
      socket.setTimeout(timeoutMs, () => socket.destroy())
      socket.once("error", () => resolve(undefined))
      socket.once("close", () => resolve(undefined))
      socket.once("connect", () => {
        socket.setTimeout(0)
        socket.removeAllListeners("error")
        socket.removeAllListeners("close")
        resolve(socket)
      })
      return
    }
    const proxyUrl = new URL(proxy.uri)
    const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`
    const request = (proxyUrl.protocol === "https:" ? https : http).request({
      host: hostOf(proxyUrl),
      port: proxyUrl.port !== "" ? Number(proxyUrl.port) : proxyUrl.protocol === "https:" ? 443 : 80,
      method: "CONNECT",
      path: authority,
      headers: { host: authority, ...(proxy.token !== undefined ? { "proxy-authorization": proxy.token } : {}) },
      timeout: timeoutMs,
      agent: false,
      ...(proxyUrl.protocol === "https:" && settings.tls?.ca !== undefined ? { ca: [...settings.tls.ca] } : {})
    })
    request.once("connect", (response, socket) => {
      if (response.statusCode === 200) resolve(socket)
      else {
        socket.destroy()
        resolve(undefined)
      }
    })
    request.once("timeout", () => request.destroy())
    request.once("error", () => resolve(undefined))
    request.end()
  })

/**
 * Opens a fresh TLS connection to `target` with `settings` and reports what refused it, if anything: the alert's
 * error (its code names the reason), or a finding with code `ERR_TLS_CLOSED_AFTER_HANDSHAKE` when the server
 * closed the silent connection right after the handshake. Undefined when the handshake was accepted, or when the
 * probe could not get as far as a TLS handshake (unreachable, proxy refused): then there is nothing to add.
 */
export const probeTls = async (
  target: URL,
  settings: TransportSettings,
  options: ProbeOptions = {}
): Promise<ProbeFinding | undefined> => {
  if (target.protocol !== "https:") return undefined
  const quietMs = options.quietMs ?? 1500
  const raw = await openSocket(target, settings, settings.connectTimeoutMs)
  if (raw === undefined) return undefined
  const host = hostOf(target)
  const resolved = settings.tls
  const sentClientCert = resolved?.cert !== undefined
  return new Promise((resolve) => {
    const socket = tls.connect({
      socket: raw,
      servername: resolved?.servername ?? (isIP(host) === 0 ? host : undefined),
      ...(resolved?.ca !== undefined ? { ca: [...resolved.ca] } : {}),
      ...(resolved?.cert !== undefined ? { cert: resolved.cert, key: resolved.key } : {}),
      rejectUnauthorized: resolved?.rejectUnauthorized ?? true,
      ...(resolved?.minVersion !== undefined ? { minVersion: resolved.minVersion } : {})
    })
    let settled = false
    let handshaken = false
    const finish = (finding: ProbeFinding | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener("abort", abort)
      socket.destroy()
      raw.destroy()
      resolve(finding)
    }
    const abort = () => finish(undefined)
    options.signal?.addEventListener("abort", abort)
    // the handshake gets the connect timeout; once done, the server has `quietMs` to refuse the connection
    let timer = setTimeout(() => finish(undefined), settings.connectTimeoutMs + quietMs)
    socket.once("secureConnect", () => {
      handshaken = true
      clearTimeout(timer)
      timer = setTimeout(() => finish(undefined), quietMs)
    })
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (isTlsErrorCode(error.code)) finish({ code: error.code, message: error.message })
      else if (handshaken) finish(closedFinding(sentClientCert))
      else finish(undefined)
    })
    socket.once("close", () => finish(handshaken ? closedFinding(sentClientCert) : undefined))
  })
}

const closedFinding = (sentClientCert: boolean): ProbeFinding => ({
  code: "ERR_TLS_CLOSED_AFTER_HANDSHAKE",
  message: sentClientCert
    ? "the server closed the connection right after the TLS handshake without an answer: it did not accept our client certificate"
    : "the server closed the connection right after the TLS handshake without an answer: it probably requires a client certificate"
})
