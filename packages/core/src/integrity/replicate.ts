/**
 * Copies between stores: every byte re-hashed on the way, the catalog then lists both locations.
 */
import { Effect, Option, Schema } from "effect"
import { Catalog } from "../catalog/Catalog.js"
import type { Sha256 } from "../domain/digest.js"
import type { CatalogError } from "../domain/errors.js"
import { Hasher } from "../hash/Hasher.js"
import type { Storage, StorageService } from "../storage/Storage.js"
import { copyVerified } from "./hashing.js"
import { readableLocations, resolveStores, type Stores } from "./stores.js"

export const ReplicaResult = Schema.Struct({
  sha256: Schema.String,
  /** The target store's id. */
  to: Schema.String,
  /** The store the bytes came from (when copied). */
  from: Schema.optional(Schema.String),
  key: Schema.optional(Schema.String),
  /** `copied`: written now; `present`: already there and catalogued; `failed`: see `detail`. */
  status: Schema.Literal("copied", "present", "failed"),
  detail: Schema.optional(Schema.String)
})
export type ReplicaResult = typeof ReplicaResult.Type

export interface ReplicateOptions {
  /** Artifacts copied at once (default 2). */
  readonly concurrency?: number
  /** Stores besides the `Storage` service that may serve as sources. */
  readonly stores?: ReadonlyArray<StorageService>
}

const replicateOne = (
  sha256: Sha256,
  target: StorageService,
  stores: Stores
): Effect.Effect<ReplicaResult, CatalogError, Catalog> =>
  Effect.gen(function* () {
    const catalog = yield* Catalog
    const hasher = yield* Hasher
    const entry = yield* catalog.lookup(sha256)
    if (Option.isNone(entry)) return { sha256, to: target.id, status: "failed", detail: "not in the catalog" } as const
    const { artifact, locations } = entry.value
    const there = locations.find((l) => l.store === target.id && l.state === "ok")
    if (there !== undefined) {
      const stat = yield* Effect.either(target.stat(sha256))
      if (stat._tag === "Right" && Option.isSome(stat.right) && stat.right.value.size === artifact.size) {
        return { sha256, to: target.id, key: there.key, status: "present" } as const
      }
    }
    const failures: Array<string> = []
    // the target's copy, if any, is not known good (else it was `present`): these verified bytes replace it
    for (const { row, storage } of readableLocations(locations, stores, target.id)) {
      const outcome = yield* Effect.either(copyVerified(storage, target, sha256, artifact.size, hasher, { replace: true }))
      if (outcome._tag === "Left") {
        failures.push(`${row.store}: ${outcome.left.message}`)
        continue
      }
      if (outcome.right._tag === "SourceCorrupt") {
        failures.push(`${row.store}: ${outcome.right.reason}`)
        yield* catalog.setLocationState(sha256, row.store, "corrupt", new Date())
        continue
      }
      const { object } = outcome.right
      yield* catalog.addLocation({ sha256, store: target.id, key: object.key, at: new Date() })
      return { sha256, to: target.id, from: row.store, key: object.key, status: "copied" } as const
    }
    return {
      sha256,
      to: target.id,
      status: "failed",
      detail: failures.length === 0 ? "no healthy copy in a reachable store" : failures.join("; ")
    } as const
  })

/** Every catalogued sha256, page by page. */
const allArtifacts = Effect.gen(function* () {
  const catalog = yield* Catalog
  const out: Array<Sha256> = []
  const page = 1000
  for (let offset = 0; ; offset += page) {
    const rows = yield* catalog.list({ limit: page, offset })
    for (const row of rows) out.push(row.sha256)
    if (rows.length < page) return out
  }
})

/**
 * Copies artifacts (one, several, or `"all"` the catalog knows) to `target`, reading each from a healthy copy in a
 * reachable store (the `Storage` service first) and verifying its sha256 on the way. The catalog then lists the
 * target as a location. A source copy found corrupt is marked so and the next one is tried.
 */
export const replicate = (
  what: Sha256 | ReadonlyArray<Sha256> | "all",
  target: StorageService,
  options: ReplicateOptions = {}
): Effect.Effect<ReadonlyArray<ReplicaResult>, CatalogError, Storage | Catalog> =>
  Effect.gen(function* () {
    const stores = yield* resolveStores(options.stores)
    const sha256s = what === "all" ? yield* allArtifacts : typeof what === "string" ? [what] : what
    return yield* Effect.forEach(sha256s, (sha256) => replicateOne(sha256, target, stores), {
      concurrency: Math.max(1, options.concurrency ?? 2)
    })
  })
