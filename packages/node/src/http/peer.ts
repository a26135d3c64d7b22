/**
 * Provenance of a response: the socket that carried it (peer ip:port, the TLS peer certificate's sha256
 * fingerprint, the protocol), taken from undici's public diagnostics channel `undici:client:sendHeaders`, which
 * carries the socket a request is written to.
 *
 * Which request the event belongs to: undici calls the request handler's `onConnect` and then publishes
 * `sendHeaders` for that request in one synchronous step (client-h1's write), so a handler marks itself as the
 * one connecting and the next event fills its slot. Requests of other undici users in the process (Node's own
 * fetch publishes on the same channel names) mark nothing and are ignored.
 */
import type { Peer } from "@cargohold/core"
import { subscribe } from "node:diagnostics_channel"
import type { Socket } from "node:net"
import type { TLSSocket } from "node:tls"
import type { Dispatcher } from "undici"

/** Filled with the peer when the request is written. */
export interface PeerSlot {
  peer: Peer | undefined
}

let connecting: PeerSlot | undefined
let subscribed = false

/** Computed once per socket: every request on a kept-alive connection has the same peer. */
const bySocket = new WeakMap<Socket, Peer>()

const hexColons = /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/

const peerOfSocket = (socket: Socket): Peer => {
  const known = bySocket.get(socket)
  if (known !== undefined) return known
  const address =
    socket.remoteAddress === undefined
      ? undefined
      : socket.remoteFamily === "IPv6"
        ? `[${socket.remoteAddress}]:${socket.remotePort}`
        : `${socket.remoteAddress}:${socket.remotePort}`
  let tlsFingerprint: string | undefined
  let protocol = "http/1.1"
  const tls = socket as TLSSocket
  if (tls.encrypted === true && typeof tls.getPeerCertificate === "function") {
    // the format `openssl x509 -fingerprint -sha256` prints: upper-case hex pairs joined by colons
    const fingerprint = tls.getPeerCertificate().fingerprint256
    if (typeof fingerprint === "string" && hexColons.test(fingerprint)) tlsFingerprint = fingerprint
    if (typeof tls.alpnProtocol === "string" && tls.alpnProtocol !== "") protocol = tls.alpnProtocol
  }
  const peer: Peer = { address, tlsFingerprint, protocol }
  bySocket.set(socket, peer)
  return peer
}

const ensureSubscribed = (): void => {
  if (subscribed) return
  subscribed = true
  subscribe("undici:client:sendHeaders", (message) => {
    const slot = connecting
    if (slot === undefined) return
    connecting = undefined
    const socket = (message as { readonly socket?: Socket }).socket
    if (socket !== undefined) slot.peer = peerOfSocket(socket)
  })
}

/** A fresh slot; the subscription is made on first use, so a process that never asks pays nothing. */
export const newSlot = (): PeerSlot => {
  ensureSubscribed()
  return { peer: undefined }
}

/** Called from a request handler's `onConnect`: the next `sendHeaders` is this request's. */
export const markConnecting = (slot: PeerSlot): void => {
  connecting = slot
}

/** The request option that carries a request's slot from `observePeer` to the routing dispatcher. */
export const peerSlotOption = "cargoholdPeerSlot"

/**
 * An old-style undici handler (the platform HttpClient's `request()` handler) that records its peer in `slot`:
 * `onConnect` marks it. Handlers of the new style are not wrapped.
 */
export const trackingHandler = (handler: Dispatcher.DispatchHandler, slot: PeerSlot): Dispatcher.DispatchHandler => {
  if (typeof (handler as { onRequestStart?: unknown }).onRequestStart === "function") return handler
  if (typeof handler.onConnect !== "function") return handler
  const inner = handler as Required<Pick<Dispatcher.DispatchHandler, "onConnect">> & Dispatcher.DispatchHandler
  const wrapped: Dispatcher.DispatchHandler = {
    // undici passes a context as a second argument, not in the declared type: handed on as it came
    onConnect: (abort: (error?: Error) => void, context?: unknown) => {
      markConnecting(slot)
      return (inner.onConnect as (abort: unknown, context: unknown) => void)(abort, context)
    },
    onError: (error) => inner.onError?.(error),
    onUpgrade: (status, headers, socket) => inner.onUpgrade?.(status, headers, socket),
    onResponseStarted: () => inner.onResponseStarted?.(),
    onHeaders: (status, headers, resume, statusText) => inner.onHeaders?.(status, headers, resume, statusText) ?? true,
    onData: (chunk) => inner.onData?.(chunk) ?? true,
    onComplete: (trailers) => inner.onComplete?.(trailers),
    onBodySent: (chunkSize, totalBytesSent) => inner.onBodySent?.(chunkSize, totalBytesSent)
  }
  return wrapped
}
