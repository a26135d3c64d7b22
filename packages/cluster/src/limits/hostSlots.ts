/**
 * A host's connection budget for the whole cluster: `perHost` slots per host, each a PostgreSQL session advisory
 * lock `(hostKey, slot)` (the two-key form, apart from the cluster's one-key shard locks). A runner holds its slots
 * on one connection of its own, so a runner that dies — kill -9 included — gives them all back the moment
 * PostgreSQL sees its connection close; no lease to expire, no table to clean.
 *
 * Costs: taking a slot is one round trip (`pg_try_advisory_lock` over the free slot numbers, first success wins),
 * giving it back another. A runner that frees a slot while one of its own downloads waits for that host hands the
 * slot over without a round trip, at most `maxHandoffs` times in a row, then really gives it back so the other
 * runners get their turn. Waiting is one poll per host and runner every `pollMs` (not one per waiting download).
 */
import type { HostSlots } from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Deferred, Effect, Exit, FiberId, Option, Scope } from "effect"
import { createHash } from "node:crypto"

export interface PgHostSlotsOptions {
  /** Slots per host, cluster-wide (every runner must use the same number). */
  readonly perHost: number
  /** How often a runner with downloads waiting tries again (default 25 ms, jittered). */
  readonly pollMs?: number | undefined
  /** Local hand-overs in a row before a slot goes back to PostgreSQL (default 8). */
  readonly maxHandoffs?: number | undefined
}

/** The first lock key of a host: 32 bits of its sha256, so every runner derives the same. */
export const hostKey = (host: string): number => createHash("sha256").update(`cargohold host ${host.toLowerCase()}`).digest().readInt32BE(0)

interface HostState {
  readonly key: number
  /** Slots this runner holds in PostgreSQL, lent out or not. */
  readonly held: Set<number>
  /** Held slots lent to downloads (slots are interchangeable: a release gives back any of them). */
  readonly lent: Array<number>
  readonly waiters: Array<Deferred.Deferred<number>>
  pumping: boolean
  handoffs: number
}

export interface PgHostSlots extends HostSlots {
  /** Slots this runner holds now, all hosts together (tests, status). */
  readonly heldCount: () => number
}

export const makePgHostSlots = (options: PgHostSlotsOptions): Effect.Effect<PgHostSlots, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const scope = yield* Effect.scope
    const conn = yield* Effect.orDie(sql.reserve)
    // one statement at a time on the connection that holds the locks
    const onConn = Effect.unsafeMakeSemaphore(1).withPermits(1)
    const perHost = Math.max(1, options.perHost)
    const pollMs = options.pollMs ?? 25
    const maxHandoffs = options.maxHandoffs ?? 8
    const hosts = new Map<string, HostState>()
    yield* Scope.addFinalizer(scope, Effect.ignore(conn.executeRaw("SELECT pg_advisory_unlock_all()", [])))

    const stateOf = (host: string): HostState => {
      let state = hosts.get(host)
      if (state === undefined) {
        state = { key: hostKey(host), held: new Set(), lent: [], waiters: [], pumping: false, handoffs: 0 }
        hosts.set(host, state)
      }
      return state
    }

    /** Takes a free slot in PostgreSQL (trying them from a random start), if any. */
    const tryLock = (state: HostState): Effect.Effect<number | undefined> =>
      Effect.suspend(() => {
        const free: Array<number> = []
        const start = Math.floor(Math.random() * perHost)
        for (let i = 0; i < perHost; i++) {
          const slot = (start + i) % perHost
          if (!state.held.has(slot)) free.push(slot)
        }
        if (free.length === 0) return Effect.succeed(undefined)
        return onConn(
          conn.executeValues(
            `SELECT s FROM unnest($1::int[]) WITH ORDINALITY AS t(s, n) WHERE pg_try_advisory_lock($2::int, s) ORDER BY n LIMIT 1`,
            [free, state.key]
          )
        ).pipe(
          Effect.map((rows) => {
            const slot = rows[0]?.[0]
            if (slot === undefined) return undefined
            state.held.add(Number(slot))
            return Number(slot)
          }),
          // the database is unreachable: wait and try again (the downloads wait for the host meanwhile)
          Effect.catchAll(() => Effect.as(Effect.sleep(1000), undefined))
        )
      })

    const unlock = (state: HostState, slot: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        state.held.delete(slot)
        return onConn(conn.executeRaw("SELECT pg_advisory_unlock($1::int, $2::int)", [state.key, slot])).pipe(Effect.ignore)
      })

    /**
     * Gives `slot` to the first waiter; false when none waits. (A waiter interrupted just as it is handed one
     * passes it on itself: see `acquire`.)
     */
    const handTo = (state: HostState, slot: number): boolean => {
      const waiter = state.waiters.shift()
      if (waiter === undefined) return false
      Deferred.unsafeDone(waiter, Exit.succeed(slot))
      return true
    }

    /** One fiber per host and runner polls PostgreSQL while downloads wait for the host. */
    const pump = (state: HostState, afterMs = 0): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (state.pumping) return Effect.void
        state.pumping = true
        const loop: Effect.Effect<void> = Effect.suspend(() => {
          if (state.waiters.length === 0) {
            state.pumping = false
            return Effect.void
          }
          return Effect.flatMap(tryLock(state), (slot) => {
            if (slot !== undefined) {
              if (!handTo(state, slot)) return Effect.zipRight(unlock(state, slot), loop)
              return loop
            }
            return Effect.zipRight(Effect.sleep(Math.round(pollMs * (0.5 + Math.random()))), loop)
          })
        })
        return Effect.asVoid(Effect.forkIn(afterMs > 0 ? Effect.zipRight(Effect.sleep(afterMs), loop) : loop, scope))
      })

    const acquire = (host: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const state = stateOf(host)
        const waiter = Deferred.unsafeMake<number>(FiberId.none)
        state.waiters.push(waiter)
        // run uninterruptibly (HostGate.acquire): only the wait is interruptible, and a slot handed over is lent
        // in the same step — an interruptible region ending after the hand-over would keep the slot held in
        // PostgreSQL, neither lent nor given back
        return Effect.zipRight(
          pump(state),
          Effect.interruptible(Deferred.await(waiter)).pipe(
            Effect.onInterrupt(() =>
              Effect.suspend(() => {
                const index = state.waiters.indexOf(waiter)
                if (index >= 0) state.waiters.splice(index, 1)
                // handed a slot just as it was interrupted: pass it on
                return Effect.flatMap(Deferred.poll(waiter), (done) =>
                  Option.isSome(done) ? Effect.flatMap(done.value, (slot) => releaseSlot(state, slot)) : Effect.void
                )
              })
            ),
            Effect.flatMap((slot) =>
              Effect.sync(() => {
                state.lent.push(slot)
              })
            )
          )
        )
      })

    const releaseSlot = (state: HostState, slot: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (state.handoffs < maxHandoffs && handTo(state, slot)) {
          state.handoffs += 1
          return Effect.void
        }
        state.handoffs = 0
        // given back on purpose: let the other runners' polls find it before ours does
        return Effect.zipRight(unlock(state, slot), state.waiters.length > 0 ? pump(state, pollMs) : Effect.void)
      })

    const release = (host: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const state = stateOf(host)
        const slot = state.lent.pop()
        return slot === undefined ? Effect.void : releaseSlot(state, slot)
      })

    return { acquire, release, heldCount: () => [...hosts.values()].reduce((n, s) => n + s.held.size, 0) }
  })
