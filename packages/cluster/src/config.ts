/**
 * How cargohold uses @effect/cluster: its tables' prefix in the shared PostgreSQL database, the shard count, and
 * timings short enough that a dead runner's shards move within seconds (the library's defaults wait 35 s for a
 * heartbeat to expire and ping runners once a minute).
 */
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import { Duration } from "effect"

/** Prefix of the cluster's tables (`cargohold_cluster_messages`, `…_replies`, `…_runners`, `…_stats`). */
export const tablePrefix = "cargohold_cluster"

/** Shards of the one shard group; every runner and client of a cluster must agree on it. */
export const shardsPerGroup = 300

/** A runner's host and port (runner-to-runner traffic). */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/** Parses `HOST:PORT` (`[v6]:PORT` too); undefined when malformed. */
export const parseHostPort = (text: string): HostPort | undefined => {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim())
  if (match === null) return undefined
  const port = Number(match[3])
  if (!(port > 0 && port < 65536)) return undefined
  return { host: match[1] ?? match[2]!, port }
}

/**
 * Sharding timings of cargohold's cluster. A kill -9 closes the runner's database connection, which frees its shard
 * advisory locks at once; its shards move when the health check's pings fail (≈ 5 s), so failover does not wait
 * for the lock expiry below.
 *
 * The refresh interval is also the deadline of every shard-lock statement (@effect/cluster takes the smaller of it
 * and a third of the expiry). A statement past it is cancelled and the lock connection rebuilt, which gives back
 * every shard the runner holds and interrupts every download running on it. At 2 s (with a 10 s expiry) a loaded
 * machine crossed that deadline now and then: whole runners lost their shards mid-batch, downloads ran twice
 * (`cached: true`) and PostgreSQL logged unlocks of locks no longer held. 5 s (20 s expiry) keeps a slow round
 * trip a slow round trip.
 */
export const shardingTimings: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardsPerGroup,
  shardLockRefreshInterval: Duration.seconds(5),
  shardLockExpiration: Duration.seconds(20),
  refreshAssignmentsInterval: Duration.seconds(1),
  runnerHealthCheckInterval: Duration.seconds(3),
  entityMessagePollInterval: Duration.seconds(2),
  entityReplyPollInterval: Duration.millis(200),
  sendRetryInterval: Duration.millis(100),
  // a download entity lives as long as its artifact is being fetched, then goes
  entityMaxIdleTime: Duration.seconds(15),
  entityTerminationTimeout: Duration.seconds(10),
  entityRegistrationTimeout: Duration.seconds(30)
}
