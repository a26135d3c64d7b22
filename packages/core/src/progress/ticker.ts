/**
 * How often a running hash or transfer reports its byte count: at most once per `progressIntervalMs`. One rule for
 * a download's transfer (pipeline/transfer.ts), each segment's lane (pipeline/segments/segmentTransfer.ts) and the
 * re-hash of stored bytes (integrity/hashing.ts): often enough for a live display, rare enough that the per-chunk
 * path stays free of events.
 */
export const progressIntervalMs = 100

/** Says when the next byte-count event is due; checked on every chunk, so it is one comparison. */
export class ProgressTicker {
  private last: number

  constructor(
    /** When the count started (0: the first check is due at once). */
    start = 0,
    private readonly intervalMs: number = progressIntervalMs
  ) {
    this.last = start
  }

  /** True, and the interval starts over, when an event is due at `now` (milliseconds since the epoch). */
  due(now: number): boolean {
    if (now - this.last < this.intervalMs) return false
    this.last = now
    return true
  }
}
