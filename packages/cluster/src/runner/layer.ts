/**
 * A runner: joins the cluster (registers in the runners table, takes its share of the shards as PostgreSQL
 * advisory locks, listens for runner-to-runner traffic) and serves the download entity on its own Node services.
 * Everything here is @effect/cluster's public API: SocketRunner over Node sockets, SQL message and runner
 * storage with cargohold's table prefix, ping health checks.
 */
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import type * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { layerNode, type NodeLayerError, type NodeLayerOptions } from "@cargohold/node"
import { defaultLimits, type Remote } from "@cargohold/core"
import { Effect, Layer, Option } from "effect"
import { type HostPort, shardingTimings } from "../config.js"
import { DownloadEntity } from "../entity.js"
import { ClusterError } from "../errors.js"
import { layerClusterLimits } from "../limits/layer.js"
import { makeProgressPublisher } from "../progress.js"
import { layerClusterSql } from "../sql.js"
import { describeError, layerClusterStorage } from "../storage.js"
import { ensureTables } from "../status/tables.js"
import { makeRunnerCounters } from "./counters.js"
import { makeRunnerWork, RunnerWork } from "./work.js"

export interface RunnerOptions {
  /** The cluster database: `postgresql://user@host:port/database`. */
  readonly cluster: string
  /** Where this runner listens for other runners. */
  readonly listen: HostPort
  /** The address other runners reach it at (default: `listen`). */
  readonly advertise?: HostPort | undefined
  /** Downloads running at once on this runner (default 32). */
  readonly concurrency?: number | undefined
  /** The runner's catalog, store, limits and settings (the catalog defaults to the cluster database). */
  readonly node?: NodeLayerOptions | undefined
  /** The remote of requests that name none, if any. */
  readonly defaultRemote?: Remote | undefined
  /** Overrides of cargohold's sharding timings (tests). */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /**
   * Where a host's `node.limits.perHost` budget holds: `cluster` (default: shared by every runner through PostgreSQL
   * advisory-lock slots, see limits/hostSlots.ts) or `runner` (each runner on its own).
   */
  readonly hostBudget?: "cluster" | "runner" | undefined
}

const clusterFailure = (operation: string) => (error: unknown) =>
  error instanceof ClusterError
    ? error
    : new ClusterError({ operation, reason: describeError(error) })

/** The sharding of a runner, on the cluster database `sql` provides. */
const layerSharding = (config: ShardingConfig.ShardingConfig["Type"]) => {
  const serialization = RpcSerialization.layerMsgPack
  const health = RunnerHealth.layerPing.pipe(
    Layer.provide(Runners.layerRpc),
    Layer.provide(NodeClusterSocket.layerClientProtocol)
  )
  return SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(health),
    Layer.provideMerge(layerClusterStorage),
    Layer.provide(serialization),
    Layer.provide(ShardingConfig.layer(config))
  )
}

/**
 * The runner as a layer: built, it has joined the cluster and serves downloads until its scope closes (then it
 * hands its shards back). Fails with a ClusterError (database, listen address) or the Node layer's errors.
 */
export const layerRunner = (
  options: RunnerOptions
): Layer.Layer<Sharding.Sharding | MessageStorage.MessageStorage, ClusterError | NodeLayerError> => {
  const advertise = options.advertise ?? options.listen
  const address = `${advertise.host}:${advertise.port}`
  const concurrency = Math.max(1, options.concurrency ?? 32)
  const config: ShardingConfig.ShardingConfig["Type"] = {
    ...ShardingConfig.defaults,
    ...shardingTimings,
    ...options.sharding,
    runnerAddress: Option.some(RunnerAddress.make(advertise.host, advertise.port)),
    runnerListenAddress: Option.some(RunnerAddress.make(options.listen.host, options.listen.port))
  }
  // 8, not the client's 16: with the catalog's own pool (10) a runner stays under 20 connections, so a handful of
  // runners fit a PostgreSQL left at its default max_connections (100); four at 16 exhausted it mid-batch
  const sql = layerClusterSql({ url: options.cluster, applicationName: `cargohold runner ${address}`, maxConnections: 8 })
  const node = layerNode({ catalog: options.cluster, ...options.node })
  const limits = options.node?.limits ?? defaultLimits
  // merged last, so these limits are the ones the downloads see
  const nodeServices =
    options.hostBudget === "runner" ? node : Layer.merge(node, layerClusterLimits({ global: limits.global, perHost: limits.perHost }))

  const work = Layer.scoped(
    RunnerWork,
    Effect.gen(function* () {
      yield* ensureTables.pipe(Effect.mapError(clusterFailure("create the stats tables")))
      const counters = yield* makeRunnerCounters({ address, concurrency })
      const publisher = yield* makeProgressPublisher()
      return yield* makeRunnerWork({ concurrency, defaultRemote: options.defaultRemote }, counters, publisher)
    })
  )
  const entity = DownloadEntity.toLayer(
    Effect.map(RunnerWork, (work) => DownloadEntity.of({ Download: (envelope) => work.run(envelope.payload) })),
    { concurrency: 1, maxIdleTime: config.entityMaxIdleTime }
  )
  const sharding = layerSharding(config).pipe(
    Layer.mapError(clusterFailure(`listen on ${options.listen.host}:${options.listen.port}`))
  )
  return entity.pipe(
    Layer.provide(work),
    Layer.provide(nodeServices),
    Layer.provideMerge(sharding),
    Layer.provide(sql)
  )
}
