/**
 * `--cluster postgresql://…` (env CARGOHOLD_CLUSTER): the cluster database of `runner`, `cluster status` and
 * `fetch --cluster`. @cargohold/cluster is loaded only by a command that uses it.
 */
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { UsageError } from "../errors.js"

export const cluster = Options.text("cluster").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription("cluster database postgresql://user@host:port/db (env CARGOHOLD_CLUSTER): run the batch on its runners"),
  Options.optional
)

/** The cluster URL of the flag or the environment, if any. */
export const clusterUrl = (flag: Option.Option<string>): string | undefined =>
  Option.getOrUndefined(flag) ?? (process.env.CARGOHOLD_CLUSTER !== "" ? process.env.CARGOHOLD_CLUSTER : undefined)

export const loadCluster = Effect.promise(() => import("@cargohold/cluster"))

/** The cluster URL, checked (exit 2 when missing or not a PostgreSQL URL). */
export const requireClusterUrl = (flag: Option.Option<string>): Effect.Effect<string, UsageError> =>
  Effect.gen(function* () {
    const url = clusterUrl(flag)
    if (url === undefined) return yield* Effect.fail(new UsageError({ message: "--cluster postgresql://… (or CARGOHOLD_CLUSTER) is required" }))
    const { checkClusterUrl } = yield* loadCluster
    return yield* checkClusterUrl(url).pipe(Effect.mapError((error) => new UsageError({ message: error.message })))
  })
