/**
 * Integrity at rest: re-read and re-hash stored copies, oldest-verified first, record what was found in the
 * catalog, and optionally repair bad copies from their sources.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect, Option, Schema } from "effect"
import { Catalog, type CatalogService } from "../catalog/Catalog.js"
import { type LocationRow, LocationState } from "../catalog/schema.js"
import type { ByteSize, Sha256 } from "../domain/digest.js"
import type { CatalogError, StorageError } from "../domain/errors.js"
import { Hasher, type HasherService } from "../hash/Hasher.js"
import { nextDownloadId } from "../pipeline/download.js"
import { Progress, type ProgressService } from "../progress/Progress.js"
import type { Remotes } from "../remote/Remotes.js"
import type { Storage, StorageService } from "../storage/Storage.js"
import { hashStream, mismatch } from "./hashing.js"
import { repairLocation } from "./repair.js"
import { resolveStores, type Stores } from "./stores.js"

export interface VerifyOptions {
  /** Only these artifacts (every recorded location of each); default: whatever is due, oldest-verified first. */
  readonly sha256s?: ReadonlyArray<Sha256>
  /** Only locations in this store (its id, e.g. `s3://bucket/prefix`). */
  readonly store?: string
  /** Only locations never verified or last verified before this instant. */
  readonly olderThan?: Date
  /** At most this many locations. */
  readonly limit?: number
  /** Re-fetch bad copies from their sources (or a healthy replica) and replace them. */
  readonly repair?: boolean
  /** Copies re-read at once (default 4). */
  readonly concurrency?: number
  /** Stores besides the `Storage` service whose locations can be checked here. */
  readonly stores?: ReadonlyArray<StorageService>
}

/** What verification found at one location. */
export const LocationVerdict = Schema.Struct({
  sha256: Schema.String,
  store: Schema.String,
  key: Schema.String,
  /** The state found (and recorded), before any repair. */
  state: LocationState,
  repaired: Schema.Boolean,
  /** What was wrong, and how it was repaired or why it could not be. */
  detail: Schema.optional(Schema.String)
})
export type LocationVerdict = typeof LocationVerdict.Type

/** A location that could not be checked here (store not reachable, artifact unknown, read error). */
export const UncheckedLocation = Schema.Struct({
  sha256: Schema.String,
  store: Schema.optional(Schema.String),
  key: Schema.optional(Schema.String),
  reason: Schema.String
})
export type UncheckedLocation = typeof UncheckedLocation.Type

export const VerifyReport = Schema.Struct({
  checked: Schema.Array(LocationVerdict),
  unchecked: Schema.Array(UncheckedLocation)
})
export type VerifyReport = typeof VerifyReport.Type

/** Bad copies that were not repaired: the CLI exits 1 when there is any. */
export const unrepaired = (report: VerifyReport): ReadonlyArray<LocationVerdict> =>
  report.checked.filter((v) => v.state !== "ok" && !v.repaired)

const neverFirst = (a: LocationRow, b: LocationRow) =>
  (a.verifiedAt?.getTime() ?? Number.NEGATIVE_INFINITY) - (b.verifiedAt?.getTime() ?? Number.NEGATIVE_INFINITY)

/** The locations to check, and the ones that cannot be checked here. */
const select = (catalog: CatalogService, stores: Stores, options: VerifyOptions) =>
  Effect.gen(function* () {
    const unchecked: Array<UncheckedLocation> = []
    let rows: Array<LocationRow> = []
    if (options.sha256s !== undefined) {
      for (const sha256 of options.sha256s) {
        const entry = yield* catalog.lookup(sha256)
        if (Option.isNone(entry)) {
          unchecked.push({ sha256, reason: "not in the catalog" })
          continue
        }
        const locations = entry.value.locations.filter(
          (l) =>
            (options.store === undefined || l.store === options.store) &&
            (options.olderThan === undefined || l.verifiedAt === undefined || l.verifiedAt < options.olderThan)
        )
        if (locations.length === 0 && entry.value.locations.length === 0) {
          unchecked.push({ sha256, reason: "no stored copy recorded" })
        }
        rows.push(...locations)
      }
      rows.sort(neverFirst)
    } else {
      const storeIds = options.store !== undefined ? [options.store] : [...stores.keys()]
      for (const store of storeIds) {
        rows.push(...(yield* catalog.locationsToVerify({ store, olderThan: options.olderThan, limit: options.limit })))
      }
      rows.sort(neverFirst)
    }
    if (options.limit !== undefined) rows = rows.slice(0, Math.max(0, options.limit))
    const due: Array<{ row: LocationRow; storage: StorageService }> = []
    for (const row of rows) {
      const storage = stores.get(row.store)
      if (storage === undefined) {
        unchecked.push({ sha256: row.sha256, store: row.store, key: row.key, reason: "store not reachable here" })
      } else due.push({ row, storage })
    }
    return { due, unchecked }
  })

/** Re-reads one copy: its state, and what was wrong. */
const check = (
  storage: StorageService,
  row: LocationRow,
  size: ByteSize,
  hasher: HasherService,
  progress: ProgressService,
  id: number
): Effect.Effect<{ readonly state: LocationState; readonly detail?: string }, StorageError> =>
  Effect.gen(function* () {
    const sha256 = row.sha256
    const stat = yield* storage.stat(sha256)
    if (Option.isNone(stat)) return { state: "missing", detail: "no object under its key" } as const
    if (stat.value.size !== size) {
      return { state: "corrupt", detail: `stored size ${stat.value.size}, expected ${size}` } as const
    }
    const hashed = yield* hashStream(storage.read(sha256), hasher, {
      onBytes: (read) => progress.emit({ _tag: "VerifyBytes", id, sha256, store: row.store, read, size })
    })
    return Option.match(mismatch(sha256, size, hashed), {
      onNone: () => ({ state: "ok" }) as const,
      onSome: (detail) => ({ state: "corrupt", detail }) as const
    })
  })

const verifyOne = (
  item: { readonly row: LocationRow; readonly storage: StorageService },
  stores: Stores,
  options: VerifyOptions
): Effect.Effect<LocationVerdict | UncheckedLocation, CatalogError, Catalog | Remotes | Progress | HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const { row, storage } = item
    const catalog = yield* Catalog
    const progress = yield* Progress
    const hasher = yield* Hasher
    const entry = yield* catalog.lookup(row.sha256)
    if (Option.isNone(entry)) return { sha256: row.sha256, store: row.store, key: row.key, reason: "not in the catalog" }
    const size = entry.value.artifact.size
    const id = nextDownloadId()
    yield* progress.emit({ _tag: "VerifyStarted", id, sha256: row.sha256, store: row.store, size })
    const found = yield* Effect.either(check(storage, row, size, hasher, progress, id))
    if (found._tag === "Left") {
      return { sha256: row.sha256, store: row.store, key: row.key, reason: found.left.message }
    }
    const { state, detail } = found.right
    yield* catalog.setLocationState(row.sha256, row.store, state, new Date())
    let verdict: LocationVerdict = { sha256: row.sha256, store: row.store, key: row.key, state, repaired: false, detail }
    if (state !== "ok" && options.repair === true) {
      const repair = yield* repairLocation(row.sha256, size, storage, stores)
      verdict = { ...verdict, repaired: repair.repaired, detail: `${detail}; ${repair.detail}` }
    }
    yield* progress.emit({
      _tag: "VerifyDone",
      id,
      sha256: row.sha256,
      store: row.store,
      state,
      repaired: verdict.repaired
    })
    return verdict
  })

const isVerdict = (x: LocationVerdict | UncheckedLocation): x is LocationVerdict => "state" in x

/**
 * Re-reads and re-hashes stored copies in parallel (bounded), records `ok` / `corrupt` / `missing` and the time in
 * the catalog, and reports each copy. With `repair`, bad copies are replaced by verified bytes from the artifact's
 * sources (catalog order) or a healthy replica; a copy no source can supply stays `corrupt` (or `missing`).
 */
export function verify(
  options: VerifyOptions & { readonly repair: true }
): Effect.Effect<VerifyReport, CatalogError, Storage | Catalog | Remotes | Progress | HttpClient.HttpClient>
export function verify(
  options?: VerifyOptions & { readonly repair?: false }
): Effect.Effect<VerifyReport, CatalogError, Storage | Catalog | Progress>
export function verify(
  options: VerifyOptions = {}
): Effect.Effect<VerifyReport, CatalogError, Storage | Catalog | Remotes | Progress | HttpClient.HttpClient> {
  return Effect.gen(function* () {
    const stores = yield* resolveStores(options.stores)
    const catalog = yield* Catalog
    const { due, unchecked } = yield* select(catalog, stores, options)
    // the total up front, so a display counts "3/20 copies", not the ones started so far
    yield* (yield* Progress).emit({
      _tag: "BatchProgress",
      done: 0,
      cached: 0,
      failed: 0,
      total: due.length,
      active: 0,
      bytesDone: 0,
      bytesPerSecond: 0,
      elapsedMs: 0,
      final: false,
      aborted: false
    })
    const results = yield* Effect.forEach(due, (item) => verifyOne(item, stores, options), {
      concurrency: Math.max(1, options.concurrency ?? 4)
    })
    return {
      checked: results.filter(isVerdict),
      unchecked: [...unchecked, ...results.filter((r): r is UncheckedLocation => !isVerdict(r))]
    }
  })
}
