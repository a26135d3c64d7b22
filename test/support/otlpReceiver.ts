/**
 * A small OTLP/HTTP receiver for tests: a Node server on loopback that takes `POST /v1/traces` and
 * `POST /v1/metrics` with JSON bodies (the OTLP/HTTP JSON encoding) and keeps the span and metric records it
 * decodes. Anything else is answered 404 and counted.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface ReceivedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Readonly<Record<string, unknown>>
  readonly serviceName: unknown
}

export interface ReceivedMetric {
  readonly name: string
  /** The data points' attributes, one record per point. */
  readonly points: ReadonlyArray<{ readonly attributes: Readonly<Record<string, unknown>>; readonly value: unknown }>
}

export interface OtlpReceiver {
  readonly endpoint: string
  readonly spans: Array<ReceivedSpan>
  readonly metrics: Array<ReceivedMetric>
  /** Requests that were not OTLP JSON posts. */
  readonly rejected: Array<string>
  readonly close: () => Promise<void>
}

interface KeyValue {
  readonly key: string
  readonly value: Record<string, unknown>
}

/** An OTLP AnyValue as a plain value. */
const plainValue = (value: Record<string, unknown>): unknown => {
  if ("stringValue" in value) return value.stringValue
  if ("intValue" in value) return Number(value.intValue)
  if ("doubleValue" in value) return value.doubleValue
  if ("boolValue" in value) return value.boolValue
  return value
}

const attributesOf = (list: ReadonlyArray<KeyValue> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, plainValue(kv.value)]))

type Json = Record<string, unknown>
const arr = (value: unknown): ReadonlyArray<Json> => (Array.isArray(value) ? (value as Array<Json>) : [])

const takeTraces = (body: Json, into: Array<ReceivedSpan>) => {
  for (const rs of arr(body.resourceSpans)) {
    const resource = attributesOf(arr((rs.resource as Json | undefined)?.attributes) as unknown as ReadonlyArray<KeyValue>)
    for (const ss of arr(rs.scopeSpans)) {
      for (const span of arr(ss.spans)) {
        into.push({
          name: String(span.name),
          traceId: String(span.traceId),
          spanId: String(span.spanId),
          parentSpanId: span.parentSpanId === undefined || span.parentSpanId === "" ? undefined : String(span.parentSpanId),
          attributes: attributesOf(span.attributes as ReadonlyArray<KeyValue>),
          serviceName: resource["service.name"]
        })
      }
    }
  }
}

const takeMetrics = (body: Json, into: Array<ReceivedMetric>) => {
  for (const rm of arr(body.resourceMetrics)) {
    for (const sm of arr(rm.scopeMetrics)) {
      for (const metric of arr(sm.metrics)) {
        const data = (metric.sum ?? metric.gauge ?? metric.histogram) as Json | undefined
        into.push({
          name: String(metric.name),
          points: arr(data?.dataPoints).map((p) => ({
            attributes: attributesOf(p.attributes as ReadonlyArray<KeyValue>),
            value: p.asDouble ?? p.asInt ?? p.count
          }))
        })
      }
    }
  }
}

export const startOtlpReceiver = async (): Promise<OtlpReceiver> => {
  const spans: Array<ReceivedSpan> = []
  const metrics: Array<ReceivedMetric> = []
  const rejected: Array<string> = []
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const isJson = (req.headers["content-type"] ?? "").includes("application/json")
      if (req.method !== "POST" || !isJson || (req.url !== "/v1/traces" && req.url !== "/v1/metrics")) {
        rejected.push(`${req.method} ${req.url} ${req.headers["content-type"]}`)
        res.writeHead(404).end()
        return
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json
      if (req.url === "/v1/traces") takeTraces(body, spans)
      else takeMetrics(body, metrics)
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    rejected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
