/**
 * What the cluster-wide host budget costs (packages/cluster/src/limits/hostSlots.ts): acquire + release of a host
 * slot through PostgreSQL advisory locks, against the same through the process-local HostGate only.
 *
 *   npx tsx bench/cluster-slots.ts [--fibers 16] [--per-host 4] [--seconds 3]
 *
 * Reports, for a fresh database of its own: one fiber's uncontended round (latency, ms), and `fibers` fibers
 * contending for `per-host` slots of one host (rounds per second), each round holding the slot for 0 ms and 2 ms.
 */
import { makeLimiter } from "@cargohold/core"
import { layerClusterSql, makePgHostSlots } from "@cargohold/cluster"
import { Effect } from "effect"
import pg from "pg"

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const fibers = arg("fibers", 16)
const perHost = arg("per-host", 4)
const seconds = arg("seconds", 3)
const admin = process.env.CARGOHOLD_TEST_PG ?? "postgresql://postgres@127.0.0.1:5432/test"

const rounds = (
  acquire: Effect.Effect<void>,
  release: Effect.Effect<void>,
  holdMs: number,
  count: number
): Effect.Effect<{ perSecond: number; meanMs: number }> =>
  Effect.gen(function* () {
    const end = Date.now() + seconds * 1000
    let done = 0
    const start = performance.now()
    const worker = Effect.gen(function* () {
      while (Date.now() < end) {
        yield* acquire
        if (holdMs > 0) yield* Effect.sleep(holdMs)
        yield* release
        done++
      }
    })
    yield* Effect.all(Array.from({ length: count }, () => worker), { concurrency: "unbounded" })
    const elapsed = (performance.now() - start) / 1000
    return { perSecond: Math.round(done / elapsed), meanMs: Number(((elapsed * 1000 * count) / done).toFixed(3)) }
  })

const main = async () => {
  const name = `cargohold_bench_slots_${process.pid}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query(`CREATE DATABASE ${name}`)
  const url = new URL(admin)
  url.pathname = `/${name}`
  try {
    const result = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const slots = yield* makePgHostSlots({ perHost })
          const local = makeLimiter({ global: 1024, perHost }).host("bench.example")
          const cluster = makeLimiter({ global: 1024, perHost, hostSlots: slots }).host("bench.example")
          const out: Record<string, unknown> = {}
          for (const [label, gate] of [
            ["local", local],
            ["cluster", cluster]
          ] as const) {
            out[`${label} 1 fiber`] = yield* rounds(gate.acquire, gate.release, 0, 1)
            out[`${label} ${fibers} fibers, hold 0 ms`] = yield* rounds(gate.acquire, gate.release, 0, fibers)
            out[`${label} ${fibers} fibers, hold 2 ms`] = yield* rounds(gate.acquire, gate.release, 2, fibers)
          }
          return out
        })
      ).pipe(Effect.provide(layerClusterSql({ url: url.toString(), applicationName: "cargohold bench", maxConnections: 4 })))
    )
    console.log(JSON.stringify({ fibers, perHost, seconds, ...result }, null, 2))
  } finally {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
