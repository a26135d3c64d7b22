/**
 * The latency half of adaptive per-host concurrency: a gradient controller in the spirit of TCP Vegas and Netflix
 * concurrency-limits' Gradient2. Each answer's time to first byte is a sample. The host's best latency (the
 * smallest sample of a long window) is compared with its recent one (a short average): when the host answers
 * slower than `tolerance` × its best, the limit shrinks by the ratio; otherwise it grows by a queue allowance
 * (√limit / 2); each step smoothed, the result within [min, max]:
 *
 *     gradient = clamp(tolerance × best / recent, 0.5, 1)
 *     limit    ← (1 − smoothing) × limit + smoothing × (limit × gradient + √limit / 2)
 *
 * (With √limit as the allowance, as Gradient2 has it, the limit could not go below 4 by latency alone: at the
 * smallest gradient the step is stable at limit = 4. Half of it lets a host that only slows get down to 1.)
 *
 * A host that slows down as we add connections (a small worker pool, a slow upstream) is given fewer; a host whose
 * latency does not depend on us keeps them all. Samples below `floorMs` count as `floorMs`: on loopback or a LAN a
 * few milliseconds more are the client's own event loop under load, not the server, and must cost no connections.
 * The 429/503 half (halving, Retry-After) is HostGate's; the gate applies the smaller of the two limits.
 */

export interface LatencyLimitOptions {
  /** The limit never goes above this (the per-host connection limit); it starts there. */
  readonly max: number
  /** Nor below this (default 1). */
  readonly min?: number | undefined
  /** How much slower than its best a host may answer before it loses connections (default 2). */
  readonly tolerance?: number | undefined
  /** Weight of each new limit (default 0.2). */
  readonly smoothing?: number | undefined
  /** Samples the recent average spans (default 5). */
  readonly shortWindow?: number | undefined
  /** Samples after which the best latency is taken afresh (default 500): a host may become slower for good. */
  readonly bestWindow?: number | undefined
  /** Latencies under this many ms count as this (default 20). */
  readonly floorMs?: number | undefined
}

export class LatencyLimit {
  /** The current limit, fractional; `limit` is what the gate applies. */
  estimate: number
  readonly max: number
  private readonly min: number
  private readonly tolerance: number
  private readonly smoothing: number
  private readonly floorMs: number
  private readonly alpha: number
  private readonly bestWindow: number
  private recent: number | undefined = undefined
  private best = Number.POSITIVE_INFINITY
  private bestAge = 0

  constructor(options: LatencyLimitOptions) {
    this.max = Math.max(1, options.max)
    this.min = Math.min(this.max, Math.max(1, options.min ?? 1))
    this.tolerance = options.tolerance ?? 2
    this.smoothing = options.smoothing ?? 0.2
    this.floorMs = options.floorMs ?? 20
    this.alpha = 2 / ((options.shortWindow ?? 5) + 1)
    this.bestWindow = options.bestWindow ?? 500
    this.estimate = this.max
  }

  /** Connections the host may use now by its latency. */
  get limit(): number {
    return Math.max(this.min, Math.floor(this.estimate))
  }

  /** The smallest latency of the current window (ms, at least the floor); Infinity before any sample. */
  get bestMs(): number {
    return this.best
  }

  /**
   * Takes one time-to-first-byte sample, with the requests in flight to the host when it was taken; returns the
   * new `limit`.
   */
  sample(ms: number, inFlight: number): number {
    const rtt = Math.max(this.floorMs, ms)
    const recent = this.recent === undefined ? rtt : this.recent + this.alpha * (rtt - this.recent)
    this.recent = recent
    this.bestAge += 1
    if (rtt <= this.best || this.bestAge > this.bestWindow) {
      this.best = rtt
      this.bestAge = 0
    }
    // with most connections idle, latency says nothing about what more of them would do
    if (inFlight < this.estimate / 2) return this.limit
    const gradient = Math.max(0.5, Math.min(1, (this.tolerance * this.best) / recent))
    const next = this.estimate * gradient + Math.sqrt(this.estimate) / 2
    const smoothed = (1 - this.smoothing) * this.estimate + this.smoothing * next
    this.estimate = Math.max(this.min, Math.min(this.max, smoothed))
    return this.limit
  }
}
