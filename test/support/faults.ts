/**
 * The fault suite's shared parts: misbehaving server answers (for `startServer` of ./servers.ts), and what is
 * checked after every run of the built CLI — no "internal error", no stack trace or bundle source in any output,
 * and the state a home is left in (store objects, temp files, catalog rows).
 */
import Database from "better-sqlite3"
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import type { CliResult } from "../cli/helpers.js"
import { filesUnder } from "../cli/helpers.js"
import type { Handler } from "./servers.js"

/** Routes by path (query ignored); 404 for anything else. */
export const routes =
  (table: Readonly<Record<string, Handler>>): Handler =>
  (request, response, stats) => {
    const path = new URL(request.url ?? "/", "http://x").pathname
    const handler = table[path]
    if (handler === undefined) response.writeHead(404, { "content-length": "0" }).end()
    else handler(request, response, stats)
  }

/** Serves `body` whole. */
export const serve =
  (body: Uint8Array, headers: Readonly<Record<string, string>> = {}): Handler =>
  (_request, response) => {
    response.writeHead(200, { "content-length": String(body.length), ...headers })
    response.end(body)
  }

/**
 * A Content-Length that lies. Longer than the body: the body is sent and the connection closed. Shorter: the
 * whole body goes out anyway (Node writes past the header; the client must stop at the announced length).
 */
export const lyingLength =
  (body: Uint8Array, announced: number): Handler =>
  (_request, response) => {
    response.writeHead(200, { "content-length": String(announced) })
    if (announced <= body.length) {
      response.end(body)
      return
    }
    response.write(body, () => setTimeout(() => response.socket?.destroy(), 20))
  }

/** A body without Content-Length that goes on for `total` bytes, in `chunk`-byte writes. */
export const unsizedBody =
  (total: number, chunk = 64 * 1024): Handler =>
  (_request, response) => {
    response.writeHead(200, { "content-type": "application/octet-stream" })
    const piece = Buffer.alloc(chunk, 0x5a)
    let sent = 0
    const more = () => {
      while (sent < total && !response.destroyed) {
        sent += chunk
        if (!response.write(piece)) return void response.once("drain", more)
      }
      response.end()
    }
    response.on("close", () => (sent = total))
    more()
  }

/** Headers (with a Content-Length of `size`), then silence. */
export const stallAfterHeaders =
  (size: number): Handler =>
  (_request, response) => {
    response.writeHead(200, { "content-length": String(size) })
    response.flushHeaders()
  }

/** The first answer sends `at` bytes of `body`, then nothing more; later requests go to `then`. */
export const stallOnceAt = (body: Uint8Array, at: number, then: Handler): Handler => {
  let stalled = false
  return (request, response, stats) => {
    if (stalled) return then(request, response, stats)
    stalled = true
    response.writeHead(200, { "content-length": String(body.length), "accept-ranges": "bytes", etag: '"stall"' })
    response.write(body.subarray(0, at))
  }
}

/** Takes the request and never answers. */
export const stallBeforeHeaders: Handler = () => {}

/** The first request gets `status` with `Retry-After: value` (a function of now, for HTTP-dates); then `then`. */
export const refuseOnceWithRetryAfter = (status: number, value: () => string, then: Handler): Handler => {
  let refused = false
  return (request, response, stats) => {
    if (refused) return then(request, response, stats)
    refused = true
    response.writeHead(status, { "retry-after": value(), "content-length": "0" }).end()
  }
}

/** A redirect to `location` (relative or absolute). */
export const redirectTo =
  (location: string, status = 302): Handler =>
  (_request, response) => {
    response.writeHead(status, { location, "content-length": "0" }).end()
  }

/**
 * A gzip stream that inflates to `inflated` bytes of zeros: `inflated / 1 MiB` concatenated gzip members of one
 * MiB each (RFC 1952 allows members back to back), ≈ 1 KiB on the wire per MiB.
 */
export const gzipBomb = (inflated: number): Buffer => {
  const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })
  return Buffer.concat(Array.from({ length: Math.ceil(inflated / (1024 * 1024)) }, () => member))
}

/** What no output of the CLI may ever contain, whatever the input or the server did. */
const forbidden: ReadonlyArray<readonly [string, RegExp]> = [
  ["internal error", /internal error/i],
  ["a stack frame", /^\s+at .+(:\d+:\d+\)?|<anonymous>|native)$/m],
  ["bundle source", /cargohold\.js:\d+|\bfunction\s*\w*\s*\([^)]*\)\s*\{|=>\s*\{[^\n]{200}/],
  ["an unhandled error", /Unhandled|uncaught|ERR_UNHANDLED/i]
]

/** The forbidden things found in a run's stdout and stderr (empty when clean). */
export const forbiddenIn = (result: CliResult): ReadonlyArray<string> =>
  forbidden.flatMap(([what, pattern]) =>
    (["stdout", "stderr"] as const).filter((stream) => pattern.test(result[stream])).map((stream) => `${what} on ${stream}`)
  )

export interface HomeState {
  /** Stored objects (paths relative to the store), temp area excluded. */
  readonly objects: ReadonlyArray<string>
  /** Files left in the store's temp area. */
  readonly temps: ReadonlyArray<string>
  readonly artifacts: number
  readonly locations: number
  /** Locations whose state is not ok. */
  readonly badLocations: number
  readonly sources: number
}

/** The store and SQLite catalog of a home as they are on disk now (the CLI's default layout). */
export const homeState = (home: string): HomeState => {
  const store = join(home, "store")
  const tmp = join(store, ".tmp")
  const all = filesUnder(store)
  const objects = all.filter((path) => !path.startsWith(`${tmp}/`)).map((path) => path.slice(store.length + 1))
  const temps = all.filter((path) => path.startsWith(`${tmp}/`))
  const catalog = join(home, "catalog.db")
  if (!existsSync(catalog)) return { objects, temps, artifacts: 0, locations: 0, badLocations: 0, sources: 0 }
  const db = new Database(catalog, { readonly: true, fileMustExist: true })
  try {
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n
    return {
      objects,
      temps,
      artifacts: count("SELECT count(*) AS n FROM artifacts WHERE size IS NOT NULL"),
      locations: count("SELECT count(*) AS n FROM locations"),
      badLocations: count("SELECT count(*) AS n FROM locations WHERE state <> 'ok'"),
      sources: count("SELECT count(*) AS n FROM sources")
    }
  } finally {
    db.close()
  }
}

/** Stored objects whose bytes do not hash to the name they are stored under (empty when all are intact). */
export const damagedObjects = (home: string): ReadonlyArray<string> =>
  homeState(home).objects.filter((key) => {
    const name = key.split("/").pop() ?? ""
    return createHash("sha256").update(readFileSync(join(home, "store", key))).digest("hex") !== name
  })
