/**
 * A static-file server for segmented downloads: `Range: bytes=a-b` (and `a-`), If-Range on ETag, paced bodies
 * (a per-connection rate, as CDNs and nginx's limit_rate do), and faults per request: a cut, wrong bytes in a span,
 * the file replaced after some requests.
 */
import type { Handler, ServerStats } from "../support/servers.js"

export interface Version {
  readonly body: Buffer
  readonly etag: string
}

export interface RangeServerOptions {
  /** The file served for the n-th request (0-based). */
  readonly version: (n: number) => Version
  /** Ranges not served: every answer is the whole body, `Accept-Ranges: none`. */
  readonly noRanges?: boolean | undefined
  /** Bytes per second per response (paced in 64 KiB writes); unlimited when absent. */
  readonly bytesPerSecond?: number | undefined
  /** The first this many bytes of each response go out unpaced (a token bucket's burst), the rest at the rate. */
  readonly burstBytes?: number | undefined
  /** The n-th request's body is cut (connection destroyed) after this many bytes; undefined: served whole. */
  readonly cutAfter?: ((n: number, start: number) => number | undefined) | undefined
  /** Bytes `[start, end)` of the file are served wrong (inverted). */
  readonly corrupt?: { readonly start: number; readonly end: number } | undefined
}

const chunkBytes = 64 * 1024

export const rangeServer = (options: RangeServerOptions): Handler => {
  let n = 0
  return (request, response, _stats: ServerStats) => {
    const index = n++
    const { body, etag } = options.version(index)
    const size = body.length
    const headers: Record<string, string> = { "accept-ranges": options.noRanges ? "none" : "bytes", etag }
    const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "")
    const ifRange = request.headers["if-range"]
    let start = 0
    let end = size
    if (match !== null && !options.noRanges && (ifRange === undefined || ifRange === etag)) {
      start = Number(match[1])
      end = match[2] === "" ? size : Math.min(size, Number(match[2]) + 1)
      if (start >= size || end <= start) {
        response.writeHead(416, { "content-range": `bytes */${size}` }).end()
        return
      }
      response.writeHead(206, { ...headers, "content-length": String(end - start), "content-range": `bytes ${start}-${end - 1}/${size}` })
    } else {
      response.writeHead(200, { ...headers, "content-length": String(size) })
    }
    let part = body.subarray(start, end)
    const corrupt = options.corrupt
    if (corrupt !== undefined && corrupt.start < end && corrupt.end > start) {
      part = Buffer.from(part)
      for (let i = Math.max(corrupt.start, start); i < Math.min(corrupt.end, end); i++) part[i - start] = 255 - part[i - start]!
    }
    const cut = options.cutAfter?.(index, start)
    const limit = cut === undefined ? part.length : Math.min(cut, part.length)
    const pause = options.bytesPerSecond === undefined ? 0 : (chunkBytes / options.bytesPerSecond) * 1000
    let at = 0
    const next = () => {
      if (response.destroyed) return
      if (at >= limit) {
        if (limit < part.length) setTimeout(() => response.socket?.destroy(), 10)
        else response.end()
        return
      }
      const slice = part.subarray(at, Math.min(limit, at + chunkBytes))
      at += slice.length
      const paced = pause > 0 && at > (options.burstBytes ?? 0)
      response.write(slice, () => (paced ? setTimeout(next, pause) : setImmediate(next)))
    }
    next()
  }
}
