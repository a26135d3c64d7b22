/**
 * Adaptive per-host concurrency by latency, against a real server that slows down under load: its time to first
 * byte grows with the requests it has in flight (20 ms + 5 ms × n²), as a small worker pool or a slow upstream
 * does. The host's limit drops below the per-host 16 and the server then sees fewer requests at once; with the
 * latency controller off, the server sees all 16. No timing is asserted: only counts.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConnectionLimits, download } from "@cargohold/core"
import { Effect } from "effect"
import { layerNetworkTest } from "../support/layers.js"
import { serverScoped } from "../support/servers.js"

/** A server whose answers take 20 ms + 5 ms × (requests in flight)²; it records the load each request met. */
const slowingServer = () => {
  let inFlight = 0
  const loads: Array<number> = []
  return Effect.map(
    serverScoped((req, res) => {
      inFlight += 1
      loads.push(inFlight)
      setTimeout(() => {
        inFlight -= 1
        res.end(`body of ${req.url}`)
      }, 20 + 5 * inFlight * inFlight)
    }),
    (server) => ({ server, loads })
  )
}

const fetchAll = (origin: string, n: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => `${origin}/f${i}`),
    (url) => download({ url }),
    { concurrency: "unbounded", discard: true }
  )

describe("per-host concurrency by latency", () => {
  it.scopedLive(
    "a host whose latency grows with load gets fewer connections",
    () =>
      Effect.gen(function* () {
        const { server, loads } = yield* slowingServer()
        yield* fetchAll(server.origin, 120)
        const gate = (yield* ConnectionLimits).host(`127.0.0.1:${server.port}`)
        const late = loads.slice(-40)
        console.log(
          `latency limit: host limit ${gate.concurrency} of 16 after 120 downloads; load the last 40 requests met: max ${Math.max(...late)}, first 16 max ${Math.max(...loads.slice(0, 16))}`
        )
        // only the limit is asserted: when the server sees fewer requests depends on when the controller learnt the
        // host's fast answers, which a loaded machine moves (the load is printed above)
        expect(gate.concurrency).toBeLessThan(16)
      }).pipe(Effect.provide(layerNetworkTest())),
    120_000
  )

  it.scopedLive(
    "with the controller off (latency: false), the host keeps all 16",
    () =>
      Effect.gen(function* () {
        const { server, loads } = yield* slowingServer()
        yield* fetchAll(server.origin, 48)
        const gate = (yield* ConnectionLimits).host(`127.0.0.1:${server.port}`)
        expect(gate.concurrency).toBe(16)
        expect(Math.max(...loads)).toBe(16)
      }).pipe(Effect.provide(layerNetworkTest({ limits: { global: 64, perHost: 16, latency: false } }))),
    120_000
  )
})
