/**
 * The bytes a batch has in flight, against `maxInFlightBytes`: the semaphore `Effect.makeSemaphore(limit)` was,
 * with the same rules (a take waits, interruptibly, until its count is free; no queue order: a take that finds
 * room goes ahead of waiters that need more), but a take that finds room and every release are synchronous steps,
 * with no effect to run: the common case of a batch whose downloads all fit.
 */
import { Effect } from "effect"

export class ByteBudget {
  private taken = 0
  private readonly waiters = new Set<() => void>()

  constructor(private readonly limit: number) {}

  /**
   * Takes `n` (at most the limit), waiting until they are free. Call it where an interrupt cannot come between the
   * take and the `release` that gives them back (an uninterruptible region, the wait restored to interruptible).
   */
  take(n: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.tryTake(n)) return Effect.void
      return Effect.async<void>((resume) => {
        const waiter = () => {
          if (this.limit - this.taken < n) return
          this.waiters.delete(waiter)
          // the count is taken when the fiber goes on, not here: an interrupt before then takes nothing
          resume(this.take(n))
        }
        this.waiters.add(waiter)
        return Effect.sync(() => void this.waiters.delete(waiter))
      })
    })
  }

  /** Takes `n` when they are free now; false (nothing taken) when not. */
  tryTake(n: number): boolean {
    if (this.limit - this.taken < n) return false
    this.taken += n
    return true
  }

  /** Gives back `n` taken with `take`; waiters whose count is now free go on. */
  release(n: number): void {
    this.taken -= n
    for (const waiter of this.waiters) {
      if (this.taken >= this.limit) break
      waiter()
    }
  }
}
