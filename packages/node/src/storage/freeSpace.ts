/**
 * The free-space reserve of a filesystem store: a write that would leave less than the reserve free on the store's
 * filesystem is refused with a StorageError, so one endless body (or many large ones) cannot fill the disk under
 * the catalog, the temp area and everything else living there.
 *
 * Default reserve: max(1 GiB, 2 % of the filesystem's size). `minFreeBytes: 0` turns it off.
 *
 * The check is synchronous and costs a subtraction per write: free space is read with `statfs` when the store
 * opens and again in the background once it is 250 ms old or 16 MiB have been written since; bytes accepted in
 * between are subtracted from the last reading. A refusal first takes a fresh reading (space freed meanwhile counts).
 */
import { statfs } from "node:fs/promises"

export const GiB = 1024 * 1024 * 1024

/** The default reserve for a filesystem of `totalBytes`. */
export const defaultReserve = (totalBytes: number): number => Math.max(GiB, Math.floor(totalBytes * 0.02))

const refreshAfterMs = 250
const refreshAfterBytes = 16 * 1024 * 1024

export interface FreeSpace {
  /** The reserve in bytes (0: none). */
  readonly reserve: number
  /** Counts `bytes` about to be written; a reason when they would eat into the reserve. */
  readonly claim: (bytes: number) => string | undefined
  /** A fresh reading, then the same check (for a refusal that may be stale). */
  readonly recheck: (bytes: number) => Promise<string | undefined>
}

/** A size for messages: `1.0 GiB`, `512.0 MiB`, `3 KiB`. */
export const formatBytes = (bytes: number): string => {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`
}

const read = async (path: string): Promise<{ free: number; total: number }> => {
  const info = await statfs(path)
  return { free: info.bavail * info.bsize, total: info.blocks * info.bsize }
}

/** Watches the free space of the filesystem holding `path`. `minFreeBytes` overrides the default reserve. */
export const watchFreeSpace = async (path: string, minFreeBytes?: number): Promise<FreeSpace> => {
  const first = await read(path)
  const reserve = minFreeBytes ?? defaultReserve(first.total)
  let free = first.free
  let readAt = Date.now()
  let claimed = 0
  let reading: Promise<void> | undefined
  const refresh = (): Promise<void> => {
    reading ??= read(path).then(
      (now) => {
        free = now.free
        claimed = 0
        readAt = Date.now()
        reading = undefined
      },
      () => {
        // an unreadable filesystem fails the writes themselves; keep the last reading
        reading = undefined
      }
    )
    return reading
  }
  const refusal = (bytes: number): string | undefined =>
    free - claimed - bytes >= reserve
      ? undefined
      : `not enough free space: writing would leave less than ${formatBytes(reserve)} free on the store's filesystem ` +
        `(${formatBytes(Math.max(0, free - claimed))} free; set the reserve with minFreeBytes or CARGOHOLD_MIN_FREE)`
  if (reserve <= 0) return { reserve: 0, claim: () => undefined, recheck: async () => undefined }
  return {
    reserve,
    claim: (bytes) => {
      const refused = refusal(bytes)
      if (refused !== undefined) return refused
      claimed += bytes
      if (claimed >= refreshAfterBytes || Date.now() - readAt >= refreshAfterMs) void refresh()
      return undefined
    },
    recheck: async (bytes) => {
      await refresh()
      const refused = refusal(bytes)
      if (refused === undefined) claimed += bytes
      return refused
    }
  }
}

/** The reason of a write that failed because the disk is full or over quota, with the code as detail. */
export const diskFailure = (
  code: string | undefined
): { readonly reason: "DiskFull" | "QuotaExceeded"; readonly detail: string } | undefined =>
  code === "ENOSPC"
    ? { reason: "DiskFull", detail: code }
    : code === "EDQUOT"
      ? { reason: "QuotaExceeded", detail: code }
      : undefined
