/**
 * Reading an artifact back from whichever stored copy is healthy (`cargohold cat`, `cargohold export`).
 */
import { Effect, Option, type Scope, Stream } from "effect"
import { Catalog } from "../catalog/Catalog.js"
import type { ByteSize, Sha256 } from "../domain/digest.js"
import type { CatalogError, StorageError } from "../domain/errors.js"
import { Hasher } from "../hash/Hasher.js"
import type { Storage, StorageService } from "../storage/Storage.js"
import type { LocationRow } from "../catalog/schema.js"
import { ArtifactUnavailable, CorruptArtifact } from "./errors.js"
import { hashStream, mismatch } from "./hashing.js"
import { readableLocations, resolveStores } from "./stores.js"

export interface ReadOptions {
  /** Stores besides the `Storage` service that may hold a copy. */
  readonly stores?: ReadonlyArray<StorageService>
}

type Attempt =
  | { readonly _tag: "Written" }
  | { readonly _tag: "Corrupt"; readonly reason: string }
  | { readonly _tag: "Unreadable"; readonly reason: string }

/** A read failure of the source copy, kept apart from the target's own errors. */
class SourceReadFailed {
  readonly _tag = "SourceReadFailed"
  constructor(readonly reason: string) {}
}

interface Candidate {
  readonly row: LocationRow
  readonly storage: StorageService
}

/** The healthy copies of an artifact, in order of preference, and its size. */
const candidates = (sha256: Sha256, options: ReadOptions) =>
  Effect.gen(function* () {
    const catalog = yield* Catalog
    const stores = yield* resolveStores(options.stores)
    const entry = yield* catalog.lookup(sha256)
    if (Option.isNone(entry)) return yield* new ArtifactUnavailable({ sha256, reason: "not in the catalog" })
    const found = readableLocations(entry.value.locations, stores)
    if (found.length === 0) {
      const known = entry.value.locations.map((l) => `${l.store} (${l.state})`).join(", ")
      return yield* new ArtifactUnavailable({
        sha256,
        reason: known === "" ? "no stored copy recorded" : `no healthy copy in a reachable store (known: ${known})`
      })
    }
    return { size: entry.value.artifact.size, found }
  })

const markCorrupt = (sha256: Sha256, store: string) =>
  Effect.flatMap(Catalog, (catalog) => Effect.ignore(catalog.setLocationState(sha256, store, "corrupt", new Date())))

/**
 * The artifact's bytes from the first healthy copy that exists. The bytes are hashed as they stream: a copy that
 * turns out wrong fails the stream at its end with `CorruptArtifact` (and is marked corrupt); buffer or write to a
 * temporary place first when wrong bytes must never reach the consumer (see `exportTo`).
 */
export const readArtifact = (
  sha256: Sha256,
  options: ReadOptions = {}
): Stream.Stream<Uint8Array, ArtifactUnavailable | CorruptArtifact | StorageError | CatalogError, Storage | Catalog> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const { size, found } = yield* candidates(sha256, options)
      const hasher = yield* Hasher
      const reasons: Array<string> = []
      for (const { row, storage } of found) {
        const stat = yield* Effect.either(storage.stat(sha256))
        if (stat._tag === "Left") {
          reasons.push(`${row.store}: ${stat.left.message}`)
          continue
        }
        if (Option.isNone(stat.right) || stat.right.value.size !== size) {
          reasons.push(`${row.store}: ${Option.isNone(stat.right) ? "missing" : "wrong size"}`)
          continue
        }
        const hash = hasher.create("sha256")
        let bytes = 0
        const body = storage.read(sha256).pipe(
          Stream.mapChunks((chunk) => {
            for (const c of chunk) {
              hash.update(c)
              bytes += c.length
            }
            return chunk
          })
        )
        const check = Effect.suspend(() => {
          const wrong = mismatch(sha256, size, { sha256: hash.hex(), bytes })
          return Option.isNone(wrong)
            ? Effect.void
            : Effect.zipRight(
                markCorrupt(sha256, row.store),
                Effect.fail(new CorruptArtifact({ sha256, store: row.store, key: row.key, reason: wrong.value }))
              )
        })
        return Stream.concat(body, Stream.drain(Stream.fromEffect(check)))
      }
      return yield* new ArtifactUnavailable({ sha256, reason: reasons.join("; ") })
    })
  )

/** Where `exportTo` writes: opened fresh for each attempt; what is not committed vanishes with its scope. */
export interface ExportTarget<E> {
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, E>
  readonly commit: Effect.Effect<void, E>
}

/**
 * Writes the artifact to a target (a file through a platform package, usually) from the first healthy copy,
 * verifying it before `commit`: a copy that does not hash right is marked corrupt and the next one is tried.
 * Returns the store it came from.
 */
export const exportTo = <E>(
  sha256: Sha256,
  open: Effect.Effect<ExportTarget<E>, E, Scope.Scope>,
  options: ReadOptions = {}
): Effect.Effect<{ readonly store: string; readonly size: ByteSize }, ArtifactUnavailable | CatalogError | E, Storage | Catalog> =>
  Effect.gen(function* () {
    const { size, found } = yield* candidates(sha256, options)
    const hasher = yield* Hasher
    const reasons: Array<string> = []
    for (const { row, storage } of found as ReadonlyArray<Candidate>) {
      const source = storage.read(sha256).pipe(Stream.mapError((error) => new SourceReadFailed(error.message)))
      const attempt: Effect.Effect<Attempt, E | SourceReadFailed> = Effect.scoped(
        Effect.gen(function* () {
          const target = yield* open
          const hashed = yield* hashStream(source, hasher, { write: (chunks) => target.write(chunks) })
          const wrong = mismatch(sha256, size, hashed)
          if (Option.isSome(wrong)) return { _tag: "Corrupt", reason: wrong.value } as const
          yield* target.commit
          return { _tag: "Written" } as const
        })
      )
      const result = yield* attempt.pipe(
        Effect.catchIf(
          (error): error is SourceReadFailed => error instanceof SourceReadFailed,
          (error) => Effect.succeed<Attempt>({ _tag: "Unreadable", reason: error.reason })
        )
      )
      if (result._tag === "Written") return { store: row.store, size }
      reasons.push(`${row.store}: ${result.reason}`)
      if (result._tag === "Corrupt") yield* markCorrupt(sha256, row.store)
    }
    return yield* new ArtifactUnavailable({ sha256, reason: reasons.join("; ") })
  })
