/**
 * `cargohold runner --cluster URL [--listen HOST:PORT] …`: a process that joins the cluster and downloads for it
 * until interrupted (SIGINT/SIGTERM hand its shards back). `cargohold cluster status [--json]`: runners, shards,
 * what each has done, the recent batches.
 */
import { Command, Options } from "@effect/cli"
import type { ClusterStatus } from "@cargohold/cluster"
import { defaultLimits } from "@cargohold/core"
import { Effect, Layer, Option } from "effect"
import { UsageError } from "../errors.js"
import { cluster, loadCluster, requireClusterUrl } from "../options/cluster.js"
import { fileRoot, json, location } from "../options/common.js"
import { anyNetworkFlag, makeRemote, networkFields, networkOptions } from "../options/network.js"
import { printErr, printJson, printOut, table } from "../output.js"
import { formatBytes } from "../progress/format.js"
import { layerS3Store } from "../env.js"

const count = (name: string, description: string) =>
  Options.integer(name).pipe(Options.withPseudoName("N"), Options.withDescription(description), Options.optional)

const hostPort = (name: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName("HOST:PORT"), Options.withDescription(description), Options.optional)

export const runnerOptions = {
  cluster,
  listen: hostPort("listen", "HOST:PORT this runner listens on for the other runners (default 127.0.0.1:34431)"),
  advertise: hostPort("advertise", "HOST:PORT the other runners reach it at (default: --listen)"),
  maxConnections: count("max-connections", `downloads and connections at once on this runner (default ${defaultLimits.global})`),
  perHost: count("per-host", `connections per host, for the whole cluster unless --host-budget runner (default ${defaultLimits.perHost}; the same on every runner)`),
  hostBudget: Options.choice("host-budget", ["cluster", "runner"]).pipe(
    Options.withDescription("cluster: a host's --per-host budget is shared by all runners (PostgreSQL advisory-lock slots); runner: each its own"),
    Options.withDefault("cluster" as const)
  ),
  retries: count("retries", "retries after the first attempt (default 3)"),
  fileRoot: fileRoot("file:// URLs sent to this runner"),
  ...location,
  ...networkOptions
}

const parseAddress = (flag: string, value: Option.Option<string>, fallback: string) =>
  Effect.flatMap(loadCluster, ({ parseHostPort }) => {
    const text = Option.getOrElse(value, () => fallback)
    const parsed = parseHostPort(text)
    return parsed === undefined ? Effect.fail(new UsageError({ message: `${flag} must be HOST:PORT, got '${text}'` })) : Effect.succeed(parsed)
  })

const atLeastOne = (flag: string, value: Option.Option<number>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (n) => (n >= 1 ? Effect.succeed(n) : Effect.fail(new UsageError({ message: `${flag} must be at least 1` })))
  })

export const runnerCommand = Command.make("runner", runnerOptions, (flags) =>
  Effect.gen(function* () {
    const url = yield* requireClusterUrl(flags.cluster)
    const listen = yield* parseAddress("--listen", flags.listen, "127.0.0.1:34431")
    const advertise = Option.isSome(flags.advertise) ? yield* parseAddress("--advertise", flags.advertise, "") : undefined
    const global = (yield* atLeastOne("--max-connections", flags.maxConnections)) ?? defaultLimits.global
    const perHost = Math.min((yield* atLeastOne("--per-host", flags.perHost)) ?? defaultLimits.perHost, global)
    const retries = Option.getOrUndefined(flags.retries)
    if (retries !== undefined && retries < 0) return yield* Effect.fail(new UsageError({ message: "--retries must be at least 0" }))
    const defaultRemote = anyNetworkFlag(flags)
      ? yield* Effect.flatMap(networkFields(flags), (fields) => makeRemote({ name: "runner", url: "http://localhost/", ...fields }))
      : undefined
    const { describeClusterUrl, layerRunner } = yield* loadCluster
    const layer = layerRunner({
      cluster: url,
      listen,
      advertise,
      concurrency: global,
      defaultRemote,
      hostBudget: flags.hostBudget,
      node: {
        home: Option.getOrUndefined(flags.home),
        ...(Option.isSome(flags.catalog) || process.env.CARGOHOLD_CATALOG ? { catalog: Option.getOrUndefined(flags.catalog) ?? process.env.CARGOHOLD_CATALOG } : {}),
        store: Option.getOrUndefined(flags.store) ?? (process.env.CARGOHOLD_STORE || undefined),
        storeSchemes: { "s3:": layerS3Store },
        limits: { global, perHost },
        fileRoots: flags.fileRoot,
        settings: retries === undefined ? undefined : { attempts: retries + 1 }
      }
    })
    const shown = `${(advertise ?? listen).host}:${(advertise ?? listen).port}`
    yield* Effect.scoped(
      Effect.gen(function* () {
        yield* Layer.build(layer).pipe(Effect.mapError((error) => new UsageError({ message: `runner: ${error.message}` })))
        yield* printErr(`cargohold runner ${shown} joined the cluster at ${describeClusterUrl(url)} (${global} at once, ${perHost} per host ${flags.hostBudget === "cluster" ? "cluster-wide" : "from this runner"})`)
        return yield* Effect.never
      })
    )
  })
).pipe(Command.withDescription("join a cluster (--cluster postgresql://…) and download for it until interrupted"))

const statusText = (status: ClusterStatus): string => {
  const lines: Array<string> = []
  if (status.runners.length === 0) lines.push("runners: none has joined this cluster")
  else {
    lines.push(`runners (${status.runners.filter((r) => r.state === "alive").length} alive, ${status.shards} shards):`)
    lines.push(
      table([
        ["address", "state", "host/pid", "shards", "active", "done", "cached", "failed", "bytes", "seen"],
        ...status.runners.map((r) => [
          r.address,
          r.state,
          `${r.hostname}/${r.pid}`,
          String(r.shards),
          `${r.active}/${r.concurrency}`,
          String(r.done),
          String(r.cached),
          String(r.failed),
          formatBytes(r.bytes),
          `${(r.lastSeenMs / 1000).toFixed(1)}s ago`
        ])
      ])
    )
  }
  if (status.batches.length > 0) {
    lines.push("batches (most recent first):")
    lines.push(
      table([
        ["batch", "from", "submitted", "state", "done", "failed", "total", "bytes"],
        ...status.batches.map((b) => [
          b.batch,
          b.origin,
          b.submittedAt,
          b.finished ? "finished" : "running",
          String(b.done),
          String(b.failed),
          b.total === undefined ? "?" : String(b.total),
          formatBytes(b.bytes)
        ])
      ])
    )
  }
  return lines.join("\n")
}

export const clusterStatus = Command.make("status", { cluster, json }, (flags) =>
  Effect.gen(function* () {
    const url = yield* requireClusterUrl(flags.cluster)
    const { layerClusterSql, readStatus } = yield* loadCluster
    const status = yield* readStatus().pipe(
      Effect.provide(layerClusterSql({ url, applicationName: "cargohold status", maxConnections: 2 })),
      Effect.mapError((error) => new UsageError({ message: error.message }))
    )
    yield* flags.json ? printJson(status) : printOut(statusText(status))
  })
).pipe(Command.withDescription("the cluster's runners, their shards and counters, and recent batches"))

export const clusterCommand = Command.make("cluster").pipe(
  Command.withDescription("inspect a cluster of runners"),
  Command.withSubcommands([clusterStatus])
)
