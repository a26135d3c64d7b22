/**
 * The lean exchange on undici: `dispatcher.dispatch` with a handler of our own, on the same pools as the
 * platform HttpClient. The head resolves one effect; the body stays paused until the pipeline pipes it into its
 * sink (hash, size check, temp object) or drops it — one effect for the whole body, the chunks handed over as
 * undici parsed them, backpressure by pausing the parser (no stream, no Effect, no promise per chunk unless the
 * sink asks to wait).
 */
import type { BodyFailure, BodySink, Exchange, ExchangeRequest, ExchangeResponse } from "@cargohold/core"
import { Effect } from "effect"
import type { Dispatcher } from "undici"
import { markConnecting, newSlot, type PeerSlot } from "./peer.js"

type Callback<A> = ((value: A) => void) | undefined

/** The abort reason of a request the guard (idle timeout, end of attempt) or a dropped body stopped. */
const aborted = (reason: unknown): Error => {
  if (reason instanceof Error) return reason
  const error = new Error("request aborted")
  error.name = "AbortError"
  return error
}

class LeanHandler implements Dispatcher.DispatchHandler {
  private abortRequest: ((error?: Error) => void) | undefined = undefined
  private resumeBody: (() => void) | undefined = undefined
  private rawHeaders: ReadonlyArray<Buffer> = []
  private parsed: Map<string, string> | undefined = undefined
  private sink: BodySink | undefined = undefined
  private settled = false
  /** Chunks that came before `pipe` (not expected: the parser is paused at the head; kept for safety). */
  private early: Array<Buffer> | undefined = undefined
  private ended = false
  private failure: BodyFailure | undefined = undefined
  status = 0
  /** The connection's peer, filled when the request is written (peer.ts). */
  readonly slot: PeerSlot = newSlot()
  onHead: Callback<LeanHandler> = undefined
  onHeadFailure: Callback<unknown> = undefined
  onBodyEnd: Callback<void> = undefined
  onBodyFailure: Callback<BodyFailure> = undefined

  constructor(private readonly signal: AbortSignal) {}

  /** Aborts the request (the guard's signal, a dropped body); nothing once it ended. */
  readonly abort = (): void => {
    if (this.settled) return
    this.abortRequest?.(aborted(this.signal.reason))
  }

  onConnect(abort: (error?: Error) => void): void {
    markConnecting(this.slot)
    this.abortRequest = abort
    if (this.signal.aborted) abort(aborted(this.signal.reason))
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true // 1xx: the final head follows
    this.status = statusCode
    this.rawHeaders = headers
    this.resumeBody = resume
    const done = this.onHead
    this.onHead = undefined
    this.onHeadFailure = undefined
    done?.(this)
    // the body waits for `pipe` or `discard`
    return this.sink !== undefined
  }

  onData(chunk: Buffer): boolean {
    // undici hands over an empty chunk when it resumes a body paused here: pausing on it again would never end
    if (chunk.length === 0) return true
    const sink = this.sink
    if (sink === undefined) {
      ;(this.early ??= []).push(chunk)
      return false
    }
    return this.feed(sink, chunk)
  }

  private feed(sink: BodySink, chunk: Buffer): boolean {
    let pending: Promise<void> | undefined
    try {
      pending = sink(chunk)
    } catch (error) {
      this.failBody({ _tag: "Sink", error: error as never })
      return false
    }
    if (pending === undefined) return true
    pending.then(
      () => {
        if (this.settled) return
        if (this.ended) this.settle()
        else this.resumeBody?.()
      },
      (error: unknown) => this.failBody({ _tag: "Sink", error: error as never })
    )
    return false
  }

  onComplete(): void {
    this.ended = true
    if (this.sink === undefined) return
    this.settle()
  }

  onError(error: Error): void {
    if (this.onHeadFailure !== undefined) {
      const fail = this.onHeadFailure
      this.onHead = undefined
      this.onHeadFailure = undefined
      this.settled = true
      fail(error)
      return
    }
    this.failBody({ _tag: "Transport", cause: error })
  }

  private failBody(failure: BodyFailure): void {
    if (this.settled) return
    this.failure ??= failure
    if (failure._tag === "Sink") this.abortRequest?.(aborted(undefined))
    if (this.onBodyFailure === undefined) return
    this.settle()
  }

  private settle(): void {
    if (this.settled) return
    this.settled = true
    const failure = this.failure
    const end = this.onBodyEnd
    const fail = this.onBodyFailure
    this.onBodyEnd = undefined
    this.onBodyFailure = undefined
    if (failure !== undefined) fail?.(failure)
    else end?.()
  }

  /** Starts the body into `sink`; `onBodyEnd`/`onBodyFailure` must be set before. */
  start(sink: BodySink): void {
    this.sink = sink
    if (this.failure !== undefined) {
      this.settle()
      return
    }
    const early = this.early
    this.early = undefined
    if (early !== undefined) {
      for (const chunk of early) {
        if (!this.feed(sink, chunk)) return
      }
    }
    if (this.ended) {
      this.settle()
      return
    }
    this.resumeBody?.()
  }

  header(name: string): string | undefined {
    let parsed = this.parsed
    if (parsed === undefined) {
      parsed = new Map()
      const raw = this.rawHeaders
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const key = raw[i]!.toString("latin1").toLowerCase()
        if (!parsed.has(key)) parsed.set(key, raw[i + 1]!.toString("latin1"))
      }
      this.parsed = parsed
    }
    return parsed.get(name)
  }
}

const noSink: BodySink = () => undefined

/** The exchange over `dispatcher` (a pool of the Node HTTP layer). */
export const makeExchange = (dispatcher: Dispatcher): Exchange => ({
  send: (request: ExchangeRequest) =>
    Effect.async<ExchangeResponse, unknown>((resume) => {
      const handler = new LeanHandler(request.signal)
      const onAbort = () => handler.abort()
      request.signal.addEventListener("abort", onAbort, { once: true })
      handler.onHeadFailure = (cause) => {
        request.signal.removeEventListener("abort", onAbort)
        resume(Effect.fail(cause))
      }
      handler.onHead = () => resume(Effect.succeed(responseOf(handler, request.signal, onAbort)))
      const url = new URL(request.url)
      try {
        dispatcher.dispatch(
          { origin: url.origin, path: `${url.pathname}${url.search}`, method: "GET", headers: request.headers },
          handler
        )
      } catch (cause) {
        handler.onError(cause instanceof Error ? cause : new Error(String(cause)))
      }
      // an interrupted wait for the head aborts the request
      return Effect.sync(() => handler.abort())
    })
})

const responseOf = (handler: LeanHandler, signal: AbortSignal, onAbort: () => void): ExchangeResponse => {
  const pipe = (sink: BodySink) =>
    Effect.async<void, BodyFailure>((resume) => {
      handler.onBodyEnd = () => {
        signal.removeEventListener("abort", onAbort)
        resume(Effect.void)
      }
      handler.onBodyFailure = (failure) => {
        signal.removeEventListener("abort", onAbort)
        resume(Effect.fail(failure))
      }
      handler.start(sink)
      return Effect.sync(() => handler.abort())
    })
  return {
    status: handler.status,
    header: (name) => handler.header(name),
    peer: handler.slot.peer,
    pipe,
    discard: (limit) => {
      const length = handler.header("content-length")
      if (length === undefined || !/^\d+$/.test(length) || Number(length) > limit) {
        return Effect.sync(() => {
          signal.removeEventListener("abort", onAbort)
          handler.abort()
        })
      }
      return Effect.ignore(pipe(noSink))
    }
  }
}
