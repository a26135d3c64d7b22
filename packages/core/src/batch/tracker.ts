/**
 * Batch totals for progress: counts, bytes, a rate (progress/rate.ts) and an ETA, emitted as `BatchProgress` events at most
 * every `intervalMs` (checked when something happens; no timer fiber). State is O(active downloads).
 */
import { Effect } from "effect"
import type { ProgressEvent } from "../progress/events.js"
import type { ProgressService } from "../progress/Progress.js"
import { RateMeter, timeLeftMs } from "../progress/rate.js"

export interface TrackerOptions {
  readonly total?: number | undefined
  readonly bytesExpected?: number | undefined
  readonly intervalMs?: number | undefined
}

export class BatchTracker {
  done = 0
  cached = 0
  failed = 0
  /** Requests taken from the input so far. */
  seen = 0
  active = 0
  total: number | undefined
  readonly bytesExpected: number | undefined
  /** Bytes of finished artifacts. */
  private finishedBytes = 0
  /** Bytes received by running downloads, by progress id. */
  private readonly running = new Map<number, number>()
  private runningBytes = 0
  /** Bytes actually transferred (not counting artifacts already stored), for the rate. */
  private transferred = 0
  private readonly started = Date.now()
  private lastEmit = 0
  private readonly meter = new RateMeter()
  private readonly intervalMs: number

  constructor(
    private readonly downstream: ProgressService,
    options: TrackerOptions
  ) {
    this.total = options.total
    this.bytesExpected = options.bytesExpected
    this.intervalMs = options.intervalMs ?? 250
    this.lastEmit = this.started
  }

  /** A progress service that feeds this tracker and forwards every event downstream. */
  readonly progress: ProgressService = {
    emit: (event) => {
      this.observe(event)
      const forwarded = this.downstream.emit(event)
      // an emit is built as the event happens and run at once: when no batch event is due now, none is checked
      // for after forwarding (the next event or result checks again)
      return event._tag === "Bytes" && Date.now() - this.lastEmit >= this.intervalMs
        ? Effect.zipRight(forwarded, this.maybeEmit())
        : forwarded
    }
  }

  private observe(event: ProgressEvent): void {
    switch (event._tag) {
      case "Bytes": {
        const before = this.running.get(event.id) ?? 0
        const delta = event.received - before
        this.running.set(event.id, event.received)
        this.runningBytes += delta
        if (delta > 0) this.transferred += delta
        return
      }
      case "Done":
        this.settle(event.id)
        this.finishedBytes += event.size
        return
      case "Failed":
        this.settle(event.id)
        return
    }
  }

  private settle(id: number): void {
    const bytes = this.running.get(id)
    if (bytes !== undefined) {
      this.running.delete(id)
      this.runningBytes -= bytes
    }
  }

  /** Records one finished request; emits a progress event when one is due. */
  finished(ok: boolean, cached: boolean): Effect.Effect<void> {
    if (ok) {
      this.done += 1
      if (cached) this.cached += 1
    } else this.failed += 1
    return this.maybeEmit()
  }

  /**
   * `finished`, for a caller at the moment the request finished (not building an effect to run later): the event
   * due now, or undefined when none is (no effect to run).
   */
  finishedNow(ok: boolean, cached: boolean): Effect.Effect<void> | undefined {
    if (ok) {
      this.done += 1
      if (cached) this.cached += 1
    } else this.failed += 1
    const now = Date.now()
    return now - this.lastEmit < this.intervalMs ? undefined : this.downstream.emit(this.snapshot(now, false, false))
  }

  maybeEmit(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const now = Date.now()
      if (now - this.lastEmit < this.intervalMs) return Effect.void
      return this.downstream.emit(this.snapshot(now, false, false))
    })
  }

  /** The first event of the batch: the totals are known before any download starts (no 0/0 → 0/64 → 0/300). */
  start(): Effect.Effect<void> {
    return Effect.suspend(() => this.downstream.emit(this.snapshot(Date.now(), false, false)))
  }

  /** The last event of the batch. */
  final(aborted: boolean): Effect.Effect<void> {
    return Effect.suspend(() => this.downstream.emit(this.snapshot(Date.now(), true, aborted)))
  }

  private snapshot(now: number, final: boolean, aborted: boolean): ProgressEvent {
    const rate = this.meter.sample(now, this.transferred)
    this.lastEmit = now
    const elapsedMs = now - this.started
    const bytesDone = this.finishedBytes + this.runningBytes
    const finishedCount = this.done + this.failed
    let etaMs: number | undefined
    if (final) etaMs = 0
    else if (this.bytesExpected !== undefined && rate > 0) etaMs = timeLeftMs(this.bytesExpected - bytesDone, rate)
    else if (this.total !== undefined && finishedCount > 0) {
      etaMs = ((this.total - finishedCount) * elapsedMs) / finishedCount
    }
    return {
      _tag: "BatchProgress",
      done: this.done,
      cached: this.cached,
      failed: this.failed,
      total: this.total,
      active: this.active,
      bytesDone,
      bytesExpected: this.bytesExpected,
      bytesPerSecond: final ? (this.transferred * 1000) / Math.max(1, elapsedMs) : rate,
      etaMs: etaMs === undefined ? undefined : Math.round(etaMs),
      elapsedMs,
      final,
      aborted
    }
  }
}
