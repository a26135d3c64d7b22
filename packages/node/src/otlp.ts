/**
 * OpenTelemetry export: `layerOtlp` switches cargohold's spans and metrics on (core's `Telemetry`) and sends them
 * to an OTLP/HTTP receiver as JSON (`POST {endpoint}/v1/traces`, `{endpoint}/v1/metrics`), with
 * @effect/opentelemetry's own exporters: no OpenTelemetry SDK is loaded. Its requests go through this process's
 * shared HTTP pools. A receiver that is down costs nothing but a skipped export (the exporter pauses a minute).
 * Imported on its own (`@cargohold/node/otlp`) so that a program or the CLI without telemetry never loads it.
 */
import * as OtlpMetrics from "@effect/opentelemetry/OtlpMetrics"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { Telemetry, telemetryOn } from "@cargohold/core"
import { Duration, Layer } from "effect"
import { layerHttp } from "./http/index.js"

export interface OtlpOptions {
  /** The receiver's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT names it (e.g. `http://127.0.0.1:4318`). */
  readonly endpoint: string
  /** `service.name` of the resource (default `$OTEL_SERVICE_NAME`, else `cargohold`). */
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** How often spans and metrics are sent (default 5 s; everything left is sent when the layer closes). */
  readonly exportInterval?: Duration.DurationInput | undefined
  /** Extra request headers (e.g. an API key of a hosted receiver). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** The endpoint the standard variable names, if any (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
export const otlpEndpointFromEnv = (env: Readonly<Record<string, string | undefined>> = process.env): string | undefined => {
  const value = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  return value === undefined || value === "" ? undefined : value
}

const signalUrl = (endpoint: string, path: string) => `${endpoint.replace(/\/+$/, "")}${path}`

/** Spans and metrics on, exported to `options.endpoint` over OTLP/HTTP (JSON). */
export const layerOtlp = (options: OtlpOptions): Layer.Layer<never> => {
  const resource = {
    serviceName: options.serviceName ?? (process.env.OTEL_SERVICE_NAME || "cargohold"),
    ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {})
  }
  const exportInterval = options.exportInterval ?? Duration.seconds(5)
  const headers = options.headers ?? {}
  return Layer.mergeAll(
    OtlpTracer.layer({ url: signalUrl(options.endpoint, "/v1/traces"), resource, exportInterval, headers }),
    OtlpMetrics.layer({ url: signalUrl(options.endpoint, "/v1/metrics"), resource, exportInterval, headers }),
    Layer.succeed(Telemetry, telemetryOn)
  ).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(layerHttp()))
}
