/**
 * Where a download decides between one stream and segments. Segments when the settings allow (`segments` > 1),
 * the store can write in place (`TempObject.writeAt`/`readAt`; S3 temps cannot: one stream), some source is
 * HTTP, and the body is at least `segmentThreshold` bytes: known up front (the request's size), or announced by
 * the first answer of the single stream together with `Accept-Ranges: bytes` and a validator (that body is then
 * dropped and the download goes on in ranges). Anything segments cannot finish goes on in one stream.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect } from "effect"
import type { Algorithm } from "../../domain/digest.js"
import type { DownloadError } from "../../domain/errors.js"
import type { DownloadRequestInput } from "../../domain/request.js"
import { ifRangeValidator } from "../../http/resume.js"
import { DownloadConfig } from "../config.js"
import { type Delivered, type FailoverContext, fromFirstGoodSource } from "../failover.js"
import type { Candidate } from "../sources.js"
import { defaultSegments, defaultSegmentThreshold } from "./plan.js"
import { usablePieces } from "./prefix.js"
import { fetchSegmented, type SegmentedInput } from "./run.js"

export { defaultSegments, defaultSegmentThreshold } from "./plan.js"

/** One stream, source after source (no more diverting). */
const oneStream = (sources: ReadonlyArray<Candidate>, ctx: FailoverContext) =>
  Effect.map(fromFirstGoodSource(sources, { ...ctx, divert: undefined }), (d) => d as Delivered)

/** Gets verified bytes into `ctx.temp`: in segments where that pays, else from the first good source in one stream. */
export const deliver = (
  sources: ReadonlyArray<Candidate>,
  ctx: FailoverContext,
  input: DownloadRequestInput
): Effect.Effect<Delivered, DownloadError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const settings = yield* DownloadConfig
    const count = settings.segments ?? defaultSegments
    const threshold = settings.segmentThreshold ?? defaultSegmentThreshold
    const maxSize = settings.maxSize ?? Number.POSITIVE_INFINITY
    const http = sources.filter((c) => c.spec.scheme !== "file:")
    const able =
      count > 1 &&
      ctx.temp.writeAt !== undefined &&
      ctx.temp.readAt !== undefined &&
      http.length > 0 &&
      ctx.revalidation === undefined
    if (!able) return yield* oneStream(sources, ctx)
    const spec = sources[0]!.spec
    const segmented = (from: ReadonlyArray<Candidate>, size: number, seed?: SegmentedInput["seed"]) =>
      Effect.gen(function* () {
        const outcome = yield* fetchSegmented(
          {
            sources: from,
            size,
            count,
            pieces: usablePieces(input.pieces, size),
            algorithms: ["sha256", ...(Object.keys(spec.digests) as Array<Algorithm>)],
            expected: spec.digests,
            seed
          },
          ctx
        )
        if (!("reason" in outcome)) return outcome
        yield* ctx.temp.reset
        return yield* oneStream(sources, ctx)
      })
    if (spec.size !== undefined) {
      return spec.size >= threshold && spec.size <= maxSize ? yield* segmented(http, spec.size) : yield* oneStream(sources, ctx)
    }
    const first = yield* fromFirstGoodSource(sources, {
      ...ctx,
      divert: (head) =>
        head.total >= threshold &&
        head.total <= maxSize &&
        head.acceptRanges &&
        ifRangeValidator(head.etag, head.lastModified) !== undefined
    })
    if (!("head" in first)) return first
    yield* ctx.temp.reset
    // the source that announced the body goes first; its validators guard every range (If-Range)
    const ordered = [first.source, ...http.filter((c) => c !== first.source)]
    const seed = { source: first.source, etag: first.head.etag, lastModified: first.head.lastModified }
    return yield* segmented(ordered, first.head.total, seed)
  })
