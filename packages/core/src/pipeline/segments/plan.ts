/**
 * The ranges of one segmented download: the stripes lanes take in order, which range is whose, and how an idle
 * lane takes over what a slower one has left. Plain data, no I/O.
 */
import type { Candidate } from "../sources.js"

/**
 * 16 ranges at once (the default per-host limit, which still bounds them). Measured against nginx's `limit_rate
 * 16m`, 256 MiB, load 9–14 (`npx tsx bench/segments.ts --counts 1,4,16`): 4 → 0.60× aria2c -x8 -s8, 8 → 0.68×,
 * 16 → 1.18× (5.9× curl): on a busy 2-core machine this client needs more connections than aria2c for the same
 * bytes, its CPU per byte being higher.
 */
export const defaultSegments = 16
/** Below this a body comes in one stream: the extra requests and connections do not pay off. */
export const defaultSegmentThreshold = 64 * 1024 * 1024
/** No range is split below twice this: the request a steal costs must buy more than it spends. */
const minStealBytes = 2 * 1024 * 1024
/** Split points fall on this grid (or on piece boundaries): whole pages for the store, whole pieces for digests. */
const grid = 1024 * 1024
/**
 * Stripes per lane. The whole-file digests are taken in order (prefix.ts), so with one range per lane everything
 * past the first range waited for the end and was hashed then (measured: ≈ 0.4 s of a 2.4 s download of 256 MiB
 * over 8 lanes). Lanes that take stripes in order keep the written prefix close behind the fastest lane: what is
 * left to hash at the end is about one stripe per lane.
 */
const stripesPerLane = 4
/** A stripe costs a request: above this, more stripes; below the grid, fewer lanes' worth. */
const maxStripeBytes = 16 * 1024 * 1024
/** A lane whose speed is known only after this long (or this many bytes) is not judged slow before. */
const judgeAfterMs = 500
const judgeAfterBytes = 1024 * 1024
/** Take-over split points fall on this finer grid (still whole pages): a stripe may be only a megabyte. */
const takeOverGrid = 256 * 1024

export interface Segment {
  readonly start: number
  /** Exclusive; moves down when an idle lane takes over the upper part. */
  end: number
  /** The next byte to ask for. */
  pos: number
  /** Bytes `[start, settled)` are written and can be read back. */
  settled: number
  /** A lane owns it (fetching, or waiting to retry) until it is complete. */
  active: boolean
  /** When this segment's current lane started and what it had then: its speed, for choosing what to take over. */
  since: number
  sinceBytes: number
  /** Sources that may not serve it (they served a bad piece of it). */
  excluded: ReadonlySet<Candidate> | undefined
}

export const segment = (start: number, end: number, excluded?: ReadonlySet<Candidate>): Segment => ({
  start,
  end,
  pos: start,
  settled: start,
  active: false,
  since: Date.now(),
  sinceBytes: start,
  excluded
})

const alignUp = (offset: number, step: number): number => Math.ceil(offset / step) * step

/** `count` ranges of about equal size covering `[from, size)`, split on `align` (a piece length, or the grid). */
export const split = (size: number, count: number, align: number | undefined, from = 0): Array<Segment> => {
  const step = align ?? grid
  const out: Array<Segment> = []
  let start = from
  for (let i = 1; i <= count && start < size; i++) {
    const end = i === count ? size : Math.min(size, alignUp(from + Math.floor(((size - from) * i) / count), step))
    if (end > start) out.push(segment(start, end))
    start = Math.max(start, end)
  }
  return out
}

/**
 * The stripes of a download for `count` lanes: about `stripesPerLane` per lane, each at most `maxStripeBytes`
 * and at least the grid (or a piece), in file order — lanes claim them lowest first.
 */
export const stripes = (size: number, count: number, align: number | undefined, from = 0): Array<Segment> => {
  const step = align ?? grid
  const target = Math.min(maxStripeBytes, Math.max(step, (size - from) / (count * stripesPerLane)))
  return split(size, Math.max(count, Math.ceil((size - from) / target)), align, from)
}

/** Bytes per millisecond the segment's current lane has shown; undefined while too early to say. */
export const laneRate = (s: Segment, now: number): number | undefined => {
  const ms = now - s.since
  const bytes = s.pos - s.sinceBytes
  return ms >= judgeAfterMs || bytes >= judgeAfterBytes ? bytes / Math.max(1, ms) : undefined
}

/** Seconds the segment still needs at the speed it has shown (unknown speed counts as slow). */
const eta = (s: Segment, now: number): number => {
  const rate = (s.pos - s.sinceBytes) / Math.max(1, now - s.since)
  return (s.end - s.pos) / Math.max(rate, 1e-6)
}

/**
 * Work stealing: the active segment that would finish last gives its upper half to an idle lane. Returns the new
 * segment (the victim's end already moved down), or undefined when nothing is worth splitting.
 */
export const steal = (segments: Array<Segment>, align: number | undefined): Segment | undefined => {
  const now = Date.now()
  let victim: Segment | undefined
  for (const s of segments) {
    if (!s.active || s.end - s.pos < 2 * minStealBytes) continue
    if (victim === undefined || eta(s, now) > eta(victim, now)) victim = s
  }
  if (victim === undefined) return undefined
  const mid = alignUp(victim.pos + Math.ceil((victim.end - victim.pos) / 2), align ?? grid)
  if (mid >= victim.end || mid - victim.pos < minStealBytes) return undefined
  const taken = segment(mid, victim.end, victim.excluded)
  victim.end = mid
  segments.push(taken)
  return taken
}

/**
 * Take-over: a lane that has shown `rate` (bytes/ms) takes the upper part of the active segment that would finish
 * last, when that segment's lane is less than half as fast. The split leaves each side the share its speed
 * finishes at about the same time; down to the grid, since a slow lane is split again by the next idle fast one
 * (its first speed is a socket buffer's burst, so it often keeps too much at first). Returns the new segment (the
 * victim's end already moved down), or undefined.
 */
export const takeOver = (segments: Array<Segment>, rate: number, align: number | undefined): Segment | undefined => {
  const now = Date.now()
  let victim: Segment | undefined
  let victimRate = 0
  for (const s of segments) {
    if (!s.active || s.end - s.pos < 2 * takeOverGrid) continue
    const r = laneRate(s, now)
    // no bytes at all: waiting for a connection (the per-host limit), not slow; a stalled server is the idle timeout's
    if (r === undefined || r === 0 || r * 2 >= rate) continue
    if (victim === undefined || eta(s, now) > eta(victim, now)) {
      victim = s
      victimRate = r
    }
  }
  if (victim === undefined) return undefined
  const left = victim.end - victim.pos
  // the slow lane keeps what it finishes while this one gets going (its share, on the grid): no minimum, a
  // mirror at a tenth of the speed would otherwise hold the prefix for seconds
  const keep = Math.ceil((left * victimRate) / (victimRate + rate))
  const mid = alignUp(victim.pos + keep, align ?? takeOverGrid)
  if (mid >= victim.end) return undefined
  const taken = segment(mid, victim.end, victim.excluded)
  victim.end = mid
  segments.push(taken)
  return taken
}

/** The newest segment holding byte `x` (a re-fetched piece is newer than the range it was first part of). */
export const covering = (segments: ReadonlyArray<Segment>, x: number): Segment | undefined =>
  segments.findLast((s) => s.start <= x && x < s.end)

/** The end of the written run of bytes that starts at `from` (what can be hashed in order now). */
export const contiguousFrom = (segments: ReadonlyArray<Segment>, from: number): number => {
  let x = from
  for (;;) {
    const s = covering(segments, x)
    if (s === undefined) return x
    const upto = Math.min(s.settled, s.end)
    if (upto <= x) return x
    x = upto
    if (upto < s.end) return x
  }
}
