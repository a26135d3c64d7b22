/**
 * An in-memory Storage for tests and for callers that only want verified bytes in memory.
 */
import { Effect, Layer, Option, Ref, Stream } from "effect"
import type { StoredObject } from "../domain/artifact.js"
import { ByteSize, type Sha256, shardedKey } from "../domain/digest.js"
import { StorageError } from "../domain/errors.js"
import { type CommitOptions, type OpenedTemp, Storage, type StorageService } from "./Storage.js"

export interface MemoryStorage extends StorageService {
  /** Every committed object, by key. */
  readonly objects: Effect.Effect<ReadonlyMap<string, Uint8Array>>
  /** Temporary objects currently open (should be 0 whenever no download runs). */
  readonly openTemps: Effect.Effect<number>
}

type Outcome = { readonly created: boolean; readonly kept: boolean }

const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

export const makeMemoryStorage = (id = "memory:"): Effect.Effect<MemoryStorage> =>
  Effect.gen(function* () {
    // one mutable map behind a Ref: commits are O(1) (a batch of 100,000 must not copy the map each time);
    // `objects` hands out snapshots
    const objects = yield* Ref.make(new Map<string, Uint8Array>())
    const temps = yield* Ref.make(0)
    const stat = (sha256: Sha256) =>
      Ref.get(objects).pipe(
        Effect.map((map) => {
          const key = shardedKey(sha256)
          const bytes = map.get(key)
          return bytes === undefined
            ? Option.none<StoredObject>()
            : Option.some<StoredObject>({ store: id, key, size: ByteSize.make(bytes.length) })
        })
      )
    const openTemp = Ref.update(temps, (n) => n + 1).pipe(
        Effect.map(() => {
          let chunks: Array<Uint8Array> = []
          let flat: Uint8Array | undefined
          let size = 0
          return {
            write: (more: ReadonlyArray<Uint8Array>) =>
              Effect.sync(() => {
                for (const chunk of more) {
                  chunks.push(chunk.slice())
                  size += chunk.length
                }
              }),
            append: (chunk: Uint8Array) => {
              chunks.push(chunk.slice())
              size += chunk.length
              return undefined
            },
            // positional writes (segmented downloads) go to one flat buffer that grows as needed
            writeAt: (position: number, chunk: Uint8Array) => {
              const end = position + chunk.length
              let buffer = flat ?? concat(chunks, size)
              if (buffer.length < end) {
                const grown = new Uint8Array(Math.max(end, buffer.length * 2))
                grown.set(buffer.subarray(0, size))
                buffer = grown
              }
              buffer.set(chunk, position)
              size = Math.max(size, end)
              flat = buffer
              chunks = []
              return Promise.resolve()
            },
            readAt: (position: number, length: number) =>
              Promise.resolve((flat ?? concat(chunks, size)).slice(position, Math.min(size, position + length))),
            reset: Effect.sync(() => {
              chunks = []
              flat = undefined
              size = 0
            }),
            written: () => size,
            commit: (sha256: Sha256, expectedSize: ByteSize, options?: CommitOptions) =>
              Effect.gen(function* () {
                if (size !== expectedSize) {
                  return yield* new StorageError({
                    operation: "commit",
                    key: shardedKey(sha256),
                    reason: "SizeMismatch",
                    detail: `wrote ${size} bytes, expected ${expectedSize}`
                  })
                }
                const key = shardedKey(sha256)
                const bytes = flat !== undefined ? flat.slice(0, size) : concat(chunks, size)
                // the same contract as the file store: an object of the same size is kept unless `replace`
                const { created, kept } = yield* Ref.modify(objects, (map): readonly [Outcome, Map<string, Uint8Array>] => {
                  const existing = map.get(key)
                  if (existing !== undefined && existing.length === size && options?.replace !== true) {
                    return [{ created: false, kept: true }, map]
                  }
                  map.set(key, bytes)
                  return [{ created: existing === undefined, kept: false }, map]
                })
                return { object: { store: id, key, size: expectedSize }, created, kept }
              })
          }
        })
      )
    const release = Ref.update(temps, (n) => n - 1)
    const service: MemoryStorage = {
      id,
      keyFor: shardedKey,
      begin: Effect.acquireRelease(openTemp, () => release),
      open: Effect.map(openTemp, (temp): OpenedTemp => ({ temp, release })),
      stat,
      read: (sha256) =>
        Stream.unwrap(
          Ref.get(objects).pipe(
            Effect.flatMap((map) => {
              const bytes = map.get(shardedKey(sha256))
              return bytes === undefined
                ? Effect.fail(new StorageError({ operation: "read", key: shardedKey(sha256), reason: "NotFound", detail: "" }))
                : Effect.succeed(Stream.succeed(bytes))
            })
          )
        ),
      remove: (sha256) =>
        Ref.modify(objects, (map) => [map.delete(shardedKey(sha256)), map] as const),
      localPath: () => Option.none(),
      objects: Effect.map(Ref.get(objects), (map) => new Map(map)),
      openTemps: Ref.get(temps)
    }
    return service
  })

/** A fresh in-memory Storage per layer build. */
export const layerMemoryStorage = (id?: string): Layer.Layer<Storage> =>
  Layer.effect(Storage, makeMemoryStorage(id))
