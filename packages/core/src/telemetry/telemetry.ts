/**
 * Telemetry: spans and metrics of downloads, off unless a layer switches them on (`@cargohold/node`'s
 * `layerOtlp` does, with an OTLP/HTTP exporter). Off, each instrumented step costs one read of the `Telemetry`
 * reference and nothing else: no span is made, no metric is touched.
 *
 * Spans: `cargohold.download` (url, sha256, outcome), `cargohold.attempt` (url, attempt), `cargohold.commit`
 * (sha256, size), `cargohold.catalog.record` (sha256). Metrics (names as exported):
 * - `cargohold.download.bytes` — body bytes of downloads stored (counter)
 * - `cargohold.artifacts` — finished downloads by `outcome` (downloaded, cached, failed) and `error_tag` (counter)
 * - `cargohold.download.duration` — seconds per finished download, by `outcome` (histogram)
 * - `cargohold.retries` — retries by `error_tag` (counter)
 * - `cargohold.host.concurrency` — connections a host may use now, by `host` (gauge)
 * - `cargohold.host.backoffs` — 429/503 answers that shrank a host, by `host` and `status` (counter)
 */
import { Context, Effect, Metric, MetricBoundaries } from "effect"

export interface TelemetryService {
  readonly enabled: boolean
}

/** Whether spans and metrics are recorded (default: no). */
export class Telemetry extends Context.Reference<Telemetry>()("@cargohold/core/Telemetry", {
  defaultValue: (): TelemetryService => ({ enabled: false })
}) {}

export const telemetryOn: TelemetryService = { enabled: true }

const bytes = Metric.counter("cargohold.download.bytes", {
  description: "body bytes of downloads stored",
  incremental: true
})
const artifacts = Metric.counter("cargohold.artifacts", {
  description: "finished downloads by outcome and error tag",
  incremental: true
})
const duration = Metric.histogram(
  "cargohold.download.duration",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 18 }),
  "seconds per finished download"
)
const retries = Metric.counter("cargohold.retries", { description: "retries by error tag", incremental: true })
const hostConcurrency = Metric.gauge("cargohold.host.concurrency", {
  description: "connections a host may use now"
})
const hostBackoffs = Metric.counter("cargohold.host.backoffs", {
  description: "429/503 answers that shrank a host's connections",
  incremental: true
})

/** Runs `f` only when telemetry is on. */
const whenOn = (f: () => Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(Telemetry, (t) => (t.enabled ? f() : Effect.void))

/** `effect` in a span named `name` when telemetry is on; `effect` itself otherwise. */
export const traced =
  (name: string, attributes?: Readonly<Record<string, unknown>>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Telemetry, (t) => (t.enabled ? Effect.withSpan(effect, name, { attributes }) : effect))

/** Adds attributes to the current span (when telemetry is on and there is one). */
export const annotate = (attributes: Readonly<Record<string, unknown>>): Effect.Effect<void> =>
  whenOn(() => Effect.annotateCurrentSpan(attributes))

/** A download finished: its outcome, bytes and duration. */
export const recordOutcome = (
  outcome: "downloaded" | "cached" | "failed",
  seconds: number,
  size: number,
  errorTag?: string
): Effect.Effect<void> =>
  whenOn(() =>
    Effect.all(
      [
        Metric.increment(Metric.tagged(Metric.tagged(artifacts, "outcome", outcome), "error_tag", errorTag ?? "none")),
        Metric.update(Metric.tagged(duration, "outcome", outcome), seconds),
        outcome === "downloaded" ? Metric.incrementBy(bytes, size) : Effect.void,
        Effect.annotateCurrentSpan({ "cargohold.outcome": outcome, ...(errorTag ? { "cargohold.error_tag": errorTag } : {}) })
      ],
      { discard: true }
    )
  )

/** A retry is about to happen. */
export const recordRetry = (errorTag: string): Effect.Effect<void> =>
  whenOn(() => Metric.increment(Metric.tagged(retries, "error_tag", errorTag)))

/** A host's connection limit is now `concurrency` (after a backoff when `status` is given). */
export const recordHost = (host: string, concurrency: number, status?: number): Effect.Effect<void> =>
  whenOn(() =>
    Effect.zipRight(
      Metric.set(Metric.tagged(hostConcurrency, "host", host), concurrency),
      status === undefined
        ? Effect.void
        : Metric.increment(Metric.tagged(Metric.tagged(hostBackoffs, "host", host), "status", String(status)))
    )
  )
