/**
 * A token bucket that may run into debt: `take(n)` always succeeds and answers how long the caller must wait
 * before its tokens are paid for. Synchronous and allocation-free, so it can sit on the per-chunk path.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  /**
   * @param ratePerSecond tokens added per second
   * @param burst the most tokens the bucket holds (how far ahead of the rate a caller may run)
   */
  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = Date.now
  ) {
    this.tokens = burst
    this.last = now()
  }

  /** Takes `n` tokens; returns the milliseconds to wait until they are covered (0 when they already are). */
  take(n: number): number {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000)
    this.last = now
    this.tokens -= n
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecond)
  }
}

/** A bucket for a bytes-per-second cap: about 100 ms of burst, at least 16 KiB. */
export const byteBucket = (bytesPerSecond: number): TokenBucket =>
  new TokenBucket(bytesPerSecond, Math.max(16 * 1024, bytesPerSecond / 10))

/** A bucket for a requests-per-second cap: one request of burst, so requests are spaced evenly. */
export const requestBucket = (requestsPerSecond: number): TokenBucket => new TokenBucket(requestsPerSecond, 1)
