/**
 * The bytes of an on-demand fetch as they arrive, for the requests waiting on it. Readers follow the fetch; the
 * newest `window` bytes stay in memory (a reader that falls further behind continues from the store once the
 * artifact is verified). A restarted transfer (another source, or a retry from byte 0) begins a new epoch: a reader
 * that already sent bytes of the previous one cannot be sure the new bytes continue them, and is cut off.
 * Nothing here decides what may be sent: see `hold` in the server (the last byte of a response waits for the digest).
 */
import type { Artifact } from "../domain/artifact.js"
import type { Sha256 } from "../domain/digest.js"
import type { DownloadError } from "../domain/errors.js"

export type LiveState =
  | { readonly _tag: "Running" }
  /** Stored; `artifact` is undefined when another process fetched it (this one saw it appear in the store). */
  | { readonly _tag: "Verified"; readonly artifact: Artifact | undefined }
  | { readonly _tag: "Failed"; readonly error: DownloadError }

export type LiveSlice =
  /** The bytes asked for (possibly fewer than asked, never zero). */
  | { readonly _tag: "Bytes"; readonly chunks: ReadonlyArray<Uint8Array>; readonly length: number }
  /** Not arrived yet: wait for `changed()`. */
  | { readonly _tag: "Pending" }
  /** Dropped from memory already: continue from the store once verified. */
  | { readonly _tag: "Behind" }

export class LiveBody {
  /** Bytes of the current epoch arrived so far (contiguous from 0). */
  received = 0
  /** Offset of the first byte still in memory. */
  private base = 0
  private chunks: Array<Uint8Array> = []
  /** Incremented when the transfer starts over from byte 0. */
  epoch = 0
  state: LiveState = { _tag: "Running" }
  private waiters: Array<() => void> = []

  constructor(
    readonly sha256: Sha256,
    /** The expected size, when declared. */
    readonly size: number | undefined,
    /** Bytes kept in memory behind the newest. */
    private readonly window: number
  ) {}

  /** Bytes written to the temporary object (in order). */
  publish(chunks: ReadonlyArray<Uint8Array>): void {
    for (const chunk of chunks) {
      if (chunk.length === 0) continue
      this.chunks.push(chunk)
      this.received += chunk.length
    }
    while (this.chunks.length > 1 && this.received - this.base - this.chunks[0]!.length >= this.window) {
      this.base += this.chunks.shift()!.length
    }
    this.wake()
  }

  /** The transfer starts over from byte 0. */
  reset(): void {
    this.epoch += 1
    this.chunks = []
    this.base = 0
    this.received = 0
    this.wake()
  }

  /** The fetch ended: verified, stored and catalogued, or failed. Memory is let go. */
  finish(state: Exclude<LiveState, { readonly _tag: "Running" }>): void {
    this.state = state
    this.chunks = []
    this.base = this.received
    this.wake()
  }

  /** Resolves at the next change (bytes, a restart, the end). */
  changed(): Promise<void> {
    if (this.state._tag !== "Running") return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Bytes [from, to) as far as they have arrived. */
  slice(from: number, to: number): LiveSlice {
    if (from < this.base) return { _tag: "Behind" }
    const end = Math.min(to, this.received)
    if (end <= from) return { _tag: "Pending" }
    const out: Array<Uint8Array> = []
    let offset = this.base
    for (const chunk of this.chunks) {
      const chunkEnd = offset + chunk.length
      if (chunkEnd > from && offset < end) {
        out.push(chunk.subarray(Math.max(0, from - offset), Math.min(chunk.length, end - offset)))
      }
      if (chunkEnd >= end) break
      offset = chunkEnd
    }
    return { _tag: "Bytes", chunks: out, length: end - from }
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}
