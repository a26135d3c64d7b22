/**
 * How a batch spreads over the runners (packages/cluster/src/client/spread.ts): each artifact goes to whichever of
 * its candidate entities lives on the runner sent the fewest of the batch so far. Checked against a balanced
 * cluster (300 shards, each of four runners 75) with a hash of our own standing in for the library's shard
 * function: the busiest runner gets within a request or two of a quarter of the batch, where one entity per
 * sha256 leaves it to chance.
 */
import { createHash } from "node:crypto"
import * as EntityId from "@effect/cluster/EntityId"
import * as ShardId from "@effect/cluster/ShardId"
import { describe, expect, it } from "vitest"
import { makeSpread } from "../../packages/cluster/src/client/spread.js"
import { entityIdFor } from "../../packages/cluster/src/wire.js"

const shards = 300
const runners = 4
const shardOf = (entityId: EntityId.EntityId, group: string) =>
  ShardId.make(group, (createHash("sha256").update(entityId).digest().readUInt32BE(0) % shards) + 1)
// a balanced assignment: shard n to runner n mod 4, 75 each
const runnerOf = (shard: ShardId.ShardId) => shard.id % runners
const owners = new Map(Array.from({ length: shards }, (_, i) => [i + 1, `r${(i + 1) % runners}`] as const))

const requests = (count: number, seed: string) =>
  Array.from({ length: count }, (_, i) => ({
    url: `http://upstream.test/${i}.bin`,
    digests: { sha256: createHash("sha256").update(`${seed} ${i}`).digest("hex") }
  }))

const perRunner = (ids: ReadonlyArray<string>) => {
  const counts = Array.from({ length: runners }, () => 0)
  for (const id of ids) counts[runnerOf(shardOf(EntityId.make(id), "default"))]! += 1
  return counts
}

describe("spreading a batch over the runners", () => {
  it("gives the busiest of four runners close to a quarter of the batch, in batches small and large", () => {
    for (const [count, seed] of [
      [256, "a"],
      [256, "b"],
      [1000, "c"],
      [64, "d"]
    ] as const) {
      const batch = requests(count, seed)
      const spread = makeSpread({ getShardId: shardOf }, owners)
      const spreadCounts = perRunner(batch.map((r) => spread(r)))
      const plainCounts = perRunner(batch.map((r) => entityIdFor(r)))
      expect(spreadCounts.reduce((a, b) => a + b, 0)).toBe(count)
      // within two of the even share; one entity per sha256 is further off
      expect(Math.max(...spreadCounts)).toBeLessThanOrEqual(Math.ceil(count / runners) + 2)
      expect(Math.max(...plainCounts)).toBeGreaterThan(Math.ceil(count / runners) + 2)
    }
  })

  it("sends an artifact listed twice in a batch to the same entity, one of its candidates", () => {
    const [one, two] = requests(2, "e")
    const spread = makeSpread({ getShardId: shardOf }, owners)
    const first = spread(one!)
    spread(two!)
    expect(spread({ ...one!, url: "http://mirror.test/other.bin" })).toBe(first)
    expect([entityIdFor(one!), `${entityIdFor(one!)}~1`, `${entityIdFor(one!)}~2`]).toContain(first)
  })

  it("with no runner known (none alive yet), sends each artifact to its plain entity", () => {
    const spread = makeSpread({ getShardId: shardOf }, new Map())
    for (const request of requests(20, "f")) expect(spread(request)).toBe(entityIdFor(request))
  })
})
