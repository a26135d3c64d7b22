/**
 * Adaptive per-host concurrency: a host that answers 429 or 503 gets half its connections (at least one), and a
 * `Retry-After` pauses new requests to that host only. Successes win the connections back one at a time. Latency
 * counts too: each answer's time to first byte feeds the host's `LatencyLimit` (latencyLimit.ts), and the host may
 * use the smaller of the two limits.
 */
import { Effect } from "effect"
import { LatencyLimit, type LatencyLimitOptions } from "./latencyLimit.js"

/** What a host's gate looks like after a change, for progress events. */
export interface HostSignal {
  readonly host: string
  /** Connections the host may use now. */
  readonly concurrency: number
  /** Milliseconds new requests to the host wait (0 when not paused). */
  readonly pauseMs: number
}

/**
 * The host connection one HTTP attempt holds. A redirect to another host moves it there: the first host's
 * connection is given back before the other host's is awaited, so an attempt never holds two and redirects
 * between two busy hosts cannot deadlock.
 */
export class HostPermit {
  private gate: HostGate | undefined = undefined

  /** The host whose connection is held, if any. */
  get host(): string | undefined {
    return this.gate?.host
  }

  /** Holds a connection of `gate`'s host, giving back the one held before (if another host's). */
  moveTo(gate: HostGate): Effect.Effect<void> {
    if (gate === this.gate) return Effect.void
    return Effect.uninterruptible(Effect.suspend(() => {
      const previous = this.gate
      this.gate = undefined
      // not restored: gate.acquire's waits are interruptible by themselves, and what it takes is recorded here
      // before any interrupt is seen (see HostGate.acquire)
      return Effect.zipRight(
        previous === undefined ? Effect.void : previous.release,
        Effect.tap(gate.acquire, () => {
          this.gate = gate
        })
      )
    }))
  }

  /** Gives the held connection back (nothing when none is held). */
  readonly release: Effect.Effect<void> = Effect.suspend(() => {
    const gate = this.gate
    this.gate = undefined
    return gate === undefined ? Effect.void : gate.release
  })
}

/**
 * A host's connection budget shared beyond this process (e.g. by the runners of a cluster): a gate holds one of
 * the host's slots for each connection it lends, after its own permit.
 */
export interface HostSlots {
  /**
   * Takes one of `host`'s slots, waiting while all are taken; interrupted while waiting, it takes nothing. It is
   * run uninterruptibly (see `HostGate.acquire`): only its waits may be made interruptible (`Effect.interruptible`),
   * so that a slot once taken is the caller's in the same step.
   */
  readonly acquire: (host: string) => Effect.Effect<void>
  /** Gives back a slot of `host` taken with `acquire`. */
  readonly release: (host: string) => Effect.Effect<void>
}

export class HostGate {
  private readonly semaphore: Effect.Semaphore
  /** The 429/503 limit. */
  private limit: number
  /** The limit by latency; undefined when latency is not taken into account. */
  private readonly latency: LatencyLimit | undefined
  /** What the semaphore is sized to: the smaller limit. */
  private applied: number
  /** Connections held now. */
  private inFlight = 0
  private streak = 0
  private pausedUntil = 0
  /** The host's budget shared beyond this process: a slot of it is held with each connection lent. */
  private readonly slots: HostSlots | undefined

  /**
   * @param max connections the host may use when it is healthy
   * @param recoverAfter successes in a row that win back one connection
   * @param slots the host's budget shared with other processes, if any
   * @param latency the latency controller's options (`false`: the 429/503 limit only)
   */
  constructor(
    readonly host: string,
    readonly max: number,
    private readonly recoverAfter: number,
    slots?: HostSlots,
    latency: Partial<LatencyLimitOptions> | false = {}
  ) {
    this.limit = max
    this.latency = latency === false || max <= 1 ? undefined : new LatencyLimit({ ...latency, max })
    this.applied = this.effective()
    this.semaphore = Effect.unsafeMakeSemaphore(this.applied)
    this.slots = slots
  }

  private effective(): number {
    return this.latency === undefined ? this.limit : Math.min(this.limit, this.latency.limit)
  }

  /** Resizes the semaphore to the smaller limit when it changed; the signal when it did. */
  private apply(): Effect.Effect<HostSignal | undefined> {
    const next = this.effective()
    if (next === this.applied) return Effect.succeed(undefined)
    this.applied = next
    return Effect.as(this.semaphore.resize(next), { host: this.host, concurrency: next, pauseMs: this.pauseLeft() })
  }

  get concurrency(): number {
    return this.applied
  }

  /** The limit by latency alone (the 429/503 one is `concurrency` when smaller); `max` when not adaptive. */
  get latencyLimit(): number {
    return this.latency?.limit ?? this.max
  }

  /**
   * One answer's time to first byte: the latency controller may change the host's connections; returns a signal
   * when it did.
   */
  sample(ms: number): Effect.Effect<HostSignal | undefined> {
    const latency = this.latency
    if (latency === undefined) return Effect.succeed(undefined)
    return Effect.suspend(() => {
      latency.sample(ms, this.inFlight)
      return this.apply()
    })
  }

  /** Milliseconds until the host's pause ends (0 when it is not paused). */
  pauseLeft(now = Date.now()): number {
    return Math.max(0, this.pausedUntil - now)
  }

  /** Waits out any pause of the host (a pause may be extended while waiting). */
  readonly waitPause: Effect.Effect<void> = Effect.suspend(() => {
    const left = this.pauseLeft()
    return left > 0 ? Effect.zipRight(Effect.sleep(left), this.waitPause) : Effect.void
  })

  /** Runs `effect` holding one of the host's connections, after any pause. */
  withPermit<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.acquireUseRelease(this.acquire, () => effect, () => this.release)
  }

  /** Waits out any pause, then takes one of the semaphore's permits: both waits interruptible, nothing taken then. */
  private readonly waitPermit: Effect.Effect<void> = Effect.suspend(() =>
    Effect.zipRight(Effect.interruptible(this.waitPause), Effect.asVoid(Effect.interruptible(this.semaphore.take(1))))
  )

  /**
   * Takes one of the host's connections after any pause; give it back with `release`. Run it uninterruptibly
   * (`withPermit`, `HostPermit`): only its waits can be interrupted, and then it takes nothing — once a connection
   * is taken, the caller has it in the same step (an interruptible region ending after the take would lose it).
   * (`withPermit` when one effect is the whole use; `HostPermit` when a redirect may move it.)
   */
  readonly acquire: Effect.Effect<void> = Effect.suspend(() => {
    const slots = this.slots
    const slot = slots === undefined ? Effect.void : slots.acquire(this.host).pipe(Effect.onInterrupt(() => this.semaphore.release(1)))
    return Effect.map(Effect.zipRight(this.waitPermit, slot), () => {
      this.inFlight++
    })
  })

  /** Gives back a connection taken with `acquire` (and its shared slot). */
  readonly release: Effect.Effect<void> = Effect.suspend(() => {
    this.inFlight--
    const permit = Effect.asVoid(this.semaphore.release(1))
    return this.slots === undefined ? permit : Effect.zipRight(this.slots.release(this.host), permit)
  })


  /** The host throttled us: halve its concurrency and pause it for `retryAfterMs` if given. */
  backoff(retryAfterMs: number | undefined): Effect.Effect<HostSignal> {
    return Effect.suspend(() => {
      this.streak = 0
      this.limit = Math.max(1, Math.floor(this.effective() / 2))
      const now = Date.now()
      if (retryAfterMs !== undefined && retryAfterMs > 0) this.pausedUntil = Math.max(this.pausedUntil, now + retryAfterMs)
      this.applied = this.effective()
      const signal = { host: this.host, concurrency: this.applied, pauseMs: this.pauseLeft(now) }
      return Effect.as(this.semaphore.resize(this.applied), signal)
    })
  }

  /** A request to the host succeeded; returns a signal when the host won a connection back. */
  success(): Effect.Effect<HostSignal | undefined> {
    if (this.limit >= this.max) return Effect.succeed(undefined)
    return Effect.suspend(() => {
      this.streak += 1
      if (this.streak < this.recoverAfter || this.limit >= this.max) return Effect.succeed(undefined)
      this.streak = 0
      this.limit += 1
      return this.apply()
    })
  }
}
