/**
 * Which download entity a request of a batch goes to, so that a batch spreads evenly over the runners.
 *
 * An entity's shard is a hash of its id, and each runner holds an equal share of the shards; with one entity per
 * sha256, how many artifacts a runner gets is a draw: 256 artifacts over 4 runners give the busiest ≈ 72 on
 * average, 78 in one batch in ten, and the batch waits for it (at best 3.55× one runner on average, 3.28× in one
 * batch in ten). So each artifact has three candidate entities, `sha256:HEX`, `sha256:HEX~1` and `sha256:HEX~2`,
 * and a batch sends it to the candidate whose runner has been sent the fewest of the batch's requests so far ("the
 * power of d choices"): the runners get within a request or two of an even share. Which runner holds which shard
 * is what each runner writes beside its counters (`shard_ids`), read when the batch starts; with no runner known
 * (none alive yet) every artifact goes to its first candidate.
 *
 * What it costs: an artifact a batch lists twice goes to one entity (the choice is remembered), but a second
 * batch asking for an artifact the first is still downloading may pick another candidate and fetch it a second
 * time at once (stored once all the same: the store is content-addressed, the catalog upserts). Done artifacts
 * are found in the catalog by any candidate.
 */
import type { BatchRequest } from "@cargohold/core"
import * as EntityId from "@effect/cluster/EntityId"
import type * as Sharding from "@effect/cluster/Sharding"
import { DownloadEntity } from "../entity.js"
import { entityIdFor } from "../wire.js"

/** Candidates per artifact: with 4 runners, all three on one runner happens for 1 artifact in 16. */
const candidates = 3

/** The candidate entity ids of an artifact, its plain one first. */
export const candidatesOf = (request: BatchRequest): ReadonlyArray<string> => {
  const base = entityIdFor(request)
  return Array.from({ length: candidates }, (_, i) => (i === 0 ? base : `${base}~${i}`))
}

/**
 * A chooser for one batch: the entity of each of its requests, in the order they are sent. `owners` maps a shard
 * number of the default group to the runner holding it.
 */
export const makeSpread = (
  sharding: Pick<Sharding.Sharding["Type"], "getShardId">,
  owners: ReadonlyMap<number, string>
): ((request: BatchRequest) => string) => {
  const perRunner = new Map<string, number>()
  const chosen = new Map<string, string>()
  const ownerOf = (id: string): string | undefined => {
    const entityId = EntityId.make(id)
    return owners.get(sharding.getShardId(entityId, DownloadEntity.getShardGroup(entityId)).id)
  }
  return (request) => {
    const all = candidatesOf(request)
    const base = all[0]!
    const known = chosen.get(base)
    if (known !== undefined) return known
    let best = base
    let bestRunner = ownerOf(base)
    if (owners.size > 0) {
      let bestLoad = bestRunner === undefined ? Number.POSITIVE_INFINITY : (perRunner.get(bestRunner) ?? 0)
      for (const id of all.slice(1)) {
        const runner = ownerOf(id)
        const load = runner === undefined ? Number.POSITIVE_INFINITY : (perRunner.get(runner) ?? 0)
        if (load < bestLoad) {
          best = id
          bestRunner = runner
          bestLoad = load
        }
      }
    }
    if (bestRunner !== undefined) perRunner.set(bestRunner, (perRunner.get(bestRunner) ?? 0) + 1)
    chosen.set(base, best)
    return best
  }
}
