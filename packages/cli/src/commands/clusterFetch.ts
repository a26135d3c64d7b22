/**
 * `fetch --cluster URL`: the same batch, run by the cluster's runners. The command line stays the same (the same
 * `--json` lines, summary and exit codes): only where the downloads happen changes, through the `BatchExecutor`
 * of @cargohold/cluster. What the runners decide (connections, retries, network settings) is refused here with a
 * usage error that says where it belongs.
 */
import { Effect, Layer, Option, Schedule } from "effect"
import { UsageError } from "../errors.js"
import { loadCluster } from "../options/cluster.js"
import type { LocationFlags } from "../env.js"
import { printErr } from "../output.js"

export interface RunnerSideFlags {
  readonly maxConnections: Option.Option<number>
  readonly perHost: Option.Option<number>
  readonly retries: Option.Option<number>
  readonly segments: Option.Option<number>
  readonly segmentBelowRate: Option.Option<string>
  readonly maxSize: Option.Option<string>
  readonly fileRoot: ReadonlyArray<string>
}

/** Fails when a flag that only runners can honour was given with `--cluster`. */
export const rejectRunnerSideFlags = (flags: RunnerSideFlags, networkFlags: boolean): Effect.Effect<void, UsageError> => {
  const given = [
    Option.isSome(flags.maxConnections) ? "--max-connections" : undefined,
    Option.isSome(flags.perHost) ? "--per-host" : undefined,
    Option.isSome(flags.retries) ? "--retries" : undefined,
    Option.isSome(flags.segments) ? "--segments" : undefined,
    Option.isSome(flags.segmentBelowRate) ? "--segment-below-rate" : undefined,
    Option.isSome(flags.maxSize) ? "--max-size" : undefined,
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

/**
 * Says on stderr when no runner of the cluster is alive (the batch's messages wait in the cluster's table until
 * one joins, so the command would otherwise sit silent), and again once one is. Checked every 3 s on a
 * connection of its own; a failed check says nothing (the batch itself reports a database that is gone).
 */
const watchRunners = (url: string): Effect.Effect<void> =>
  Effect.flatMap(loadCluster, ({ describeClusterUrl, layerClusterSql, readStatus }) => {
    let waiting = false
    const check = Effect.flatMap(readStatus({ batches: 0 }), (status) => {
      const alive = status.runners.filter((runner) => runner.state === "alive").length
      if (alive === 0 && !waiting) {
        waiting = true
        return printErr(`no runner of the cluster at ${describeClusterUrl(url)} is alive: the batch waits until one joins (cargohold runner --cluster …)`)
      }
      if (alive > 0 && waiting) {
        waiting = false
        return printErr(`${alive} runner${alive === 1 ? "" : "s"} of the cluster alive: the batch goes on`)
      }
      return Effect.void
    })
    return Effect.ignore(check).pipe(
      Effect.repeat(Schedule.spaced("3 seconds")),
      Effect.asVoid,
      Effect.provide(layerClusterSql({ url, applicationName: "cargohold fetch (runners)", maxConnections: 1 })),
      Effect.ignore
    )
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
          (context) => Effect.zipRight(Effect.forkScoped(watchRunners(url)), Effect.provide(effect, context))
        )
      )
    )
