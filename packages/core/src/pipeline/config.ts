/**
 * Download settings, as a Context.Reference with defaults (provide `DownloadConfig` to change them).
 */
import { Context, Duration } from "effect"
import type { Remote } from "../remote/Remote.js"

export interface DownloadSettings {
  /** Attempts in all, the first included. */
  readonly attempts: number
  readonly retryBaseDelay: Duration.Duration
  readonly retryMaxDelay: Duration.Duration
  /** The longest a `Retry-After` is honoured. */
  readonly retryAfterCap: Duration.Duration
  /** No response headers, or no body bytes, for this long fails the attempt. No total timeout exists. */
  readonly idleTimeout: Duration.Duration
  /** Reported in connect-timeout errors; the platform layer enforces it. */
  readonly connectTimeout: Duration.Duration
  /** Bodies announced at most this large emit no progress events until they end (they are streamed all the same). */
  readonly smallBodyBytes: number
  /** Product token sent as User-Agent. */
  readonly userAgent: string
  /**
   * The largest body accepted, in bytes: a body that passes it (announced or not, HTTP or file://) fails the
   * download with `SizeLimitExceeded` as soon as it does, before more is written. Undefined: no limit.
   */
  readonly maxSize?: number | undefined
  /**
   * Parallel ranges for one large artifact (see pipeline/segments): a body of at least `segmentThreshold` bytes,
   * from sources that serve ranges, is fetched as this many ranges at once. 1 turns segmenting off.
   */
  readonly segments?: number | undefined
  /** The smallest body fetched in segments (default 64 MiB). */
  readonly segmentThreshold?: number | undefined
  /**
   * Watch a large body's one stream: while it runs at least this fast (bytes/s, over its first 300 ms, then each
   * second) it stays one stream; once slower it goes on in segments, keeping its bytes. Default 64 MiB/s (see
   * pipeline/segments/watch.ts for why); 0: no watching, ranges from the start.
   */
  readonly segmentBelowRate?: number | undefined
}

export const version = "0.1.0"

export const defaultSettings: DownloadSettings = {
  attempts: 4,
  retryBaseDelay: Duration.millis(200),
  retryMaxDelay: Duration.seconds(30),
  retryAfterCap: Duration.minutes(5),
  idleTimeout: Duration.seconds(30),
  connectTimeout: Duration.seconds(10),
  smallBodyBytes: 256 * 1024,
  userAgent: `cargohold/${version}`
}

export class DownloadConfig extends Context.Reference<DownloadConfig>()("@cargohold/core/DownloadConfig", {
  defaultValue: (): DownloadSettings => defaultSettings
}) {}

/** The download settings with the remote's timeouts and retry settings applied. */
export const settingsForRemote = (settings: DownloadSettings, remote: Remote | undefined): DownloadSettings => {
  if (remote === undefined || (remote.timeouts === undefined && remote.retry === undefined)) return settings
  const { timeouts, retry } = remote
  return {
    ...settings,
    connectTimeout: timeouts?.connectMs !== undefined ? Duration.millis(timeouts.connectMs) : settings.connectTimeout,
    idleTimeout: timeouts?.idleMs !== undefined ? Duration.millis(timeouts.idleMs) : settings.idleTimeout,
    attempts: retry?.attempts ?? settings.attempts,
    retryBaseDelay: retry?.baseDelayMs !== undefined ? Duration.millis(retry.baseDelayMs) : settings.retryBaseDelay,
    retryMaxDelay: retry?.maxDelayMs !== undefined ? Duration.millis(retry.maxDelayMs) : settings.retryMaxDelay
  }
}
