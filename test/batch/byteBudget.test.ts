/**
 * The batch's bytes in flight (batch/byteBudget.ts): a take that fits goes on at once, one that does not waits
 * until releases free its count, and an interrupted wait takes nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { ByteBudget } from "@cargohold/core/internal/batch/byteBudget"
import { Effect, Fiber } from "effect"

describe("ByteBudget", () => {
  it.effect("a take waits until its count is free", () =>
    Effect.gen(function* () {
      const budget = new ByteBudget(10)
      yield* budget.take(6)
      yield* budget.take(4)
      const waiting = yield* Effect.fork(budget.take(5))
      yield* Effect.yieldNow()
      expect(waiting.unsafePoll()).toBeNull()
      budget.release(4) // 4 free: not enough
      yield* Effect.yieldNow()
      expect(waiting.unsafePoll()).toBeNull()
      budget.release(6) // 10 free
      yield* Fiber.join(waiting)
      // 5 taken: 5 more fit, 6 do not
      yield* budget.take(5)
      const full = yield* Effect.fork(budget.take(1))
      yield* Effect.yieldNow()
      expect(full.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(full)
    })
  )

  it.effect("an interrupted wait takes nothing", () =>
    Effect.gen(function* () {
      const budget = new ByteBudget(10)
      yield* budget.take(8)
      const waiting = yield* Effect.fork(budget.take(5))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiting)
      budget.release(8)
      // all 10 free: the interrupted take neither holds any nor wakes up later
      yield* budget.take(10)
      budget.release(10)
      const waiters = [yield* Effect.fork(budget.take(7)), yield* Effect.fork(budget.take(3))]
      yield* Fiber.joinAll(waiters)
    })
  )

  it("tryTake takes only what is free now", () => {
    const budget = new ByteBudget(10)
    expect(budget.tryTake(7)).toBe(true)
    expect(budget.tryTake(4)).toBe(false) // nothing taken
    expect(budget.tryTake(3)).toBe(true)
    budget.release(7)
    expect(budget.tryTake(8)).toBe(false)
    expect(budget.tryTake(7)).toBe(true)
  })
})
