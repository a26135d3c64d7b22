/**
 * Issue 13: when one stream of a large body goes on in segments (pipeline/segments/watch.ts) — judged over a first
 * short window and then over longer ones to its end, so a burst first and a cap later still divert; a stream held
 * by this client's own rate limit, or nearly done, does not.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  defaultSegmentBelowRate,
  firstWindowMs,
  judge,
  laterWindowMs,
  minRemainingBytes,
  startWatch
} from "../../packages/core/src/pipeline/segments/watch.js"

const MiB = 1024 * 1024
const total = 256 * MiB
const at = 1_000_000

describe("the one-stream watch", () => {
  it("waits for the first window; then a stream at 16 MiB/s is slow and one at 200 MiB/s is fast", () => {
    const watch = startWatch(defaultSegmentBelowRate, at, 0, 0)
    expect(judge(watch, at + firstWindowMs - 1, 4 * MiB, total, 0)._tag).toBe("Pending")
    // nginx at limit_rate 16m: 2 MiB per 125 ms from the first byte
    expect(judge(watch, at + firstWindowMs, 6 * MiB, total, 0)._tag).toBe("Slow")
    const fast = judge(watch, at + firstWindowMs, 60 * MiB, total, 0)
    expect(fast._tag).toBe("Fast")
    if (fast._tag !== "Fast") return
    // the next window is longer and starts where this one ended
    expect(fast.next.windowMs).toBe(laterWindowMs)
    expect(fast.next.since).toBe(at + firstWindowMs)
    expect(fast.next.sinceBytes).toBe(60 * MiB)
  })

  it("a burst then a cap: fast in the first window, slow in a later one", () => {
    const first = judge(startWatch(defaultSegmentBelowRate, at, 0, 0), at + firstWindowMs, 32 * MiB, total, 0)
    expect(first._tag).toBe("Fast")
    if (first._tag !== "Fast") return
    const later = at + firstWindowMs + laterWindowMs
    expect(judge(first.next, later - 1, 40 * MiB, total, 0)._tag).toBe("Pending")
    expect(judge(first.next, later, 48 * MiB, total, 0)._tag).toBe("Slow")
  })

  it("a stream that waited on this client's own rate limit is not slow, however short the waits", () => {
    const watch = startWatch(defaultSegmentBelowRate, at, 0, 100)
    // 2 MiB in 300 ms, 150 ms of it waiting on the remote's bytesPerSecond
    expect(judge(watch, at + firstWindowMs, 2 * MiB, total, 250)._tag).toBe("Fast")
    // a link just faster than the limit: the waits are short, and the limit still binds
    expect(judge(watch, at + firstWindowMs, 2 * MiB, total, 101)._tag).toBe("Fast")
    // no wait in this window: the server (or the link) is what holds it back
    expect(judge(watch, at + firstWindowMs, 2 * MiB, total, 100)._tag).toBe("Slow")
  })

  it("nearly done: the watch ends, the stream finishes as it is", () => {
    const watch = startWatch(defaultSegmentBelowRate, at, 0, 0)
    expect(judge(watch, at + firstWindowMs, total - minRemainingBytes + 1, total, 0)._tag).toBe("Done")
  })
})
