/**
 * `fetch --cluster URL`: the same batch, run by the cluster's runners. The command line stays the same (the same
 * `--json` lines, summary and exit codes): only where the downloads happen changes, through the `BatchExecutor`
 * of @cargohold/cluster. What the runners decide (connections, retries, network settings) is refused here with a
 * usage error that says where it belongs.
 */
import { Effect, Layer, Option } from "effect"
import { UsageError } from "../errors.js"
import { loadCluster } from "../options/cluster.js"
import type { LocationFlags } from "../env.js"

export interface RunnerSideFlags {
  readonly maxConnections: Option.Option<number>
  readonly perHost: Option.Option<number>
  readonly retries: Option.Option<number>
  readonly fileRoot: ReadonlyArray<string>
}

/** Fails when a flag that only runners can honour was given with `--cluster`. */
export const rejectRunnerSideFlags = (flags: RunnerSideFlags, networkFlags: boolean): Effect.Effect<void, UsageError> => {
  const given = [
    Option.isSome(flags.maxConnections) ? "--max-connections" : undefined,
    Option.isSome(flags.perHost) ? "--per-host" : undefined,
    Option.isSome(flags.retries) ? "--retries" : undefined,
    flags.fileRoot.length > 0 ? "--file-root" : undefined,
    networkFlags ? "network flags" : undefined
  ].filter((flag) => flag !== undefined)
  return given.length === 0
    ? Effect.void
    : Effect.fail(
        new UsageError({
          message: `with --cluster, ${given.join(", ")} belong to the runners (cargohold runner …) or to a remote of the shared catalog (--remote NAME)`
        })
      )
}

/**
 * Where the submitting process looks things up: the catalog of the cluster database unless `--catalog` says
 * otherwise (for `--remote`), and no store of its own unless `--store` names the shared one (it stores nothing;
 * a local view of the shared store only makes the printed paths local).
 */
export const submitterLocation = (flags: LocationFlags, url: string): LocationFlags => ({
  home: flags.home,
  catalog: Option.isSome(flags.catalog) ? flags.catalog : Option.some(process.env.CARGOHOLD_CATALOG || url),
  store: Option.isSome(flags.store) ? flags.store : Option.some("memory:")
})

/** Runs `effect` with every `fetchMany` in it sent to the cluster at `url`. */
export const onCluster =
  (url: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | UsageError, R> =>
    Effect.flatMap(loadCluster, ({ layerClusterBatch }) =>
      Effect.scoped(
        Effect.flatMap(
          Layer.build(layerClusterBatch({ cluster: url })).pipe(
            Effect.mapError((error) => new UsageError({ message: `configuration: ${error.message}` }))
          ),
          (context) => Effect.provide(effect, context)
        )
      )
    )
