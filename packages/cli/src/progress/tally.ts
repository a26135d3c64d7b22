/**
 * The renderer's aggregate of progress events: updated synchronously on every event (a few field writes),
 * read by the drawing timer. No allocation per `Bytes` event beyond the event itself.
 */
import { type BatchProgress, originOf, type ProgressEvent } from "@cargohold/core"

export interface ActiveDownload {
  readonly id: number
  readonly url: string
  received: number
  size: number | undefined
  readonly startedAt: number
  attempt: number
  /** Last time a plain-mode "still running" line was written for it. */
  reportedAt: number
}

export interface FinishedDownload {
  readonly url: string
  readonly ok: boolean
  readonly cached: boolean
  readonly sha256?: string
  readonly size?: number
  readonly error?: { readonly _tag: string; readonly message: string }
}

export class Tally {
  queued = 0
  done = 0
  cached = 0
  failed = 0
  /** Bytes of finished downloads (fetched, not served from the store). */
  finishedBytes = 0
  /** Bytes of artifacts found already stored (done without a transfer: they count as done for the bar). */
  cachedBytes = 0
  /** Sum of `received` over the active downloads. */
  activeBytes = 0
  /** Sum of known sizes of active downloads plus finished bytes; grows as sizes become known. */
  expectedActive = 0
  readonly active = new Map<number, ActiveDownload>()
  readonly failuresByTag = new Map<string, number>()
  /** Sources (by origin) that failed or served wrong bytes, with how often and why. */
  readonly misbehaving = new Map<string, Map<string, number>>()
  readonly startedAt: number
  /** The latest batch totals, when a batch (`fetchMany`) runs. */
  batch: typeof BatchProgress.Type | undefined
  /** Hosts backing off after a 429/503 and not yet recovering, with their allowed connections. */
  readonly throttled = new Map<string, number>()
  /** Bumped on every change, so the drawer can skip identical frames. */
  version = 0

  constructor(
    readonly now: () => number,
    readonly onFinished: (finished: FinishedDownload) => void
  ) {
    this.startedAt = now()
  }

  get bytes(): number {
    return this.finishedBytes + this.activeBytes
  }

  get finished(): number {
    return this.done + this.failed
  }

  apply(event: ProgressEvent): void {
    this.version++
    switch (event._tag) {
      case "Queued":
        this.queued++
        return
      case "Started": {
        const at = this.now()
        this.active.set(event.id, {
          id: event.id,
          url: event.url,
          received: 0,
          size: event.size,
          startedAt: at,
          attempt: 1,
          reportedAt: at
        })
        if (event.size !== undefined) this.expectedActive += event.size
        return
      }
      case "Bytes": {
        const download = this.active.get(event.id)
        if (download === undefined) return
        this.activeBytes += event.received - download.received
        download.received = event.received
        if (download.size === undefined && event.size !== undefined) {
          download.size = event.size
          this.expectedActive += event.size
        }
        return
      }
      case "Retrying": {
        const download = this.active.get(event.id)
        if (download !== undefined) download.attempt = event.attempt
        return
      }
      case "Done": {
        this.done++
        if (event.cached) {
          this.cached++
          this.cachedBytes += event.size
        } else this.finishedBytes += event.size
        this.retire(event.id)
        this.onFinished({ url: event.url, ok: true, cached: event.cached, sha256: event.sha256, size: event.size })
        return
      }
      case "VerifyStarted": {
        const at = this.now()
        this.queued++
        this.active.set(event.id, {
          id: event.id,
          url: `verify ${event.sha256.slice(0, 12)}… in ${event.store}`,
          received: 0,
          size: event.size,
          startedAt: at,
          attempt: 1,
          reportedAt: at
        })
        this.expectedActive += event.size
        return
      }
      case "VerifyBytes": {
        const download = this.active.get(event.id)
        if (download === undefined) return
        this.activeBytes += event.read - download.received
        download.received = event.read
        return
      }
      case "VerifyDone": {
        const download = this.active.get(event.id)
        const size = download?.size ?? 0
        const url = `${event.store} ${event.sha256}`
        if (event.state === "ok" || event.repaired) {
          this.done++
          this.finishedBytes += size
          this.retire(event.id)
          return
        }
        this.failed++
        const tag = event.state === "missing" ? "Missing" : "Corrupt"
        this.failuresByTag.set(tag, (this.failuresByTag.get(tag) ?? 0) + 1)
        this.retire(event.id)
        this.onFinished({ url, ok: false, cached: false, error: { _tag: tag, message: `${event.state} copy` } })
        return
      }
      case "BatchProgress":
        this.batch = event
        return
      case "HostBackoff":
        this.throttled.set(event.host, event.concurrency)
        return
      case "HostRecovered":
        this.throttled.delete(event.host)
        return
      case "SourceFailed": {
        const origin = sourceLabel(event.url)
        const tags = this.misbehaving.get(origin) ?? new Map<string, number>()
        tags.set(event.errorTag, (tags.get(event.errorTag) ?? 0) + 1)
        this.misbehaving.set(origin, tags)
        return
      }
      case "Failed": {
        this.failed++
        this.failuresByTag.set(event.error._tag, (this.failuresByTag.get(event.error._tag) ?? 0) + 1)
        this.retire(event.id)
        this.onFinished({ url: event.url, ok: false, cached: false, error: event.error })
        return
      }
    }
  }

  private retire(id: number): void {
    const download = this.active.get(id)
    if (download === undefined) return
    this.activeBytes -= download.received
    if (download.size !== undefined) this.expectedActive -= download.size
    this.active.delete(id)
  }

  /** How much of the active downloads is done, in artifacts (a download of known size at 96% counts 0.96). */
  activeFraction(): number {
    let sum = 0
    for (const download of this.active.values()) {
      if (download.size !== undefined && download.size > 0) sum += Math.min(1, download.received / download.size)
    }
    return sum
  }

  /** Bytes still to come from the active downloads, when all their sizes are known. */
  remainingKnown(): number | undefined {
    let remaining = 0
    for (const download of this.active.values()) {
      if (download.size === undefined) return undefined
      remaining += Math.max(0, download.size - download.received)
    }
    return remaining
  }
}

/** The source as the summary names it: an http(s) origin, or `file://`. */
const sourceLabel = (url: string): string => {
  const origin = originOf(url)
  return origin === "file:" ? "file://" : (origin ?? url)
}

