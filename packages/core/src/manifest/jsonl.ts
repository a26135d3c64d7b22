/**
 * JSON Lines manifests: one object per line,
 * `{"url"|"urls", "sha256"|"digests", "size", "priority", "mirrors": [{"url", "priority", "weight"}]}`.
 * Unknown keys are errors (a misspelt "sha265" must not silently drop the check).
 */
import { Either, Schema } from "effect"
import type { SourceInput } from "../domain/request.js"
import { describeIssues } from "../domain/schemaIssues.js"
import { collectRaw, contentLines, type ManifestItem, type ManifestText, type RawManifest, sizeMessage } from "./types.js"

const Url = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))
const Priority = Schema.Number.pipe(Schema.finite())

const Mirror = Schema.Struct({
  url: Url,
  priority: Schema.optional(Priority),
  weight: Schema.optional(Schema.Number.pipe(Schema.positive()))
})

export const JsonlEntry = Schema.Struct({
  url: Schema.optional(Url),
  urls: Schema.optional(Schema.NonEmptyArray(Url)),
  sha256: Schema.optional(Schema.String),
  digests: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  size: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations(sizeMessage)),
  priority: Schema.optional(Priority),
  mirrors: Schema.optional(Schema.Array(Mirror))
}).pipe(
  Schema.filter((e) => (e.url !== undefined || e.urls !== undefined ? undefined : 'needs "url" or "urls"'))
)
export type JsonlEntry = typeof JsonlEntry.Type

const decode = Schema.decodeUnknownEither(JsonlEntry, { onExcessProperty: "error", errors: "all" })

/** The manifest's entries and problems one line at a time, as they are read (nothing kept). */
export function* jsonlItems(text: ManifestText): Generator<ManifestItem> {
  for (const { line, content } of contentLines(text)) {
    let value: unknown
    try {
      value = JSON.parse(content)
    } catch (error) {
      yield { _tag: "problem", problem: { line, message: `not valid JSON: ${(error as Error).message}` } }
      continue
    }
    const decoded = decode(value)
    if (Either.isLeft(decoded)) {
      for (const message of describeIssues(decoded.left, { subject: "the line" })) {
        yield { _tag: "problem", problem: { line, message } }
      }
      continue
    }
    const e = decoded.right
    const urls = [...(e.url !== undefined ? [e.url] : []), ...(e.urls ?? [])]
    const sources: Array<SourceInput> = [
      ...urls.slice(1).map((url) => ({ url, priority: e.priority })),
      ...(e.mirrors ?? []).map((m) => ({ url: m.url, priority: m.priority, weight: m.weight }))
    ]
    yield {
      _tag: "entry",
      entry: {
        line,
        request: {
        url: urls[0]!,
        priority: e.priority,
        sha256: e.sha256,
        digests: e.digests,
        size: e.size,
        sources: sources.length > 0 ? sources : undefined
        }
      }
    }
  }
}

export const parseJsonl = (text: string): RawManifest => collectRaw(jsonlItems(text))
