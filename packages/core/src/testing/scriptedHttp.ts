/**
 * A scripted HttpClient for unit tests of code built on cargohold: each URL answers from a list of steps,
 * in order (the last step repeats). Every request is recorded.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Context, Effect, Layer, Ref } from "effect"

export type ScriptStep =
  | {
      readonly status?: number
      readonly headers?: Readonly<Record<string, string>>
      /** The body; chunks are delivered one by one. */
      readonly body?: string | Uint8Array | ReadonlyArray<Uint8Array>
      /** Break the body off with an error after the chunks. */
      readonly breakAfterBody?: boolean
    }
  | { readonly refuse: string }

export interface RecordedRequest {
  readonly url: string
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
}

export interface ScriptedHttp {
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
}

export class ScriptedHttpLog extends Context.Tag("@cargohold/core/testing/ScriptedHttpLog")<
  ScriptedHttpLog,
  ScriptedHttp
>() {}

const encoder = new TextEncoder()

const toChunks = (body: string | Uint8Array | ReadonlyArray<Uint8Array> | undefined): ReadonlyArray<Uint8Array> =>
  body === undefined ? [] : typeof body === "string" ? [encoder.encode(body)] : body instanceof Uint8Array ? [body] : body

const respond = (request: HttpClientRequest.HttpClientRequest, step: ScriptStep) => {
  if ("refuse" in step) {
    const cause = Object.assign(new Error(step.refuse), { code: step.refuse })
    return Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause }))
  }
  const chunks = toChunks(step.body)
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk)
      if (step.breakAfterBody) controller.error(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }))
      else controller.close()
    }
  })
  const status = step.status ?? 200
  const nullBody = status === 204 || status === 304 || (status >= 300 && status < 400 && chunks.length === 0)
  return Effect.succeed(
    HttpClientResponse.fromWeb(
      request,
      new Response(nullBody ? null : stream, { status, headers: step.headers ?? {} })
    )
  )
}

/**
 * Provides `HttpClient` answering from `script` (URL → steps) and `ScriptedHttpLog` to read the requests back.
 * A URL with no script answers 404.
 */
export const layerScriptedHttp = (
  script: Readonly<Record<string, ReadonlyArray<ScriptStep>>>
): Layer.Layer<HttpClient.HttpClient | ScriptedHttpLog> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<RecordedRequest>>([])
      const counters = new Map<string, number>()
      const client = HttpClient.make((request, url) =>
        Effect.gen(function* () {
          const href = url.href
          yield* Ref.update(log, (all) => [...all, { url: href, method: request.method, headers: { ...request.headers } }])
          const steps = script[href]
          if (steps === undefined || steps.length === 0) return yield* respond(request, { status: 404 })
          const n = counters.get(href) ?? 0
          counters.set(href, n + 1)
          return yield* respond(request, steps[Math.min(n, steps.length - 1)]!)
        })
      )
      return Context.make(HttpClient.HttpClient, client).pipe(Context.add(ScriptedHttpLog, { requests: Ref.get(log) }))
    })
  )
