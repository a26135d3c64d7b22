/**
 * A Storage that verifies and forgets: every commit succeeds and no byte is kept, so a large batch measures the
 * pipeline and not the store (memory benches, tests of 100,000 artifacts).
 */
import { Effect, Layer, Option, Stream } from "effect"
import { type ByteSize, type Sha256, shardedKey } from "../domain/digest.js"
import { Storage, type StorageService } from "./Storage.js"

export const nullStorage: StorageService = {
  id: "null:",
  keyFor: shardedKey,
  begin: Effect.sync(() => {
    let written = 0
    return {
      write: (chunks: ReadonlyArray<Uint8Array>) =>
        Effect.sync(() => {
          for (const c of chunks) written += c.length
        }),
      append: (chunk: Uint8Array) => {
        written += chunk.length
        return undefined
      },
      reset: Effect.sync(() => {
        written = 0
      }),
      written: () => written,
      commit: (sha256: Sha256, size: ByteSize) =>
        Effect.succeed({ object: { store: "null:", key: shardedKey(sha256), size }, created: true, kept: false })
    }
  }),
  stat: () => Effect.succeed(Option.none()),
  read: () => Stream.empty,
  remove: () => Effect.succeed(false),
  localPath: () => Option.none()
}

export const layerNullStorage: Layer.Layer<Storage> = Layer.succeed(Storage, nullStorage)
