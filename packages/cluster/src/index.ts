/**
 * @cargohold/cluster — one batch spread over several runners on @effect/cluster: a download entity sharded by
 * sha256, message and runner storage in the cluster's PostgreSQL database, shard locks as advisory locks.
 *
 * - `layerRunner`: a runner process (joins, serves downloads on its own Node services).
 * - `layerClusterBatch`: under it, `fetchMany` of @cargohold/core runs on the runners.
 * - `fetchManyOnCluster` / `layerClusterClient`: the same without the layer; `readStatus`: runners, shards, counters.
 */
export { type HostPort, parseHostPort, shardingTimings, shardsPerGroup, tablePrefix } from "./config.js"
export { DownloadEntity, DownloadRpc } from "./entity.js"
export { ClusterError } from "./errors.js"
export { type ClusterBatchOptions, fetchManyOnCluster } from "./client/batch.js"
export { layerClusterBatch } from "./client/executor.js"
export { type ClientOptions, type ClusterClientServices, layerClusterClient } from "./client/layer.js"
export { hostKey, makePgHostSlots, type PgHostSlots, type PgHostSlotsOptions } from "./limits/hostSlots.js"
export { type ClusterLimitOptions, layerClusterLimits } from "./limits/layer.js"
export { layerRunner, type RunnerOptions } from "./runner/layer.js"
export { checkClusterUrl, describeClusterUrl, layerClusterSql } from "./sql.js"
export { aliveWithinMs, type BatchStatus, type ClusterStatus, readStatus, type RunnerStatus } from "./status/read.js"
export { entityIdFor, toWire, WireRequest } from "./wire.js"
