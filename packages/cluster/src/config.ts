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

/** Sharding timings of cargohold's cluster: failover within ≈ 10 s of a kill -9. */
export const shardingTimings: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardsPerGroup,
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(10),
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
