/**
 * Answering for one artifact: validators first (304 needs no bytes), then the stored copy (HEAD, Range single and
 * multiple, If-Range), else an on-demand fetch. What the client may see of a fetch:
 * - up to `verifyBeforeSendBytes` (and whenever the size is unknown, or several ranges are asked), nothing before
 *   the artifact is verified and stored: then it is served as a stored one, and a failure is a clean 502;
 * - larger ones stream as they arrive, but the last byte of every response waits for the digest: a failure
 *   destroys the connection, short of its Content-Length (never a complete, clean response of bad bytes).
 */
import type { Sha256, StorageService } from "@cargohold/core"
import {
  contentRange,
  etagOf,
  type LiveBody,
  multipartParts,
  noneMatch,
  type OnDemandFetches,
  type OnDemandTarget,
  parseRange,
  rangeAllowed
} from "@cargohold/core/internal/serve/index"
import { Effect, Option, type Runtime } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { stat } from "node:fs/promises"
import type * as http from "node:http"
import { gone, readSmall, write, writeStored } from "./body.js"
import type { ContentCache } from "./contentCache.js"

export interface ArtifactContext {
  readonly storage: StorageService
  readonly onDemand: OnDemandFetches
  readonly runtime: Runtime.Runtime<never>
  readonly verifyBeforeSendBytes: number
  readonly cache: ContentCache
}

export interface ArtifactAsk {
  readonly target: OnDemandTarget
  readonly contentType: string
  /** Immutable route (`/sha256/…`, `/NAME@N/…`): long-lived caching allowed. */
  readonly immutable: boolean
  /** The full target (size, digests), asked only when the artifact is not stored (the catalog knows it). */
  readonly describe?: (() => Promise<OnDemandTarget>) | undefined
}

/** Body bytes counted for the access log, and how the response ended. */
export interface Outcome {
  bytes: number
  cut: boolean
}

const smallFile = 256 * 1024

/** One header's value (a repeated one is not something these headers may be). */
const one = (value: string | ReadonlyArray<string> | undefined): string | undefined => (typeof value === "string" ? value : undefined)

/** Where the artifact is stored: its size and local path (when the store has one). None: not stored. */
const storedCopy = async (ctx: ArtifactContext, sha256: Sha256): Promise<Option.Option<{ size: number; path: string | undefined }>> => {
  const local = ctx.storage.localPath(sha256)
  if (Option.isSome(local)) {
    try {
      const s = await stat(local.value)
      return s.isFile() ? Option.some({ size: s.size, path: local.value }) : Option.none()
    } catch {
      return Option.none()
    }
  }
  const found = await Effect.runPromise(Effect.either(ctx.storage.stat(sha256)))
  return found._tag === "Right" ? Option.map(found.right, (o) => ({ size: o.size, path: undefined })) : Option.none()
}

const sha256Of = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex")

const immutableCache = "public, max-age=31536000, immutable"

const baseHeaders = (ask: ArtifactAsk, cache: "HIT" | "MISS"): http.OutgoingHttpHeaders => ({
  etag: etagOf(ask.target.sha256),
  "accept-ranges": "bytes",
  "x-cache": cache,
  ...(ask.immutable ? { "cache-control": immutableCache } : {})
})

const plain = (res: http.ServerResponse, status: number, text: string, extra: http.OutgoingHttpHeaders, head: boolean, out: Outcome) => {
  const body = Buffer.from(`${text}\n`)
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": body.length, ...extra })
  if (head) res.end()
  else {
    out.bytes += body.length
    res.end(body)
  }
}

/** A stored artifact: whole, one range, several ranges (multipart/byteranges), or 416. */
const sendStored = async (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: ArtifactContext,
  ask: ArtifactAsk,
  copy: { size: number; path: string | undefined },
  cache: "HIT" | "MISS",
  out: Outcome
) => {
  const { size, path } = copy
  const sha256 = ask.target.sha256
  const head = req.method === "HEAD"
  const headers = baseHeaders(ask, cache)
  const etag = headers.etag as string
  const ranges = rangeAllowed(one(req.headers["if-range"]), etag) ? parseRange(req.headers.range, size) : { _tag: "Whole" as const }
  if (ranges._tag === "Unsatisfiable") {
    return plain(res, 416, "range not satisfiable", { ...headers, "content-range": `bytes */${size}` }, head, out)
  }
  if (ranges._tag === "Whole") {
    res.writeHead(200, { ...headers, "content-type": ask.contentType, "content-length": size })
    if (head) return void res.end()
    if (path !== undefined && size <= smallFile) {
      const body = await readSmall(path)
      // kept in memory only once its digest is checked: a damaged copy is not served from memory for hours
      if (body.length === size && sha256Of(body) === sha256) ctx.cache.put(sha256, body)
      out.bytes += body.length
      return void res.end(body)
    }
    await writeStored(res, ctx.storage, ctx.runtime, sha256, path, 0, size - 1, out)
    return void res.end()
  }
  if (ranges.ranges.length === 1) {
    const r = ranges.ranges[0]!
    res.writeHead(206, { ...headers, "content-type": ask.contentType, "content-length": r.end - r.start + 1, "content-range": contentRange(r, size) })
    if (head) return void res.end()
    await writeStored(res, ctx.storage, ctx.runtime, sha256, path, r.start, r.end, out)
    return void res.end()
  }
  const boundary = randomBytes(12).toString("hex")
  const parts = multipartParts(ranges.ranges, size, ask.contentType, boundary)
  res.writeHead(206, { ...headers, "content-type": `multipart/byteranges; boundary=${boundary}`, "content-length": parts.length })
  if (head) return void res.end()
  for (let i = 0; i < ranges.ranges.length && !gone(res); i++) {
    await write(res, Buffer.from(parts.heads[i]!), out)
    await writeStored(res, ctx.storage, ctx.runtime, sha256, path, ranges.ranges[i]!.start, ranges.ranges[i]!.end, out)
  }
  await write(res, Buffer.from(parts.tail), out)
  res.end()
}

/** Waits for the fetch to end: the stored copy once verified, else the error. */
const settled = async (live: LiveBody) => {
  while (live.state._tag === "Running") await live.changed()
  return live.state
}

/**
 * Streams bytes [start, end] of a running fetch, holding back byte `end` until the digest is verified. Returns
 * false when the response had to be cut (failure, or a restart after bytes were sent).
 */
const streamLive = async (
  res: http.ServerResponse,
  ctx: ArtifactContext,
  live: LiveBody,
  start: number,
  end: number,
  out: Outcome
): Promise<boolean> => {
  let epoch = live.epoch
  let pos = start
  while (pos <= end && !gone(res)) {
    const state = live.state
    if (state._tag === "Failed") return false
    if (state._tag === "Verified") {
      const copy = await storedCopy(ctx, live.sha256)
      if (Option.isNone(copy)) return false
      await writeStored(res, ctx.storage, ctx.runtime, live.sha256, copy.value.path, pos, end, out)
      return true
    }
    if (live.epoch !== epoch) {
      if (pos > start) return false
      epoch = live.epoch
    }
    const slice = live.slice(pos, end) // never byte `end` while running
    if (slice._tag === "Bytes") {
      for (const chunk of slice.chunks) await write(res, chunk, out)
      pos += slice.length
    } else if (slice._tag === "Behind") {
      await settled(live)
    } else {
      await live.changed()
    }
  }
  return true
}

/**
 * The hot path, synchronous: a small artifact in memory, asked for whole and unconditionally (no If-None-Match,
 * Range or If-Range: those go the general way). Headers as one flat list, head and body in one write. False: not
 * answered (not in memory, or a conditional/range request).
 */
export const sendHot = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: ArtifactContext,
  sha256: string,
  size: number | undefined,
  contentType: string,
  immutable: boolean,
  out: Outcome
): boolean => {
  const hot = ctx.cache.get(sha256)
  if (hot === undefined || (size !== undefined && hot.bytes.length !== size) || conditional(req.rawHeaders)) return false
  res.writeHead(
    200,
    immutable
      ? ["etag", hot.etag, "accept-ranges", "bytes", "x-cache", "HIT", "cache-control", immutableCache, "content-type", contentType, "content-length", hot.length]
      : ["etag", hot.etag, "accept-ranges", "bytes", "x-cache", "HIT", "content-type", contentType, "content-length", hot.length]
  )
  if (req.method === "HEAD") res.end()
  else {
    out.bytes += hot.bytes.length
    res.end(hot.bytes)
  }
  return true
}

/**
 * The request has a header that makes the answer conditional or partial. Read from the raw list: the parsed
 * `req.headers` object is built on first use, a cost the hot path need not pay.
 */
const conditional = (raw: ReadonlyArray<string>): boolean => {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if ((name.length === 5 || name.length === 8 || name.length === 13) && /^(range|if-range|if-none-match)$/i.test(name)) return true
  }
  return false
}

/** Answers a GET or HEAD for an artifact. */
export const sendArtifact = async (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: ArtifactContext,
  ask: ArtifactAsk,
  out: Outcome
): Promise<void> => {
  const head = req.method === "HEAD"
  const etag = etagOf(ask.target.sha256)
  if (noneMatch(one(req.headers["if-none-match"]), etag)) {
    res.writeHead(304, baseHeaders(ask, "HIT"))
    return void res.end()
  }
  if (sendHot(req, res, ctx, ask.target.sha256, ask.target.size, ask.contentType, ask.immutable, out)) return
  const copy = await storedCopy(ctx, ask.target.sha256)
  if (Option.isSome(copy) && (ask.target.size === undefined || copy.value.size === ask.target.size)) {
    return sendStored(req, res, ctx, ask, copy.value, "HIT", out)
  }
  if (ask.describe !== undefined) return sendArtifact(req, res, ctx, { ...ask, target: await ask.describe(), describe: undefined }, out)
  const started = await Effect.runPromise(Effect.either(ctx.onDemand.fetch(ask.target)))
  if (started._tag === "Left") return plain(res, 502, `cannot fetch: ${started.left.message}`, {}, head, out)
  const begun = started.right
  if (begun._tag === "NoSource") return plain(res, 404, "not stored, and no source is known for it", {}, head, out)
  if (begun._tag === "CoolingDown") {
    const seconds = Math.max(1, Math.ceil((begun.untilMs - Date.now()) / 1000))
    return plain(res, 502, `the last fetch failed (${begun.error._tag}: ${begun.error.message}); retried after ${seconds} s`, { "retry-after": String(seconds) }, head, out)
  }
  const live = begun.live
  const size = ask.target.size
  const ranges = size === undefined ? undefined : rangeAllowed(one(req.headers["if-range"]), etag) ? parseRange(req.headers.range, size) : { _tag: "Whole" as const }
  const single =
    ranges !== undefined && (ranges._tag === "Whole" || (ranges._tag === "Ranges" && ranges.ranges.length === 1)) ? ranges : undefined
  if (size === undefined || size <= ctx.verifyBeforeSendBytes || single === undefined) {
    const state = await settled(live)
    if (state._tag === "Failed") return plain(res, 502, `cannot fetch: ${state.error.message}`, {}, head, out)
    const stored = await storedCopy(ctx, ask.target.sha256)
    if (Option.isNone(stored)) return plain(res, 502, "fetched, but the stored copy is not readable", {}, head, out)
    return sendStored(req, res, ctx, ask, stored.value, "MISS", out)
  }
  const r = single._tag === "Whole" ? { start: 0, end: size - 1 } : single.ranges[0]!
  const headers = baseHeaders(ask, "MISS")
  if (single._tag === "Whole") res.writeHead(200, { ...headers, "content-type": ask.contentType, "content-length": size })
  else res.writeHead(206, { ...headers, "content-type": ask.contentType, "content-length": r.end - r.start + 1, "content-range": contentRange(r, size) })
  if (head) return void res.end()
  res.flushHeaders()
  const clean = await streamLive(res, ctx, live, r.start, r.end, out)
  if (!clean) {
    // no terminating chunk, short of Content-Length: the client cannot take this for a complete response
    out.cut = true
    res.destroy()
    return
  }
  res.end()
}
