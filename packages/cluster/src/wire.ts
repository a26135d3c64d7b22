/**
 * A batch request as it travels through the cluster's message table. Only what a runner cannot know is sent:
 * URLs, expected size and digests, source priorities and the *names* of remotes. A remote's settings (and its
 * secrets, sealed in the shared catalog) are looked up by the runner, so no credential is ever stored in a
 * message row; a request carrying its own headers is refused for the same reason.
 */
import { type BatchRequest, InvalidRequest, requestedSha256 } from "@cargohold/core"
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"

export const WireSource = Schema.Struct({
  url: Schema.String,
  priority: Schema.optional(Schema.Number),
  weight: Schema.optional(Schema.Number),
  remote: Schema.optional(Schema.String)
})
export type WireSource = typeof WireSource.Type

export const WireRequest = Schema.Struct({
  url: Schema.String,
  size: Schema.optional(Schema.Number),
  digests: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  priority: Schema.optional(Schema.Number),
  /** The name of a remote in the shared catalog. */
  remote: Schema.optional(Schema.String),
  sources: Schema.optional(Schema.Array(WireSource))
})
export type WireRequest = typeof WireRequest.Type

const refuse = (request: BatchRequest, reason: string) => new InvalidRequest({ url: String(request.url), reason })

/** The wire form of `request`; fails for what must not (or cannot) be sent through the message table. */
export const toWire = (request: BatchRequest): Effect.Effect<WireRequest, InvalidRequest> =>
  Effect.suspend(() => {
    if (request.headers !== undefined && Object.keys(request.headers).length > 0) {
      return Effect.fail(
        refuse(request, "request headers are not sent to cluster runners (they would be stored with the message); put them on a remote in the shared catalog")
      )
    }
    const digests: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.digests ?? {})) if (value !== undefined) digests[name] = value
    if (request.sha256 !== undefined) digests.sha256 = request.sha256
    return Effect.succeed({
      url: String(request.url),
      size: request.size,
      digests: Object.keys(digests).length > 0 ? digests : undefined,
      priority: request.priority,
      remote: request.remote?.name,
      sources: request.sources?.map((source) => ({
        url: String(source.url),
        priority: source.priority,
        weight: source.weight,
        remote: source.remote?.name
      }))
    })
  })

/**
 * The download entity a request goes to: its sha256 when it names one (so every request for the same bytes meets
 * on one runner, one at a time), else its URL — hashed, as entity ids are short columns.
 */
export const entityIdFor = (request: BatchRequest): string => {
  const sha256 = requestedSha256(request)
  if (sha256 !== undefined) return `sha256:${sha256}`
  return `url:${createHash("sha256").update(String(request.url)).digest("hex")}`
}
