/**
 * Transfer rate and time left, computed one way for every display: the batch tracker's `BatchProgress` events and
 * the CLI's frame (which also draws single downloads and integrity runs that no batch reports).
 */

/** A rate over a sliding window of samples of a monotonic byte counter (bytes per second). */
export class RateMeter {
  private readonly samples: Array<{ readonly at: number; readonly bytes: number }> = []

  constructor(private readonly windowMs = 5_000) {}

  /** Records `bytes` (the counter's value) at `at` (ms) and answers the rate over the window. */
  sample(at: number, bytes: number): number {
    this.samples.push({ at, bytes })
    while (this.samples.length > 2 && at - (this.samples[0]?.at ?? at) > this.windowMs) this.samples.shift()
    const first = this.samples[0] ?? { at, bytes }
    const elapsed = at - first.at
    return elapsed > 0 ? Math.max(0, ((bytes - first.bytes) * 1000) / elapsed) : 0
  }
}

/** Milliseconds left for `remainingBytes` at `bytesPerSecond`; undefined while nothing is moving. */
export const timeLeftMs = (remainingBytes: number, bytesPerSecond: number): number | undefined =>
  bytesPerSecond > 0 ? (Math.max(0, remainingBytes) * 1000) / bytesPerSecond : undefined
