/**
 * Small stored artifacts kept in memory, by sha256: content-addressed bytes never change, so a cached copy is as
 * good as the file (it was read from the store, and its digest checked before it is kept here). A hot small file then
 * costs no stat/open/read/close round trips through libuv's thread pool, which is what a request cost otherwise.
 * Bounded by bytes, least recently used out first.
 */
import { etagOf } from "@cargohold/core/internal/serve/index"

export interface Hot {
  readonly bytes: Buffer
  /** Its ETag and Content-Length, made once rather than per request. */
  readonly etag: string
  readonly length: string
}

export interface ContentCache {
  readonly get: (sha256: string) => Hot | undefined
  readonly put: (sha256: string, bytes: Buffer) => void
}

export const makeContentCache = (options: { readonly maxBytes: number; readonly maxEntryBytes: number }): ContentCache => {
  const entries = new Map<string, Hot>()
  let bytes = 0
  return {
    get: (sha256) => {
      const found = entries.get(sha256)
      if (found !== undefined) {
        entries.delete(sha256)
        entries.set(sha256, found)
      }
      return found
    },
    put: (sha256, buffer) => {
      if (buffer.length > options.maxEntryBytes || entries.has(sha256)) return
      entries.set(sha256, { bytes: buffer, etag: etagOf(sha256), length: String(buffer.length) })
      bytes += buffer.length
      while (bytes > options.maxBytes && entries.size > 0) {
        const [oldest, value] = entries.entries().next().value!
        entries.delete(oldest)
        bytes -= value.bytes.length
      }
    }
  }
}
