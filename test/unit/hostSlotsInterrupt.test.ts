/**
 * A download interrupted just as a cluster-wide host slot is handed to it keeps nothing: the slot and the host's
 * connection are either the download's (and given back by it) or given back at once — never held in PostgreSQL,
 * neither lent nor released. The hand-over is forced into the narrow windows by a tiny scheduler budget
 * (`currentMaxOpsBeforeYield` of 12–19 operations) and interrupts after 0–11 yields; PostgreSQL's advisory locks are a stub here.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Exit, Fiber, FiberRef, Layer } from "effect"
import { makePgHostSlots } from "../../packages/cluster/src/limits/hostSlots.js"
import { HostGate, HostPermit } from "../../packages/core/src/http/hostGate.js"

/** pg_try_advisory_lock / pg_advisory_unlock over a set: the statements hostSlots.ts sends. */
const advisoryLocks = () => {
  const held = new Set<string>()
  const connection = {
    executeValues: (_sql: string, params: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        const [free, key] = params as [ReadonlyArray<number>, number]
        for (const slot of free) {
          if (!held.has(`${key}:${slot}`)) {
            held.add(`${key}:${slot}`)
            return [[slot]]
          }
        }
        return []
      }),
    executeRaw: (sql: string, params: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        if (sql.includes("unlock_all")) held.clear()
        else held.delete(`${params[0]}:${params[1]}`)
        return []
      })
  }
  const layer = Layer.succeed(SqlClient.SqlClient, { reserve: Effect.succeed(connection) } as unknown as SqlClient.SqlClient)
  return { held, layer }
}

describe("a cluster host slot handed over as its download is interrupted", () => {
  it.live("is never kept: after every trial nothing is held and the host's connection can be taken at once", () => {
    const locks = advisoryLocks()
    return Effect.gen(function* () {
      const slots = yield* makePgHostSlots({ perHost: 1, pollMs: 1 })
      const gate = new HostGate("mirror.test", 1, 4, slots, false)
      let kept = 0
      for (let trial = 0; trial < 240; trial++) {
        const holder = new HostPermit()
        yield* holder.moveTo(gate)
        const waiter = new HostPermit()
        const waiting = yield* Effect.fork(Effect.locally(waiter.moveTo(gate), FiberRef.currentMaxOpsBeforeYield, 12 + (trial % 8)))
        yield* Effect.sleep(2)
        const giveBack = yield* Effect.fork(holder.release)
        const interrupt = yield* Effect.fork(
          Effect.zipRight(Effect.forEach(Array.from({ length: trial % 12 }), () => Effect.yieldNow()), Fiber.interrupt(waiting))
        )
        yield* Fiber.join(giveBack)
        yield* Fiber.join(interrupt)
        const exit = yield* Fiber.await(waiting)
        if (Exit.isSuccess(exit)) kept++
        // what limits.ts does after an attempt, however it ended
        yield* waiter.release
        yield* Effect.sleep(3)
        expect({ trial, held: slots.heldCount(), locks: locks.held.size }).toEqual({ trial, held: 0, locks: 0 })
        // the connection (semaphore permit and slot) is free again
        const next = new HostPermit()
        const took = yield* Effect.timeoutOption(next.moveTo(gate), "200 millis")
        expect({ trial, took: took._tag }).toEqual({ trial, took: "Some" })
        yield* next.release
        yield* Effect.sleep(2)
      }
      // both endings happened: some interrupts came after the hand-over
      expect(kept).toBeGreaterThan(0)
      expect(kept).toBeLessThan(240)
    }).pipe(Effect.scoped, Effect.provide(locks.layer))
  }, 60_000)
})
