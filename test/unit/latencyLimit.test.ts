/**
 * The latency controller (core http/latencyLimit.ts) on simulated hosts: a host whose latency grows with the
 * connections it is given loses connections; one whose latency does not keeps them all; fast samples under the
 * floor change nothing; the 429/503 limit and the latency limit combine in the host gate (the smaller applies).
 */
import { describe, expect, it } from "vitest"
import { HostGate } from "../../packages/core/src/http/hostGate.js"
import { LatencyLimit } from "../../packages/core/src/http/latencyLimit.js"
import { Effect } from "effect"

/**
 * Drives the controller against a host whose latency with `n` requests in flight is `latency(n)`, every
 * connection busy. As when a batch starts, the first requests meet a host not yet loaded (the first one alone, the
 * second with one other…), so the first answers show the host's unloaded latency.
 */
const drive = (limit: LatencyLimit, latency: (inFlight: number) => number, samples: number, ramp = true) => {
  const seen: Array<number> = []
  for (let i = 0; i < samples; i++) {
    const inFlight = limit.limit
    const load = ramp ? Math.min(inFlight, i + 1) : inFlight
    seen.push(limit.sample(latency(load), inFlight))
  }
  return seen
}

describe("LatencyLimit", () => {
  it("a host whose latency grows with load is given fewer connections, and settles", () => {
    const limit = new LatencyLimit({ max: 16 })
    // 20 ms served alone, +5 ms × n² under load: the host does less in all with more connections
    const seen = drive(limit, (n) => 20 + 5 * n * n, 300)
    expect(seen[0]).toBeLessThanOrEqual(16)
    const settled = seen.slice(-50)
    expect(Math.max(...settled)).toBeLessThanOrEqual(6)
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(1)
  })

  it("a host whose latency does not depend on load keeps every connection", () => {
    const limit = new LatencyLimit({ max: 16 })
    const seen = drive(limit, () => 80 + Math.random() * 20, 300)
    expect(seen.every((l) => l === 16)).toBe(true)
  })

  it("latencies under the floor (loopback, a loaded client) cost no connections", () => {
    const limit = new LatencyLimit({ max: 16 })
    const seen = drive(limit, (n) => 0.2 + n, 300)
    expect(seen.every((l) => l === 16)).toBe(true)
  })

  it("with most connections idle, latency changes nothing", () => {
    const limit = new LatencyLimit({ max: 16 })
    limit.sample(20, 16)
    for (let i = 0; i < 50; i++) limit.sample(2_000, 2)
    expect(limit.limit).toBe(16)
  })

  it("a host that got slow and then fast again wins its connections back", () => {
    const limit = new LatencyLimit({ max: 16 })
    drive(limit, (n) => 20 + 5 * n * n, 200)
    expect(limit.limit).toBeLessThanOrEqual(6)
    drive(limit, () => 25, 200, false)
    expect(limit.limit).toBe(16)
  })

  it("never leaves [min, max]", () => {
    const limit = new LatencyLimit({ max: 8, min: 2 })
    drive(limit, (n) => (n === 1 ? 20 : 10_000), 100)
    expect(limit.limit).toBe(2)
    drive(limit, () => 1, 1000, false)
    expect(limit.limit).toBe(8)
  })
})

describe("HostGate with latency", () => {
  it("applies the smaller of the 429/503 limit and the latency limit", async () => {
    const gate = new HostGate("h", 16, 2)
    expect(gate.concurrency).toBe(16)
    // hold 16 connections so the samples count, then a host slowing down
    await Effect.runPromise(Effect.forEach(Array.from({ length: 16 }), () => gate.acquire))
    await Effect.runPromise(gate.sample(20))
    for (let i = 0; i < 30; i++) await Effect.runPromise(gate.sample(400))
    expect(gate.concurrency).toBeLessThan(16)
    expect(gate.concurrency).toBe(gate.latencyLimit)
    const before = gate.concurrency
    await Effect.runPromise(gate.backoff(undefined))
    expect(gate.concurrency).toBe(Math.max(1, Math.floor(before / 2)))
  })

  it("latency: false keeps the 429/503 limit only", async () => {
    const gate = new HostGate("h", 16, 2, undefined, false)
    await Effect.runPromise(Effect.forEach(Array.from({ length: 16 }), () => gate.acquire))
    for (let i = 0; i < 30; i++) await Effect.runPromise(gate.sample(i === 0 ? 20 : 400))
    expect(gate.concurrency).toBe(16)
  })
})
