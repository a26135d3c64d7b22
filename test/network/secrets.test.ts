/**
 * Secrets of a remote (proxy password, basic password, bearer token, client key) never show up in any output:
 * errors (message, String, JSON, inspect, Cause.pretty), progress events, log lines at every level, the Remote.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { download, Remote } from "@cargohold/core"
import { Cause, Effect, Exit, Logger, LogLevel, Redacted } from "effect"
import { makeCa } from "../support/certs.js"
import { tryDownload } from "../support/downloads.js"
import { CollectedProgress, layerNetworkTest } from "../support/layers.js"
import { startProxy } from "../support/proxy.js"
import { leaks } from "../support/secrets.js"
import { serverScoped } from "../support/servers.js"

const ca = makeCa()
const leaf = ca.issue({ commonName: "localhost" })
const client = ca.issue({ commonName: "client", client: true })
afterAll(() => ca.remove())

const secrets = {
  proxyPassword: "PROXY-pw-0f1e2d",
  basicPassword: "BASIC-pw-9a8b7c",
  token: "BEARER-tok-5566"
}

describe("no secret in any output", () => {
  it.scopedLive("successes and failures through a proxy, with auth and a client certificate", () =>
    Effect.gen(function* () {
      const logs: Array<string> = []
      const logger = Logger.make(({ message, annotations, cause }) => {
        logs.push(`${String(message)} ${JSON.stringify([...annotations])} ${Cause.pretty(cause)}`)
      })
      const proxy = yield* Effect.acquireRelease(
        Effect.promise(() => startProxy({ username: "p", password: secrets.proxyPassword })),
        (p) => Effect.promise(() => p.close())
      )
      const secure = yield* serverScoped(
        (req, res) => (req.headers.authorization?.startsWith("Bearer ") ? res.end(`ok ${req.url}`) : res.writeHead(401).end()),
        { tls: { key: leaf.key, cert: leaf.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true } }
      )
      const base = {
        name: "everything",
        url: secure.origin,
        headers: {},
        tls: { caCert: ca.cert, clientCert: client.cert, clientKey: Redacted.make(client.key) },
        proxy: { url: proxy.url, username: "p", password: Redacted.make(secrets.proxyPassword) }
      }
      const bearer = new Remote({ ...base, auth: { _tag: "Bearer", token: Redacted.make(secrets.token) } })
      const basic = new Remote({ ...base, name: "basic", auth: { _tag: "Basic", username: "u", password: Redacted.make(secrets.basicPassword) } })
      const wrongProxy = new Remote({ ...base, name: "wrong-proxy", proxy: { ...base.proxy, password: Redacted.make(`${secrets.proxyPassword}!`) } })
      const exits: Array<Exit.Exit<unknown, unknown>> = []
      yield* Effect.gen(function* () {
        exits.push(yield* Effect.exit(download({ url: "/ok", remote: bearer })))
        exits.push(yield* tryDownload({ url: "/401", remote: basic }))
        exits.push(yield* tryDownload({ url: "/407", remote: wrongProxy }))
        exits.push(yield* tryDownload({ url: "/x", remote: new Remote({ ...base, name: "no-ca", tls: { ...base.tls, caCert: undefined } }) }))
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.All))
      expect(exits.map((e) => e._tag)).toEqual(["Success", "Failure", "Failure", "Failure"])
      const events = yield* (yield* CollectedProgress).events
      const outputs = [
        ...exits,
        ...exits.map((e) => (Exit.isFailure(e) ? Cause.pretty(e.cause) : "")),
        ...exits.flatMap((e) => (Exit.isFailure(e) ? [Cause.squash(e.cause)] : [])),
        events,
        logs,
        bearer,
        basic,
        wrongProxy
      ]
      const keyLine = client.key.split("\n")[1]!
      for (const secret of [...Object.values(secrets), keyLine, Buffer.from(`u:${secrets.basicPassword}`).toString("base64")]) {
        expect(leaks(secret, outputs)).toEqual([])
      }
    }).pipe(Effect.provide(layerNetworkTest()))
  )
})
