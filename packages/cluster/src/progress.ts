/**
 * Progress of a batch's downloads, from the runners back to the submitting process, over PostgreSQL
 * LISTEN/NOTIFY on the batch's own channel. Best effort and never stored: results travel through the cluster's
 * message table (which is what counts); these events only feed the live display. A runner groups what it has for
 * a batch every `flushMs` into one notification, and sends a download's `Bytes` at most every `bytesEveryMs`.
 */
import type { ProgressEvent, ProgressService } from "@cargohold/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Schema } from "effect"

/** The notification channel of a batch. */
export const progressChannel = (batch: string): string => `cargohold_batch_${batch}`

/** Events worth forwarding: the client itself reports Done and Failed from the results. */
const forwarded = new Set<ProgressEvent["_tag"]>(["Started", "Bytes", "Retrying", "SourceFailed", "HostBackoff", "HostRecovered"])

export const ProgressNote = Schema.Struct({ index: Schema.Number, event: Schema.Unknown })
const ProgressNotes = Schema.parseJson(Schema.Array(ProgressNote))
const decodeNotes = Schema.decodeUnknownOption(ProgressNotes)

/** The notes of one notification (nothing when it is not ours). */
export const parseNotes = (payload: string): ReadonlyArray<{ readonly index: number; readonly event: unknown }> => {
  const notes = decodeNotes(payload)
  return notes._tag === "Some" ? notes.value : []
}

/** Below PostgreSQL's 8,000-byte payload limit. */
const maxPayload = 7000

export interface ProgressPublisher {
  /** The Progress one download of `batch` at `index` reports to. */
  readonly forDownload: (batch: string, index: number) => ProgressService
}

export const makeProgressPublisher = (options: { readonly flushMs?: number; readonly bytesEveryMs?: number } = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const pending = new Map<string, Array<string>>()
    const bytesEveryMs = options.bytesEveryMs ?? 500

    const flush = Effect.suspend(() => {
      const batches = [...pending.entries()]
      pending.clear()
      return Effect.forEach(
        batches,
        ([batch, notes]) => {
          const payloads: Array<string> = []
          let current: Array<string> = []
          let length = 2
          for (const note of notes) {
            if (note.length + 1 + length > maxPayload && current.length > 0) {
              payloads.push(`[${current.join(",")}]`)
              current = []
              length = 2
            }
            current.push(note)
            length += note.length + 1
          }
          if (current.length > 0) payloads.push(`[${current.join(",")}]`)
          return Effect.forEach(payloads, (payload) => sql`SELECT pg_notify(${progressChannel(batch)}, ${payload})`, {
            discard: true
          })
        },
        { discard: true }
      ).pipe(Effect.ignore)
    })
    yield* flush.pipe(Effect.zipRight(Effect.sleep(options.flushMs ?? 200)), Effect.forever, Effect.forkScoped)

    const publisher: ProgressPublisher = {
      forDownload: (batch, index) => {
        let lastBytes = 0
        return {
          emit: (event) =>
            Effect.sync(() => {
              if (!forwarded.has(event._tag)) return
              if (event._tag === "Bytes") {
                const now = Date.now()
                if (now - lastBytes < bytesEveryMs) return
                lastBytes = now
              }
              let notes = pending.get(batch)
              if (notes === undefined) {
                notes = []
                pending.set(batch, notes)
              }
              notes.push(JSON.stringify({ index, event }))
            })
        }
      }
    }
    return publisher
  })
