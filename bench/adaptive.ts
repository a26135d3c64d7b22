/**
 * Adaptive per-host concurrency against a server that slows down under load: its time to first byte is
 * 20 ms + 5 ms × n² for n requests in flight (a small worker pool behind a slow upstream: more connections make
 * every answer slower and the whole slower). The same downloads with the latency controller on (default) and off
 * (`latency: false`: 16 connections to the host throughout), alternating, in one run; printed as ratios.
 * usage: npx tsx bench/adaptive.ts [--downloads 200] [--rounds 2]   (needs `npm run build`)
 */
import { type ChildProcess, spawn } from "node:child_process"
import { download, layerConnectionLimits, layerSilent } from "@cargohold/core"
import { layerMemoryBackends } from "@cargohold/core/testing"
import { layerHttp, layerNodeHasher } from "@cargohold/node"
import { Effect, Layer } from "effect"

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const downloads = Number(arg("downloads", "200"))
const rounds = Number(arg("rounds", "2"))

/** The server, in a process of its own (its timers must not share the client's event loop). */
const serverScript = `
const http = require("node:http")
let inFlight = 0, max = 0, served = 0, sum = 0
const body = Buffer.alloc(16 * 1024, 7)
const server = http.createServer((req, res) => {
  if (req.url === "/stats") return res.end(JSON.stringify({ max, served, meanLoad: served ? sum / served : 0 }))
  inFlight++; max = Math.max(max, inFlight); sum += inFlight
  setTimeout(() => { inFlight--; served++; res.end(Buffer.concat([body, Buffer.from(req.url)])) }, 20 + 5 * inFlight * inFlight)
})
server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"))
`

const startServer = (): Promise<{ readonly port: number; readonly child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", serverScript], { stdio: ["ignore", "pipe", "inherit"] })
    child.once("error", reject)
    child.stdout!.once("data", (data: Buffer) => resolve({ port: Number(data.toString().trim()), child }))
  })

const runOnce = async (adaptive: boolean) => {
  const { port, child } = await startServer()
  const layer = Layer.mergeAll(
    layerHttp({ pool: "private" }),
    layerMemoryBackends,
    layerSilent,
    layerNodeHasher,
    layerConnectionLimits({ global: 64, perHost: 16, latency: adaptive ? {} : false })
  )
  const started = performance.now()
  await Effect.runPromise(
    Effect.forEach(
      Array.from({ length: downloads }, (_, i) => `http://127.0.0.1:${port}/f${i}`),
      (url) => download({ url }),
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.provide(layer))
  )
  const ms = performance.now() - started
  const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { max: number; meanLoad: number }
  child.kill()
  return { ms, ...stats }
}

const results: Record<"adaptive" | "fixed", Array<{ ms: number; max: number; meanLoad: number }>> = { adaptive: [], fixed: [] }
for (let r = 0; r < rounds; r++) {
  results.adaptive.push(await runOnce(true))
  results.fixed.push(await runOnce(false))
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const [name, runs] of Object.entries(results)) {
  console.log(
    `${name.padEnd(8)} ${downloads} downloads: median ${median(runs.map((r) => r.ms)).toFixed(0)} ms (runs ${runs
      .map((r) => r.ms.toFixed(0))
      .join(", ")}); server load mean ${median(runs.map((r) => r.meanLoad)).toFixed(1)}, max ${median(runs.map((r) => r.max))}`
  )
}
const ratio = median(results.fixed.map((r) => r.ms)) / median(results.adaptive.map((r) => r.ms))
console.log(`fixed / adaptive wall time: ${ratio.toFixed(2)}×`)
