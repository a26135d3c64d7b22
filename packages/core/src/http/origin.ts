/**
 * The origin a URL is kept under — for origin health and cool-downs, per-origin credentials, a summary's list of
 * misbehaving sources: `scheme://host:port` for http(s), `file:` for file URLs (whose URL origin is the opaque
 * "null"), undefined for a text that is not a URL.
 */
export const originOf = (url: string): string | undefined => {
  try {
    const parsed = new URL(url)
    return parsed.protocol === "file:" ? "file:" : parsed.origin
  } catch {
    return undefined
  }
}
