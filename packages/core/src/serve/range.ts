/**
 * `Range: bytes=…` (RFC 9110 §14): single and multiple ranges, suffix ranges, and when to ignore the header.
 */

/** One satisfiable range, inclusive bounds. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

export type RangeRequest =
  /** No usable Range header: the whole representation (a malformed one is ignored, as RFC 9110 allows). */
  | { readonly _tag: "Whole" }
  | { readonly _tag: "Ranges"; readonly ranges: ReadonlyArray<ByteRange> }
  /** Every range lies past the end: 416 with `Content-Range: bytes *\/size`. */
  | { readonly _tag: "Unsatisfiable" }

/** More ranges than this in one request are not worth the multipart overhead (and are a known abuse): whole. */
export const maxRanges = 32

const whole: RangeRequest = { _tag: "Whole" }

/** Parses a Range header against a representation of `size` bytes. */
export const parseRange = (header: string | undefined, size: number): RangeRequest => {
  if (header === undefined) return whole
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header)
  if (match === null) return whole
  const specs = match[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "")
  if (specs.length === 0 || specs.length > maxRanges) return whole
  const ranges: Array<ByteRange> = []
  for (const spec of specs) {
    const m = /^(\d*)-(\d*)$/.exec(spec)
    if (m === null || (m[1] === "" && m[2] === "")) return whole
    if (m[1] === "") {
      const suffix = Number(m[2])
      if (suffix === 0) continue
      ranges.push({ start: Math.max(0, size - suffix), end: size - 1 })
      continue
    }
    const start = Number(m[1])
    if (m[2] !== "" && Number(m[2]) < start) return whole
    if (start >= size) continue
    const end = m[2] === "" ? size - 1 : Number(m[2])
    ranges.push({ start, end: Math.min(end, size - 1) })
  }
  if (ranges.length === 0) return size === 0 ? whole : { _tag: "Unsatisfiable" }
  return { _tag: "Ranges", ranges: coalesce(ranges) }
}

/** Overlapping or adjacent ranges merged (RFC 9110 lets a server do so), in ascending order. */
const coalesce = (ranges: ReadonlyArray<ByteRange>): ReadonlyArray<ByteRange> => {
  if (ranges.length < 2) return ranges
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  const out: Array<{ start: number; end: number }> = [{ ...sorted[0]! }]
  for (const r of sorted.slice(1)) {
    const last = out[out.length - 1]!
    if (r.start <= last.end + 1) last.end = Math.max(last.end, r.end)
    else out.push({ ...r })
  }
  return out
}

/** `Content-Range` of one range. */
export const contentRange = (range: ByteRange, size: number): string => `bytes ${range.start}-${range.end}/${size}`

/** The parts of a `multipart/byteranges` body: each range's head, then its bytes; and the closing delimiter. */
export const multipartParts = (
  ranges: ReadonlyArray<ByteRange>,
  size: number,
  contentType: string,
  boundary: string
): { readonly heads: ReadonlyArray<string>; readonly tail: string; readonly length: number } => {
  const heads = ranges.map(
    (r, i) => `${i === 0 ? "" : "\r\n"}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: ${contentRange(r, size)}\r\n\r\n`
  )
  const tail = `\r\n--${boundary}--\r\n`
  let length = tail.length
  for (let i = 0; i < ranges.length; i++) length += heads[i]!.length + ranges[i]!.end - ranges[i]!.start + 1
  return { heads, tail, length }
}
