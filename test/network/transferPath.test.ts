/**
 * The two transfer paths themselves: the lean exchange really bypasses the platform HttpClient (so the rest of
 * this suite, run once per path, tests both), and a temp object without the lean `append` (a wrapping store, an S3
 * upload) still takes a body of many chunks on either path.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import { describe, expect, it } from "@effect/vitest"
import { download, Storage } from "@cargohold/core"
import { Effect } from "effect"
import { failureOf, sha256Hex } from "../support/downloads.js"
import { expectNothingLeft, layerNetworkTest, transferPath } from "../support/layers.js"
import { bytesOf, rangeHandler, serverScoped } from "../support/servers.js"

const file = bytesOf(5 * 1024 * 1024, 3)

/** An HttpClient that refuses every request: whatever still downloads did not go through it. */
const refusing = HttpClient.make((request) =>
  Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("HttpClient not used") }))
)

describe(`transfer path (${transferPath})`, () => {
  it.scopedLive("downloads go through the lean exchange, not the HttpClient (generic: through it)", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeHandler(file, { etag: '"v1"' }))
      const exit = yield* Effect.exit(
        download({ url: server.url("/f"), sha256: sha256Hex(file) }).pipe(
          Effect.provideService(HttpClient.HttpClient, refusing)
        )
      )
      if (transferPath === "lean") {
        expect(exit._tag).toBe("Success")
        expect(server.stats.requests).toHaveLength(1)
      } else {
        expect(failureOf(exit)._tag).toBe("ConnectError")
        expect(server.stats.requests).toHaveLength(0)
        expect(yield* expectNothingLeft).toEqual({ objects: 0, temps: 0, catalogued: 0 })
      }
    }).pipe(Effect.provide(layerNetworkTest({ settings: { attempts: 1 } })))
  )

  it.scopedLive("a temp object without the lean append takes a body of many chunks (and a cut one resumes)", () =>
    Effect.gen(function* () {
      const server = yield* serverScoped(rangeHandler(file, { etag: '"v1"', cutAt: file.length / 3 }))
      const artifact = yield* download({ url: server.url("/f"), sha256: sha256Hex(file), size: file.length }).pipe(
        Effect.provideServiceEffect(
          Storage,
          Effect.map(Storage, (storage) => ({
            ...storage,
            // only the Effect write: what a backend without the lean path offers
            begin: Effect.map(storage.begin, (temp) => ({
              write: temp.write,
              reset: temp.reset,
              written: temp.written,
              commit: temp.commit
            }))
          }))
        ),
        Effect.timeout("30 seconds")
      )
      expect(artifact.size).toBe(file.length)
      expect(server.stats.requests).toHaveLength(2)
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
