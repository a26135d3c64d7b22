/**
 * Servers that answer with something that is not HTTP/1.1 — another protocol on the port, a malformed
 * Content-Length, broken chunk framing after some body bytes — over raw TCP sockets. Each is a `ProtocolError`
 * naming what was wrong (not a `ConnectError`: the connection was made), retried like a broken transfer, and
 * nothing is stored; a body cut short at once is a `TransferError`. Runs in both transfer projects (the lean undici path and the platform HttpClient).
 */
import { download } from "@cargohold/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer, type Socket } from "node:net"
import { expectNothingLeft, layerNetworkTest, testSettings } from "../support/layers.js"

/** A TCP server that answers every request with `answer`, then closes; counts the requests it saw. */
const rawServer = (answer: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: (path: string) => string; readonly requests: () => number; readonly close: () => void }>(
      (resume) => {
        let requests = 0
        const sockets = new Set<Socket>()
        const server = createServer((socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {})
          socket.once("data", () => {
            requests++
            socket.end(answer)
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(
            Effect.succeed({
              url: (path: string) => `http://127.0.0.1:${port}${path}`,
              requests: () => requests,
              close: () => {
                for (const socket of sockets) socket.destroy()
                server.close()
              }
            })
          )
        })
      }
    ),
    (server) => Effect.sync(server.close)
  )

const cases = [
  { name: "another protocol on the port", answer: "SSH-2.0-OpenSSH_9.2\r\n", reason: /Expected HTTP/, received: 0 },
  {
    name: "a malformed Content-Length",
    answer: "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello",
    reason: /Content-Length/,
    received: 0
  },
  {
    name: "broken chunk framing after 5 body bytes",
    answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n",
    reason: /chunk size/,
    received: 5
  }
] as const

describe("answers that are not HTTP/1.1", () => {
  for (const testCase of cases) {
    it.scopedLive(`${testCase.name}: a ProtocolError saying so, retried, nothing stored`, () =>
      Effect.gen(function* () {
        const server = yield* rawServer(testCase.answer)
        const error = yield* Effect.flip(download({ url: server.url("/x") }))
        expect(error._tag).toBe("ProtocolError")
        if (error._tag !== "ProtocolError") return
        expect(error.received).toBe(testCase.received)
        expect(error.reason).toMatch(testCase.reason)
        expect(error.message).toContain("not valid HTTP/1.1")
        expect(error.message).not.toMatch(/cannot connect/)
        // retryable like a broken transfer: every attempt the settings allow was made
        expect(server.requests()).toBe(testSettings.attempts)
        expect(yield* expectNothingLeft).toEqual({ objects: 0, temps: 0, catalogued: 0 })
      }).pipe(Effect.provide(layerNetworkTest()))
    )
  }

  it.scopedLive("a body cut short of its Content-Length at once: a TransferError, not a ConnectError", () =>
    Effect.gen(function* () {
      const server = yield* rawServer("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello")
      const error = yield* Effect.flip(download({ url: server.url("/short") }))
      expect(error._tag).toBe("TransferError")
      expect(error.message).not.toMatch(/cannot connect/)
      expect(yield* expectNothingLeft).toEqual({ objects: 0, temps: 0, catalogued: 0 })
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
