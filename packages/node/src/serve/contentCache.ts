/**
 * Small stored artifacts kept in memory, by sha256: content-addressed bytes never change, so a cached copy is as
 * good as the file (it was read from the store, whose copies are verified when committed). A hot small file then
 * costs no stat/open/read/close round trips through libuv's thread pool, which is what a request cost otherwise.
 * Bounded by bytes, least recently used out first.
 */
export interface ContentCache {
  readonly get: (sha256: string) => Buffer | undefined
  readonly put: (sha256: string, bytes: Buffer) => void
}

export const makeContentCache = (options: { readonly maxBytes: number; readonly maxEntryBytes: number }): ContentCache => {
  const entries = new Map<string, Buffer>()
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
      entries.set(sha256, buffer)
      bytes += buffer.length
      while (bytes > options.maxBytes && entries.size > 0) {
        const [oldest, value] = entries.entries().next().value!
        entries.delete(oldest)
        bytes -= value.length
      }
    }
  }
}
