/**
 * The distributed batch as a layer: under it, plugin code calls the same `fetchMany` of @cargohold/core and
 * every request is sent to the cluster's runners (see batch.ts). The cluster client is built once, with the layer.
 */
import { BatchExecutor } from "@cargohold/core"
import { Effect, Layer, Stream } from "effect"
import type { ClusterError } from "../errors.js"
import { type ClusterBatchOptions, fetchManyOnCluster } from "./batch.js"
import { type ClientOptions, type ClusterClientServices, layerClusterClient } from "./layer.js"

/** Provides a `BatchExecutor` that runs every `fetchMany` under it on the cluster. */
export const layerClusterBatch = (options: ClientOptions & ClusterBatchOptions): Layer.Layer<BatchExecutor, ClusterError> =>
  Layer.effect(
    BatchExecutor,
    Effect.map(Effect.context<ClusterClientServices>(), (cluster) => ({
      fetchMany: (requests, batchOptions) =>
        fetchManyOnCluster(requests, batchOptions, options).pipe(Stream.provideSomeContext(cluster))
    }))
  ).pipe(Layer.provide(layerClusterClient(options)))
