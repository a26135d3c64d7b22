/**
 * Validators: an artifact's ETag is its sha256, quoted (a strong validator: the bytes cannot change under it).
 */

export const etagOf = (sha256: string): string => `"${sha256}"`

const tags = (header: string): ReadonlyArray<string> =>
  header.split(",").map((t) => t.trim().replace(/^W\//, "")).filter((t) => t !== "")

/** `If-None-Match` matches (weak comparison, as RFC 9110 §13.1.2 asks): answer 304 to GET and HEAD. */
export const noneMatch = (header: string | undefined, etag: string): boolean =>
  header !== undefined && (header.trim() === "*" || tags(header).includes(etag))

/**
 * `If-Range` allows the range: only a strong match of the ETag (a date cannot match, there is no Last-Modified;
 * a weak tag never matches). Without the header, ranges apply.
 */
export const rangeAllowed = (header: string | undefined, etag: string): boolean =>
  header === undefined || header.trim() === etag
