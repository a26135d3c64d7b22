/**
 * Where a download decides between one stream and segments. Segments when the settings allow (`segments` > 1),
 * the store can write in place (`TempObject.writeAt`/`readAt`; S3 temps cannot: one stream), some source is
 * HTTP, the body is at least `segmentThreshold` bytes (the request's size, or the first answer's) with
 * `Accept-Ranges: bytes` and a validator (or a declared size). A declared size needs no first request; else the
 * first answer's body is dropped at its head. By default (`segmentBelowRate`, segments/watch.ts) the body of a
 * single HTTP source is watched instead and stays one stream while it runs at that rate or more (on a fast link
 * the client's CPU is the limit and segments only add the read-back); once it runs slower it keeps the bytes it
 * brought (hashed and written) and the rest comes in ranges. Several HTTP sources (mirrors), `segmentBelowRate: 0`
 * or Metalink pieces (checked from their start) go on in ranges from the head — with a declared size, without a
 * first request at all. Anything segments cannot finish goes on in one stream.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect } from "effect"
import * as Arr from "effect/Array"
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
import { isPositional } from "./segmentTransfer.js"
import { defaultSegmentBelowRate } from "./watch.js"

export { defaultSegments, defaultSegmentThreshold } from "./plan.js"
export { defaultSegmentBelowRate } from "./watch.js"

/** One stream, source after source (no more diverting). */
const oneStream = (sources: ReadonlyArray<Candidate>, ctx: FailoverContext) =>
  Effect.map(fromFirstGoodSource(sources, { ...ctx, divert: undefined }), (d) => d as Delivered)

/** Gets verified bytes into `ctx.temp`: in segments where that pays, else from the first good source in one stream. */
export const deliver = (
  sources: Arr.NonEmptyReadonlyArray<Candidate>,
  ctx: FailoverContext,
  input: DownloadRequestInput
): Effect.Effect<Delivered, DownloadError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const settings = yield* DownloadConfig
    const count = settings.segments ?? defaultSegments
    const threshold = settings.segmentThreshold ?? defaultSegmentThreshold
    const maxSize = settings.maxSize ?? Number.POSITIVE_INFINITY
    const http = sources.filter((c) => c.spec.scheme !== "file:")
    if (count <= 1 || !isPositional(ctx.temp) || !Arr.isNonEmptyReadonlyArray(http) || ctx.revalidation !== undefined) {
      return yield* oneStream(sources, ctx)
    }
    const spec = sources[0].spec
    const segmented = (from: Arr.NonEmptyReadonlyArray<Candidate>, size: number, seed?: SegmentedInput["seed"]) =>
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
    if (spec.size !== undefined && (spec.size < threshold || spec.size > maxSize)) return yield* oneStream(sources, ctx)
    const belowRate = settings.segmentBelowRate ?? defaultSegmentBelowRate
    // several HTTP sources: ranges from the start, spread over them (a slow mirror's share is taken over by a
    // faster one, plan.ts) — watching the first would judge one mirror and cost its window for nothing
    const watch =
      input.pieces !== undefined || belowRate <= 0 || http.length > 1 ? "now" : { watchBelowBytesPerSecond: belowRate }
    // nothing to watch and the size known: ranges from the start, no first request
    if (spec.size !== undefined && watch === "now") return yield* segmented(http, spec.size)
    const first = yield* fromFirstGoodSource(sources, {
      ...ctx,
      divert: (head) =>
        head.total >= threshold &&
        head.total <= maxSize &&
        head.acceptRanges &&
        (spec.size !== undefined || ifRangeValidator(head.etag, head.lastModified) !== undefined)
          ? watch
          : false
    })
    if (!("head" in first)) return first
    const from = first.head.received
    if (from === 0) yield* ctx.temp.reset
    // the source that announced the body goes first; its validators guard every range (If-Range)
    const ordered: Arr.NonEmptyReadonlyArray<Candidate> = [first.source, ...http.filter((c) => c !== first.source)]
    const seed = {
      source: first.source,
      etag: first.head.etag,
      lastModified: first.head.lastModified,
      start: from > 0 ? { from, hash: first.hash } : undefined
    }
    return yield* segmented(ordered, first.head.total, seed)
  })
