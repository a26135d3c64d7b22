#!/usr/bin/env node
/**
 * The demo's HTTP server: serves DIR on 127.0.0.1 (a free port), prints `PORT` on its first stdout line, and
 * counts requests (GET /__stats → {"requests": N}). Bodies of 1 MiB and more are paced to RATE bytes/s per
 * response (default 16 MiB/s), so the live progress has something to show on loopback.
 *
 *     node scripts/demo-server.mjs DIR [RATE]
 */
import { createReadStream, statSync } from "node:fs"
import { createServer } from "node:http"
import { join, normalize } from "node:path"

const [root, rateArg] = process.argv.slice(2)
const rate = Number(rateArg ?? 16 * 1024 * 1024)
let requests = 0

const server = createServer((request, response) => {
  const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)
  if (path === "/__stats") {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ requests }))
    return
  }
  requests++
  const file = normalize(join(root, path))
  let size
  try {
    if (!file.startsWith(normalize(root))) throw new Error("outside")
    size = statSync(file).size
  } catch {
    response.writeHead(404, { "content-length": "0" }).end()
    return
  }
  response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) })
  const stream = createReadStream(file, { highWaterMark: 256 * 1024 })
  if (size < 1024 * 1024 || !(rate > 0)) {
    stream.pipe(response)
    return
  }
  const started = Date.now()
  let sent = 0
  stream.on("data", (chunk) => {
    sent += chunk.length
    response.write(chunk)
    const due = started + (sent / rate) * 1000
    const wait = due - Date.now()
    if (wait > 0) {
      stream.pause()
      setTimeout(() => stream.resume(), wait)
    }
  })
  stream.on("end", () => response.end())
  stream.on("error", () => response.destroy())
  response.on("close", () => stream.destroy())
})

server.listen(0, "127.0.0.1", () => {
  console.log(server.address().port)
})
const stop = () => server.close(() => process.exit(0))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
