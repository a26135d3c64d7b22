/**
 * Human formatting of sizes, rates, durations and URLs for the terminal.
 */

const units = ["B", "KiB", "MiB", "GiB", "TiB"] as const

/** `1536` → `1.5 KiB`. */
export const formatBytes = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`
}

/** Bytes per second as `12.3 MiB/s`. */
export const formatRate = (bytesPerSecond: number): string => `${formatBytes(bytesPerSecond)}/s`

/** `75_000` ms → `1m15s`. */
export const formatDuration = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return "?"
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return ms < 10_000 && ms > 0 && seconds < 10 ? `${(ms / 1000).toFixed(1)}s` : `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

/** The last path segment of a URL, or the URL itself. */
export const shortName = (url: string): string => {
  const withoutQuery = url.replace(/[?#].*$/, "")
  const slash = withoutQuery.replace(/\/+$/, "").lastIndexOf("/")
  const name = slash >= 0 ? withoutQuery.slice(slash + 1) : withoutQuery
  return name === "" ? url : name
}

/** Cuts a line to the terminal width (one column kept free so the cursor never wraps). */
export const fit = (line: string, columns: number): string =>
  columns > 1 && line.length >= columns ? `${line.slice(0, Math.max(0, columns - 2))}…` : line
