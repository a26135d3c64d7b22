/**
 * Resuming a broken body: which validator to send with `If-Range`, and whether a `206` answers what was asked.
 */

/** The validator for `If-Range`: a strong ETag, else Last-Modified (weak ETags cannot be used). */
export const ifRangeValidator = (etag: string | undefined, lastModified: string | undefined): string | undefined =>
  etag !== undefined && !etag.startsWith("W/") ? etag : lastModified

/** Parses `Content-Range: bytes start-end/total` (total may be `*`). */
export const parseContentRange = (
  value: string | undefined
): { readonly start: number; readonly end: number; readonly total: number | undefined } | undefined => {
  if (value === undefined) return undefined
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value)
  if (match === null) return undefined
  const start = Number(match[1])
  const end = Number(match[2])
  if (end < start) return undefined
  return { start, end, total: match[3] === "*" ? undefined : Number(match[3]) }
}

/**
 * Checks a `206` against the resume: it must start at `from`, and a validator it names must equal ours.
 * Returns the reason it does not fit, or undefined.
 */
export const partialProblem = (
  from: number,
  contentRange: string | undefined,
  ours: { readonly etag: string | undefined; readonly lastModified: string | undefined },
  theirs: { readonly etag: string | undefined; readonly lastModified: string | undefined }
): string | undefined => {
  const range = parseContentRange(contentRange)
  if (range === undefined) return `206 without a usable Content-Range (${contentRange ?? "none"})`
  if (range.start !== from) return `206 starts at byte ${range.start}, asked for ${from}`
  if (ours.etag !== undefined && theirs.etag !== undefined && ours.etag !== theirs.etag) return "ETag changed"
  if (ours.lastModified !== undefined && theirs.lastModified !== undefined && ours.lastModified !== theirs.lastModified) {
    return "Last-Modified changed"
  }
  return undefined
}
