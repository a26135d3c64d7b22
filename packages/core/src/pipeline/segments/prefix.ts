/**
 * Hashing a segmented download in order: the whole-file digests take the bytes of the contiguous prefix as it
 * grows, read back from the temp object (`readAt`) in bounded reads. With Metalink `<pieces>`, each piece is checked
 * before its bytes reach the whole-file hashes, so a bad piece can be fetched again without starting over.
 */
import { Effect } from "effect"
import { type Algorithm, checkHexLength, isAlgorithm } from "../../domain/digest.js"
import { StorageError } from "../../domain/errors.js"
import type { PieceDigests } from "../../domain/request.js"
import { type HasherService, MultiHash } from "../../hash/Hasher.js"
import type { PositionalTemp } from "./segmentTransfer.js"

/** One read back from the temp object. */
const readBytes = 1024 * 1024
/** Without pieces, the prefix is hashed once this much more of it is written (or the file is complete). */
const stepBytes = 4 * 1024 * 1024
/** A piece up to this size is held between its check and the whole-file hashes; a larger one is read twice. */
const holdBytes = 16 * 1024 * 1024

/** Piece digests that fit the file: a known algorithm, well-formed hex, one per `length` bytes. */
export interface Pieces {
  readonly algorithm: Algorithm
  readonly length: number
  readonly hashes: ReadonlyArray<string>
}

/** The request's pieces when they describe a file of `size` bytes; undefined (not used) otherwise. */
export const usablePieces = (pieces: PieceDigests | undefined, size: number): Pieces | undefined => {
  if (pieces === undefined) return undefined
  const algorithm = pieces.algorithm.toLowerCase().replace(/-/g, "")
  if (!isAlgorithm(algorithm) || !Number.isSafeInteger(pieces.length) || pieces.length <= 0) return undefined
  if (pieces.hashes.length !== Math.ceil(size / pieces.length)) return undefined
  const hashes = pieces.hashes.map((h) => h.trim().toLowerCase())
  if (hashes.some((h) => !/^[0-9a-f]+$/.test(h) || checkHexLength(algorithm, h) !== undefined)) return undefined
  return { algorithm, length: pieces.length, hashes }
}

const readError = (cause: unknown) =>
  cause instanceof StorageError ? cause : new StorageError({ operation: "read", reason: "Backend", detail: String(cause) })

/**
 * Reads `[from, to)` of the temp object in bounded reads, handing each to `use`; into `into` when given (then
 * `use` must be done with a chunk when it returns).
 */
const readRange = (
  temp: PositionalTemp,
  from: number,
  to: number,
  use: (chunk: Uint8Array) => void,
  into?: Uint8Array
): Effect.Effect<void, StorageError> =>
  Effect.tryPromise({
    try: async () => {
      for (let at = from; at < to; ) {
        const chunk = await temp.readAt(at, Math.min(readBytes, to - at), into)
        if (chunk.length === 0) throw new Error(`read back ${at}: no bytes (expected up to ${to})`)
        use(chunk)
        at += chunk.length
      }
    },
    catch: readError
  })

/** What one step of the prefix did. */
export type PrefixStep =
  | { readonly _tag: "Hashed" }
  | { readonly _tag: "Wait" }
  | {
      readonly _tag: "BadPiece"
      readonly index: number
      readonly start: number
      readonly end: number
      /** The piece digest's algorithm, the digest the Metalink gave and the one the bytes have. */
      readonly algorithm: string
      readonly expected: string
      readonly actual: string
    }

export class Prefix {
  /** The whole-file hashes have taken `[0, hashed)`. */
  hashed = 0
  readonly hash: MultiHash
  /** One read buffer for the whole-file hashes (they are done with a chunk once `update` returns). */
  private readonly readBuffer = new Uint8Array(readBytes)

  constructor(
    readonly size: number,
    private readonly temp: PositionalTemp,
    private readonly hasher: HasherService,
    algorithms: Iterable<Algorithm>,
    readonly pieces: Pieces | undefined,
    /** Bytes `[0, from)` already hashed into `hash` (a first stream's), without pieces only. */
    start?: { readonly from: number; readonly hash: MultiHash } | undefined
  ) {
    this.hash = start?.hash ?? new MultiHash(hasher, algorithms)
    this.hashed = start?.from ?? 0
  }

  /** Hashes what `available` (the end of the written run from `hashed`) allows: one piece, or one step. */
  step(available: number): Effect.Effect<PrefixStep, StorageError> {
    const pieces = this.pieces
    if (pieces === undefined) {
      if (available < this.size && available - this.hashed < stepBytes) return Effect.succeed({ _tag: "Wait" })
      const to = available
      return Effect.as(
        readRange(this.temp, this.hashed, to, (chunk) => this.hash.update(chunk), this.readBuffer),
        { _tag: "Hashed" } as const
      ).pipe(Effect.tap(() => Effect.sync(() => (this.hashed = to))))
    }
    const index = Math.floor(this.hashed / pieces.length)
    const start = index * pieces.length
    const end = Math.min(this.size, start + pieces.length)
    if (available < end) return Effect.succeed({ _tag: "Wait" })
    return Effect.gen(this, function* () {
      const piece = this.hasher.create(pieces.algorithm)
      const held: Array<Uint8Array> | undefined = end - start <= holdBytes ? [] : undefined
      yield* readRange(this.temp, start, end, (chunk) => {
        piece.update(chunk)
        held?.push(chunk)
      })
      const actual = piece.hex()
      const expected = pieces.hashes[index] ?? ""
      if (actual !== expected) return { _tag: "BadPiece", index, start, end, algorithm: pieces.algorithm, expected, actual } as const
      if (held !== undefined) for (const chunk of held) this.hash.update(chunk)
      else yield* readRange(this.temp, start, end, (chunk) => this.hash.update(chunk), this.readBuffer)
      this.hashed = end
      return { _tag: "Hashed" } as const
    })
  }
}
