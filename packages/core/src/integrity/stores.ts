/**
 * The stores an integrity operation can reach: the `Storage` service plus any others the caller passes
 * (e.g. an S3 replica), by id.
 */
import { Effect } from "effect"
import type { LocationRow } from "../catalog/schema.js"
import { Storage, type StorageService } from "../storage/Storage.js"

export type Stores = ReadonlyMap<string, StorageService>

export const resolveStores = (extra: ReadonlyArray<StorageService> = []): Effect.Effect<Stores, never, Storage> =>
  Effect.map(Storage, (primary) => {
    const stores = new Map<string, StorageService>([[primary.id, primary]])
    for (const store of extra) if (!stores.has(store.id)) stores.set(store.id, store)
    return stores
  })

/** Healthy (`ok`) locations that can be read here, the primary store first, then in the order given. */
export const readableLocations = (
  locations: ReadonlyArray<LocationRow>,
  stores: Stores,
  except?: string
): ReadonlyArray<{ readonly row: LocationRow; readonly storage: StorageService }> => {
  const order = [...stores.keys()]
  return locations
    .filter((l) => l.state === "ok" && l.store !== except && stores.has(l.store))
    .sort((a, b) => order.indexOf(a.store) - order.indexOf(b.store))
    .map((row) => ({ row, storage: stores.get(row.store)! }))
}

/**
 * A view of `storage` whose commit replaces what is stored under the sha256 (a corrupt copy) instead of keeping it.
 * The bytes are fully written and verified first; the backend then swaps them in atomically (`replace`: a rename
 * over the old file, an S3 PUT / copy over the old object), so there is never a moment without a copy.
 */
export const replacing = (storage: StorageService): StorageService => ({
  id: storage.id,
  keyFor: (sha256) => storage.keyFor(sha256),
  stat: (sha256) => storage.stat(sha256),
  read: (sha256) => storage.read(sha256),
  remove: (sha256) => storage.remove(sha256),
  localPath: (sha256) => storage.localPath(sha256),
  begin: Effect.map(storage.begin, (temp) => ({
    write: (chunks) => temp.write(chunks),
    append: temp.append,
    reset: temp.reset,
    written: () => temp.written(),
    commit: (sha256, size) => temp.commit(sha256, size, { replace: true })
  }))
})
