/**
 * The lean transfer seam: one GET and its body, without the platform HttpClient's per-request and per-chunk
 * machinery. Platform layers that own the connection pools provide it (the Node layer builds it on undici's
 * `dispatch` with the same pools its HttpClient uses); without it, or for a connection it does not know, the
 * pipeline goes through `HttpClient` as before. Every policy (redirects, credentials, limits, resume, status
 * handling, timeouts) stays in the pipeline (fetchHttp.ts), so both paths honour the same rules.
 */
import { Context, type Effect } from "effect"
import type { DownloadError } from "../domain/errors.js"
import type { RemoteConnection } from "../remote/policy.js"

/**
 * Takes one body chunk: hashes and stores it (or fails by throwing a `DownloadError`). Returns a promise when the
 * next chunk must wait for it (a write behind, a rate limit); the chunk may be reused once the call returned
 * (synchronously) or the promise settled.
 */
export type BodySink = (chunk: Uint8Array) => Promise<void> | undefined

/** Why a body stopped before its end: the sink refused it, or the transport broke (the cause, to classify). */
export type BodyFailure =
  | { readonly _tag: "Sink"; readonly error: DownloadError }
  | { readonly _tag: "Transport"; readonly cause: unknown }

/**
 * Where an answer came from (provenance): the connection's peer as the transport saw it. Platform layers fill
 * what they know; every field may be missing (a stub client, a socket without an address).
 */
export interface Peer {
  /** `ip:port` (`[v6]:port`) of the socket: the server, or the proxy for requests through one. */
  readonly address?: string | undefined
  /** sha256 of the TLS peer certificate, as `openssl x509 -fingerprint -sha256` prints it (https only). */
  readonly tlsFingerprint?: string | undefined
  /** `http/1.1`, or what ALPN agreed (`h2`). */
  readonly protocol?: string | undefined
}

/** The head of an answer; its body waits (paused) until `pipe` or `discard`. */
export interface ExchangeResponse {
  readonly status: number
  /** A header by its lower-case name (the first value when repeated). */
  readonly header: (name: string) => string | undefined
  /** The connection that carried it, when the layer knows. */
  readonly peer?: Peer | undefined
  /** Streams the body to its end into `sink`: one effect for the whole body. */
  readonly pipe: (sink: BodySink) => Effect.Effect<void, BodyFailure>
  /**
   * Reads a small body (at most `limit` bytes announced) to its end and drops it, so the connection is reused;
   * a larger or unannounced one is aborted.
   */
  readonly discard: (limit: number) => Effect.Effect<void>
}

export interface ExchangeRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** Aborts the request and its body (idle timeout, end of the attempt). */
  readonly signal: AbortSignal
}

/** Sends GETs over one remote's transport. */
export interface Exchange {
  /** Sends the request; succeeds with the head, fails with the transport's cause (classified by the caller). */
  readonly send: (request: ExchangeRequest) => Effect.Effect<ExchangeResponse, unknown>
}

export interface HttpExchangeService {
  /** The exchange for a connection of the `NetworkPolicy`; undefined when this layer does not own it. */
  readonly forConnection: (connection: RemoteConnection) => Exchange | undefined
}

/** Optional: undefined (the default) sends every request through `HttpClient`. */
export class HttpExchange extends Context.Reference<HttpExchange>()("@cargohold/core/HttpExchange", {
  defaultValue: (): HttpExchangeService | undefined => undefined
}) {}
