/**
 * Whether a large body that runs in one stream should go on in segments. The stream is watched while it runs
 * (transfer.ts asks `judge` as its chunks arrive): it is judged over a first short window, then over longer ones
 * until it ends, and a window slower than the rate stops it — its bytes stay hashed and written, the rest comes
 * in ranges (segments/index.ts). Plain arithmetic, no I/O.
 *
 * Why watch at all: segments pay only against a per-connection cap (CDNs, mirrors, nginx's `limit_rate`). On a
 * fast uncapped link the client's CPU is the limit and segments only add the read-back of the in-order hashes
 * (measured on loopback, 1 GiB: one stream 2.7–4.0 s, 16 segments 3.4–5.3 s).
 *
 * A stream that waited on this client's own rate limits is never slow: those limits bind, and segments share them.
 *
 * Why windows to the end, not one verdict: a token bucket lets a burst through first (a CDN's; nginx lets one
 * `sendfile_max_chunk` through at once, 2 MiB per 125 ms at `limit_rate 16m`), so a capped stream can look fast
 * at first and slow only later.
 */

/**
 * The default rate (bytes/s): a stream slower than 64 MiB/s goes on in segments. Measured against loopback nginx
 * with a plain Node client: a stream capped at 16 MiB/s brought 2 MiB per 125 ms from its first byte (≈ 6 MiB in
 * the first window), an uncapped one 34–48 MiB in its first 100 ms; 64 MiB/s lies well between on a busy
 * 2-core machine, and a client that gets more than that from one connection gains little from more.
 */
export const defaultSegmentBelowRate = 64 * 1024 * 1024

/** The first verdict: long enough for a few of a capped stream's bursts, short enough to cost it little. */
export const firstWindowMs = 300

/** Later verdicts: long enough that a pause of the client (GC, a busy disk) does not read as a capped server. */
export const laterWindowMs = 1000

/** With less than this left, one stream finishes about as soon as ranges would be planned and answered. */
export const minRemainingBytes = 4 * 1024 * 1024

/** The watch of one stream: the current window's start, the bytes and own rate-limit waits then, the rate to keep. */
export interface StreamWatch {
  readonly fastBytesPerMs: number
  readonly since: number
  readonly sinceBytes: number
  readonly sinceWaitedMs: number
  readonly windowMs: number
}

/** Starts watching a stream that has `received` bytes (and waited `waitedMs` on rate limits) at `now`. */
export const startWatch = (bytesPerSecond: number, now: number, received: number, waitedMs: number): StreamWatch => ({
  fastBytesPerMs: bytesPerSecond / 1000,
  since: now,
  sinceBytes: received,
  sinceWaitedMs: waitedMs,
  windowMs: firstWindowMs
})

/** What `judge` says: the window is not over, the stream kept the rate (watch on with `next`), it is slow, or done. */
export type Verdict =
  | { readonly _tag: "Pending" }
  | { readonly _tag: "Fast"; readonly next: StreamWatch }
  | { readonly _tag: "Slow" }
  | { readonly _tag: "Done" }

const pending: Verdict = { _tag: "Pending" }
const done: Verdict = { _tag: "Done" }
const slow: Verdict = { _tag: "Slow" }

/**
 * Judges the window that started at `watch.since`, at `now`, with `received` of `total` bytes in and `waitedMs`
 * spent waiting on this client's own rate limits so far.
 */
export const judge = (watch: StreamWatch, now: number, received: number, total: number, waitedMs: number): Verdict => {
  const elapsed = now - watch.since
  if (elapsed < watch.windowMs) return pending
  if (total - received < minRemainingBytes) return done
  const next: Verdict = {
    _tag: "Fast",
    next: { ...watch, since: now, sinceBytes: received, sinceWaitedMs: waitedMs, windowMs: laterWindowMs }
  }
  if ((received - watch.sinceBytes) / elapsed >= watch.fastBytesPerMs) return next
  // it waited on this client's own rate limits (the remote's or the process's `bytesPerSecond`) in this window:
  // those limits bind, not the server, and segments share them — more connections would only wait the same
  if (waitedMs > watch.sinceWaitedMs) return next
  return slow
}
