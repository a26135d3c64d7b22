/**
 * Repair of one bad stored copy: re-fetch from the artifact's sources in catalog order through the download
 * pipeline (verified against the expected sha256 and size, into a temporary object of the bad store), else copy
 * from a healthy copy in another reachable store. The bad copy is replaced only by verified bytes.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Cause, Effect, Exit, Option } from "effect"
import { Catalog } from "../catalog/Catalog.js"
import type { ByteSize, Sha256 } from "../domain/digest.js"
import { Hasher } from "../hash/Hasher.js"
import { download } from "../pipeline/download.js"
import type { Progress } from "../progress/Progress.js"
import type { Remotes } from "../remote/Remotes.js"
import { Storage, type StorageService } from "../storage/Storage.js"
import { copyVerified } from "./hashing.js"
import { readableLocations, replacing, type Stores } from "./stores.js"

export interface RepairResult {
  readonly repaired: boolean
  /** Where the good bytes came from, or why no source could supply them. */
  readonly detail: string
}

export const repairLocation = (
  sha256: Sha256,
  size: ByteSize,
  bad: StorageService,
  stores: Stores
): Effect.Effect<RepairResult, never, Catalog | Remotes | Progress | HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const catalog = yield* Catalog
    const hasher = yield* Hasher
    const target = replacing(bad)
    const failures: Array<string> = []
    const sources = yield* catalog.sourcesFor(sha256).pipe(
      Effect.catchAll((error) => Effect.as(Effect.sync(() => failures.push(error.message)), []))
    )
    for (const source of sources) {
      const exit = yield* download({ url: source.url, sha256, size }).pipe(
        Effect.provideService(Storage, target),
        Effect.exit
      )
      if (Exit.isSuccess(exit)) return { repaired: true, detail: `re-fetched from ${exit.value.finalUrl}` }
      const reason = Option.match(Cause.failureOption(exit.cause), {
        onNone: () => Cause.pretty(exit.cause).split("\n")[0] ?? "failed",
        onSome: (error) => error.message
      })
      failures.push(`${source.url}: ${reason}`)
    }
    const entry = yield* catalog.lookup(sha256).pipe(Effect.orElseSucceed(() => Option.none()))
    const replicas = Option.match(entry, { onNone: () => [], onSome: (e) => readableLocations(e.locations, stores, bad.id) })
    for (const { row, storage } of replicas) {
      const outcome = yield* Effect.either(copyVerified(storage, target, sha256, size, hasher))
      if (outcome._tag === "Left") {
        failures.push(`${row.store}: ${outcome.left.message}`)
        continue
      }
      if (outcome.right._tag === "SourceCorrupt") {
        failures.push(`${row.store}: ${outcome.right.reason}`)
        yield* Effect.ignore(catalog.setLocationState(sha256, row.store, "corrupt", new Date()))
        continue
      }
      yield* Effect.ignore(catalog.setLocationState(sha256, bad.id, "ok", new Date()))
      return { repaired: true, detail: `copied from ${row.store}` }
    }
    return {
      repaired: false,
      detail: `no source could supply it (${failures.length === 0 ? "no sources or other copies known" : failures.join("; ")})`
    }
  })
