// A loopback server for bench/batch.ts: GET /NAME answers `size` deterministic bytes derived from NAME.
import * as http from "node:http"
const size = Number(process.argv[2] ?? 1024)
const body = (path) => {
  const out = Buffer.alloc(size, 0x61)
  out.write(path, 0, "latin1")
  return out
}
const server = http.createServer((request, response) => {
  const b = body(request.url ?? "/")
  response.writeHead(200, { "content-length": b.length }).end(b)
})
server.keepAliveTimeout = 60_000
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`))
