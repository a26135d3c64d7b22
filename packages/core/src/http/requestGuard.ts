/**
 * Aborting the lean exchange's requests without a fiber per download: the idle timeout and the end-of-attempt
 * cleanup. Each request of an attempt gets its `AbortController` from the attempt's `RequestGuard`: a response
 * whose body was consumed is left alone (its connection goes back to the pool), anything else is aborted when the
 * attempt ends; and one shared interval timer over every active guard aborts the requests of a transfer that has
 * been idle too long — the request or body read the attempt is already waiting on then fails, and the attempt
 * reports a typed `TimeoutError`.
 *
 * The platform `HttpClient` path does not use guards: `@effect/platform` offers no public way to hand it a
 * controller, so there the attempt's scope aborts its requests and a watchdog fiber keeps the idle timeout
 * (`Transfer.withIdleTimeout`; tested by the `generic-transfer` project).
 */

/** What the watchdog reads of a transfer: when bytes (or headers) last arrived, and what it was waiting for. */
export interface Activity {
  readonly lastActivity: number
  readonly phase: "response" | "idle-read"
}

export class RequestGuard {
  /** Controllers of requests whose bodies were not consumed yet (at most a few: redirect hops). */
  private readonly open: Array<AbortController> = []
  /** Set when the watchdog aborted the attempt: the phase it was in. */
  timedOut: "response" | "idle-read" | undefined = undefined
  /** Next check, in the watchdog's bookkeeping. */
  readonly tick: number

  constructor(
    readonly activity: Activity,
    readonly idleMs: number
  ) {
    this.tick = Math.max(10, Math.min(1000, Math.floor(idleMs / 4)))
  }

  /** A controller for one request sent without the HttpClient (the lean exchange): aborted like the others. */
  controller(): AbortController {
    const controller = new AbortController()
    this.open.push(controller)
    if (this.timedOut !== undefined) controller.abort()
    return controller
  }

  /** The body of the latest request was read to its end: its connection is reusable, nothing to abort. */
  consumed(): void {
    this.open.pop()
  }

  /** Aborts every request not consumed (the end of an attempt, or a timeout). */
  abortOpen(): void {
    for (let c = this.open.pop(); c !== undefined; c = this.open.pop()) c.abort()
  }

  /** Called by the watchdog: true when the guard timed out now. */
  check(now: number): boolean {
    if (this.timedOut !== undefined || now - this.activity.lastActivity <= this.idleMs) return false
    this.timedOut = this.activity.phase
    this.abortOpen()
    return true
  }
}

/** The one timer that watches every active guard; it runs only while some guard is active. */
const active = new Set<RequestGuard>()
let timer: ReturnType<typeof setInterval> | undefined
let timerTick = Number.POSITIVE_INFINITY

const sweep = () => {
  const now = Date.now()
  for (const guard of active) if (guard.check(now)) active.delete(guard)
  if (active.size === 0) stopTimer()
}

const stopTimer = () => {
  if (timer !== undefined) clearInterval(timer)
  timer = undefined
  timerTick = Number.POSITIVE_INFINITY
}

/** Starts watching `guard` for idleness. */
export const watch = (guard: RequestGuard): void => {
  active.add(guard)
  if (timer === undefined || guard.tick < timerTick) {
    if (timer !== undefined) clearInterval(timer)
    timerTick = guard.tick
    timer = setInterval(sweep, timerTick)
  }
}

/** Stops watching `guard` and aborts what it left open. */
export const release = (guard: RequestGuard): void => {
  active.delete(guard)
  guard.abortOpen()
  if (active.size === 0) stopTimer()
}

/** Guards being watched (tests, diagnostics). */
export const watchedCount = (): number => active.size
