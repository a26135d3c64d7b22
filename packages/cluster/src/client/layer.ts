/**
 * A client of the cluster: it sends messages to entities (persisted first in the message table) and reads their
 * replies, but holds no shards and serves nothing (@effect/cluster's client-only mode).
 */
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import type * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as PgClient from "@effect/sql-pg/PgClient"
import { Layer, Option } from "effect"
import { shardingTimings } from "../config.js"
import type { ClusterError } from "../errors.js"
import { layerClusterSql } from "../sql.js"
import { layerClusterStorage } from "../storage.js"

export interface ClientOptions {
  /** The cluster database: `postgresql://user@host:port/database`. */
  readonly cluster: string
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

export type ClusterClientServices = Sharding.Sharding | MessageStorage.MessageStorage | PgClient.PgClient | SqlClient.SqlClient

/** Sharding in client-only mode on the cluster database, and that database's client. */
export const layerClusterClient = (options: ClientOptions): Layer.Layer<ClusterClientServices, ClusterError> => {
  const config: ShardingConfig.ShardingConfig["Type"] = {
    ...ShardingConfig.defaults,
    ...shardingTimings,
    ...options.sharding,
    runnerAddress: Option.none(),
    runnerListenAddress: Option.none()
  }
  return SocketRunner.layerClientOnly.pipe(
    Layer.provide(NodeClusterSocket.layerClientProtocol),
    Layer.provideMerge(layerClusterStorage),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.provide(ShardingConfig.layer(config)),
    // 8 connections: a batch's messages queue for them (see sql.ts) rather than taking PostgreSQL's last free
    // connections from the runners (which then fail with "too many clients")
    Layer.provideMerge(layerClusterSql({ url: options.cluster, applicationName: "cargohold client", maxConnections: 8 }))
  )
}
