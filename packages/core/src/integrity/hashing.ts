/**
 * Re-reading stored bytes: hash and count while streaming, optionally writing each batch on (a copy).
 * The per-chunk path is synchronous except for the optional write.
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type { ByteSize, Sha256 } from "../domain/digest.js"
import type { StorageError } from "../domain/errors.js"
import type { StoredObject } from "../domain/artifact.js"
import type { HasherService } from "../hash/Hasher.js"
import { ProgressTicker } from "../progress/ticker.js"
import type { CommitOptions, StorageService } from "../storage/Storage.js"

export interface Hashed {
  readonly sha256: string
  readonly bytes: number
}

export const hashStream = <E, R, E2 = never>(
  stream: Stream.Stream<Uint8Array, E, R>,
  hasher: HasherService,
  options: {
    readonly write?: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, E2>
    readonly onBytes?: (bytes: number) => Effect.Effect<void>
  } = {}
): Effect.Effect<Hashed, E | E2, R> =>
  Effect.suspend(() => {
    const hash = hasher.create("sha256")
    let bytes = 0
    const ticker = new ProgressTicker(Date.now())
    return Stream.runForEachChunk(stream, (chunk): Effect.Effect<void, E2> => {
      const chunks = Chunk.toReadonlyArray(chunk)
      for (let i = 0; i < chunks.length; i++) {
        hash.update(chunks[i]!)
        bytes += chunks[i]!.length
      }
      const write = options.write === undefined ? Effect.void : options.write(chunks)
      if (options.onBytes === undefined || !ticker.due(Date.now())) return write
      return Effect.zipRight(write, options.onBytes(bytes))
    }).pipe(Effect.map(() => ({ sha256: hash.hex(), bytes })))
  })

/** What a hashed copy from one store to another came to. */
export type CopyOutcome =
  | { readonly _tag: "Copied"; readonly object: StoredObject; readonly created: boolean }
  | { readonly _tag: "SourceCorrupt"; readonly reason: string }

/** Why a copy of `sha256` that hashed to `hashed` is wrong, if it is. */
export const mismatch = (sha256: Sha256, size: ByteSize, hashed: Hashed): Option.Option<string> =>
  hashed.bytes !== size
    ? Option.some(`read ${hashed.bytes} bytes, expected ${size}`)
    : hashed.sha256 !== sha256
      ? Option.some(`bytes hash to sha256 ${hashed.sha256}`)
      : Option.none()

/**
 * Copies an artifact from one store to another, hashing on the way: the target commits only verified bytes;
 * a source that does not hash right is reported, not copied. `commit` is passed on (`replace` for a target whose
 * copy is not known good).
 */
export const copyVerified = (
  from: StorageService,
  to: StorageService,
  sha256: Sha256,
  size: ByteSize,
  hasher: HasherService,
  commit?: CommitOptions
): Effect.Effect<CopyOutcome, StorageError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const temp = yield* to.begin
      const hashed = yield* hashStream(from.read(sha256), hasher, { write: (chunks) => temp.write(chunks) })
      const wrong = mismatch(sha256, size, hashed)
      if (Option.isSome(wrong)) return { _tag: "SourceCorrupt", reason: wrong.value } as const
      const { object, created } = yield* temp.commit(sha256, size, commit)
      return { _tag: "Copied", object, created } as const
    })
  )
