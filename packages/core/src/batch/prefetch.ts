/**
 * Catalog look-ups of a batch in groups (`lookupMany`): one round per input chunk, when the workers pull it, instead
 * of a `lookup` and a `sourcesFor` per download.
 *
 * An answer is only as fresh as the moment it was read, so it is used only where it cannot be stale: for a request
 * whose sha256 appears once in its chunk and is not among the batch's requests still unfinished. Every earlier
 * request of that sha256 has then finished, and a finished download is catalogued before it returns, so the answer
 * already includes it. The other requests (and all of them when `lookupMany` fails) look
 * themselves up as a single download does. State: the sha256s of unfinished requests, O(chunk + concurrency).
 */
import { Array as Arr, Chunk, Effect, Option } from "effect"
import type { ArtifactKnowledge, CatalogService } from "../catalog/Catalog.js"
import type { Sha256 } from "../domain/digest.js"
import { type DownloadRequestInput, requestedSha256 } from "../domain/request.js"

export interface Prefetched {
  readonly request: DownloadRequestInput
  /** The request's sha256 (normalized) while it counts as unfinished. */
  readonly sha256: string | undefined
  /** The catalog's answer for it; undefined: the download looks it up itself. */
  readonly known: ArtifactKnowledge | undefined
}

const nothingKnown: ArtifactKnowledge = { entry: Option.none(), sources: [] }

export interface Prefetcher {
  /** Looks up a chunk of requests (in groups of `groupSize`). */
  readonly prefetch: (chunk: Chunk.Chunk<DownloadRequestInput>) => Effect.Effect<Chunk.Chunk<Prefetched>>
  /** Marks a request of a prefetched chunk finished (successfully or not). */
  readonly finished: (item: Prefetched) => void
}

export const makePrefetcher = (catalog: CatalogService, groupSize = 500): Prefetcher => {
  const unfinished = new Map<string, number>()
  const lookupMany = catalog.lookupMany
  const finished = (item: Prefetched) => {
    if (item.sha256 === undefined) return
    const left = (unfinished.get(item.sha256) ?? 1) - 1
    if (left === 0) unfinished.delete(item.sha256)
    else unfinished.set(item.sha256, left)
  }
  const prefetch = (chunk: Chunk.Chunk<DownloadRequestInput>): Effect.Effect<Chunk.Chunk<Prefetched>> =>
    Effect.suspend(() => {
      const requests = Chunk.toReadonlyArray(chunk)
      const keys = requests.map(requestedSha256)
      const inChunk = new Map<string, number>()
      for (const key of keys) if (key !== undefined) inChunk.set(key, (inChunk.get(key) ?? 0) + 1)
      // fresh answers are possible only for a sha256 alone in its chunk and not unfinished
      const fresh = (key: Sha256 | undefined): key is Sha256 =>
        key !== undefined && inChunk.get(key) === 1 && !unfinished.has(key)
      const wanted = keys.filter(fresh)
      for (const key of keys) if (key !== undefined) unfinished.set(key, (unfinished.get(key) ?? 0) + 1)
      const groups: ReadonlyArray<ReadonlyArray<Sha256>> = Arr.chunksOf(wanted, groupSize)
      return Effect.map(
        Effect.forEach(groups, (group) => Effect.option(lookupMany(group))),
        (answers) => {
          const answered = new Map<string, ArtifactKnowledge>()
          const looked = new Set<string>()
          answers.forEach((answer, i) => {
            if (Option.isNone(answer)) return // the catalog failed: these requests look themselves up
            for (const key of groups[i]!) looked.add(key)
            for (const [key, knowledge] of answer.value) answered.set(key, knowledge)
          })
          return Chunk.unsafeFromArray(
            requests.map((request, i): Prefetched => {
              const key = keys[i]
              const known = key !== undefined && looked.has(key) ? (answered.get(key) ?? nothingKnown) : undefined
              return { request, sha256: key, known }
            })
          )
        }
      )
    })
  return { prefetch, finished }
}
