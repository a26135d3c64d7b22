/**
 * OpenTelemetry export against a real OTLP/HTTP receiver (a Node server started here that decodes the JSON it
 * is sent, test/support/otlpReceiver.ts): spans per download, attempt, commit and catalog write with their
 * attributes, and the metrics by name; off by default (no request reaches the receiver); and the CLI's `--otlp`
 * and OTEL_EXPORTER_OTLP_ENDPOINT.
 */
import { download, HttpStatusError } from "@cargohold/core"
import { layerOtlp } from "@cargohold/node/otlp"
import { Duration, Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli, tempDir } from "../cli/helpers.js"
import { layerNetworkTest } from "../support/layers.js"
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlpReceiver.js"
import { bytesOf, startServer, type TestServer } from "../support/servers.js"

const body = bytesOf(100 * 1024, 4)
let files: TestServer
const dir = tempDir("cargohold-otlp-")

beforeAll(async () => {
  files = await startServer((req, res) => {
    if (req.url?.startsWith("/missing")) return res.writeHead(404).end()
    res.end(body)
  })
})
afterAll(async () => {
  await files.close()
  dir.remove()
})

const withReceiver = async (f: (receiver: OtlpReceiver) => Promise<void>) => {
  const receiver = await startOtlpReceiver()
  try {
    await f(receiver)
  } finally {
    await receiver.close()
  }
}

describe("OpenTelemetry (OTLP/HTTP JSON)", () => {
  it("spans per download, attempt, commit and catalog write; metrics by name", () =>
    withReceiver(async (receiver) => {
      const layer = Layer.mergeAll(
        layerNetworkTest({ settings: { attempts: 2, retryBaseDelay: Duration.millis(10) } }),
        layerOtlp({ endpoint: receiver.endpoint, exportInterval: Duration.millis(200), serviceName: "otlp-test" })
      )
      const exit = await Effect.runPromiseExit(
        Effect.gen(function* () {
          yield* download({ url: files.url("/a.bin") })
          yield* Effect.either(download({ url: files.url("/missing.bin") }))
        }).pipe(Effect.provide(layer))
      )
      expect(exit._tag).toBe("Success")
      // everything left is sent when the layer closes
      const names = receiver.spans.map((s) => s.name)
      expect(names).toEqual(expect.arrayContaining(["cargohold.download", "cargohold.attempt", "cargohold.commit", "cargohold.catalog.record"]))
      const downloads = receiver.spans.filter((s) => s.name === "cargohold.download")
      expect(downloads).toHaveLength(2)
      const ok = downloads.find((s) => s.attributes["url.full"] === files.url("/a.bin"))!
      expect(ok.attributes["cargohold.outcome"]).toBe("downloaded")
      expect(ok.attributes["cargohold.size"]).toBe(body.length)
      expect(String(ok.attributes["cargohold.sha256"])).toMatch(/^[0-9a-f]{64}$/)
      expect(ok.serviceName).toBe("otlp-test")
      const failed = downloads.find((s) => s.attributes["url.full"] === files.url("/missing.bin"))!
      expect(failed.attributes["cargohold.outcome"]).toBe("failed")
      expect(failed.attributes["cargohold.error_tag"]).toBe(new HttpStatusError({ url: "", status: 404 })._tag)
      // attempt, commit and catalog write are children of the download's span
      const children = receiver.spans.filter((s) => s.traceId === ok.traceId && s.name !== "cargohold.download")
      expect(children.map((s) => s.name).sort()).toEqual(["cargohold.attempt", "cargohold.catalog.record", "cargohold.commit"])
      expect(children.every((s) => s.parentSpanId !== undefined)).toBe(true)

      const metricNames = new Set(receiver.metrics.map((m) => m.name))
      for (const name of ["cargohold.artifacts", "cargohold.download.bytes", "cargohold.download.duration"]) {
        expect(metricNames.has(name)).toBe(true)
      }
      const artifacts = receiver.metrics.filter((m) => m.name === "cargohold.artifacts").flatMap((m) => m.points)
      expect(artifacts.some((p) => p.attributes.outcome === "downloaded")).toBe(true)
      expect(artifacts.some((p) => p.attributes.outcome === "failed" && p.attributes.error_tag === "HttpStatusError")).toBe(true)
      expect(receiver.rejected).toEqual([])
    }), 60_000)

  it("off by default: nothing is sent", () =>
    withReceiver(async (receiver) => {
      const exit = await Effect.runPromiseExit(download({ url: files.url("/off.bin") }).pipe(Effect.provide(layerNetworkTest())))
      expect(exit._tag).toBe("Success")
      expect(receiver.spans).toEqual([])
      expect(receiver.metrics).toEqual([])
    }))

  it("the CLI: --otlp URL, and OTEL_EXPORTER_OTLP_ENDPOINT", () =>
    withReceiver(async (receiver) => {
      const home = (name: string) => ({ CARGOHOLD_HOME: `${dir.path}/${name}` })
      const flagged = await runCli(["fetch", files.url("/cli-a.bin"), "--otlp", receiver.endpoint], { env: home("a") })
      expect(flagged.code).toBe(0)
      expect(receiver.spans.some((s) => s.name === "cargohold.download" && s.attributes["url.full"] === files.url("/cli-a.bin"))).toBe(true)
      const byEnv = await runCli(["fetch", files.url("/cli-b.bin")], {
        env: { ...home("b"), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }
      })
      expect(byEnv.code).toBe(0)
      expect(receiver.spans.some((s) => s.attributes["url.full"] === files.url("/cli-b.bin"))).toBe(true)
      expect(receiver.metrics.some((m) => m.name === "cargohold.artifacts")).toBe(true)
      const before = receiver.spans.length
      const off = await runCli(["fetch", files.url("/cli-c.bin")], { env: home("c") })
      expect(off.code).toBe(0)
      expect(receiver.spans.length).toBe(before)
    }), 120_000)
})
