/**
 * `cargohold serve`: an HTTP/1.1 server for repositories and artifacts.
 *   /                      the repositories (HTML)
 *   /NAME/PATH             the unit at PATH in NAME's latest version (a folder: its listing)
 *   /NAME@VERSION/PATH     the same in a given version
 *   /sha256/HEX            an artifact by address
 * At most `maxConcurrent` requests are answered at once (others get 503 with Retry-After), one access-log line per
 * request, and closing the scope (SIGTERM/SIGINT in the CLI) stops accepting, lets the requests in flight finish
 * (up to `shutdownTimeoutMs`), then stops the on-demand fetches still running.
 */
import {
  Catalog,
  CatalogError as CoreCatalogError,
  type CatalogError,
  type Progress,
  type Remotes,
  Repositories,
  type RepositoryName,
  Storage,
  type VersionSelector
} from "@cargohold/core"
import {
  childrenOf,
  contentTypeOf,
  encodePath,
  listingHtml,
  defaultOnDemandSettings,
  makeOnDemandFetches,
  makeResolveCache,
  octetStream,
  type OnDemandSettings,
  parseTarget,
  type Route
} from "@cargohold/core/internal/serve/index"
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect, Exit, Option, Runtime, Scope } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { type AccessLog, makeAccessLog } from "./accessLog.js"
import { type ArtifactContext, type Outcome, sendArtifact, sendHot } from "./artifact.js"
import { makeContentCache } from "./contentCache.js"
import { ServeError } from "./errors.js"
import { makeFileLeases } from "./lease.js"

export { ServeError }

export interface ServeOptions {
  readonly host?: string | undefined
  /** 0: any free port. */
  readonly port?: number | undefined
  /** Requests answered at once (default 256). */
  readonly maxConcurrent?: number | undefined
  /** On-demand artifacts up to this size are verified before their first byte is sent (default 1 MiB). */
  readonly verifyBeforeSendBytes?: number | undefined
  /** How long requests in flight may take to finish at shutdown (default 30 s). */
  readonly shutdownTimeoutMs?: number | undefined
  /** Where access-log lines go (default stderr). */
  readonly accessLog?: ((text: string) => void) | undefined
  readonly onDemand?: Partial<OnDemandSettings> | undefined
  /**
   * A folder where the `serve` processes on one store keep their fetch leases (lease.ts): an artifact missed by
   * several of them at once is then fetched by one. Default none: every process fetches for itself.
   */
  readonly leaseDir?: string | undefined
  /** Small stored artifacts (up to 256 KiB each) kept in memory, bytes in all (default 64 MiB; 0: none). */
  readonly cacheBytes?: number | undefined
}


export interface RunningServer {
  readonly host: string
  readonly port: number
  /** `http://HOST:PORT`. */
  readonly origin: string
  /** Requests being answered now. */
  readonly active: () => number
  /** On-demand fetches in flight. */
  readonly fetching: () => number
}

type Services = HttpClient.HttpClient | Storage | Catalog | Remotes | Progress | Repositories

const html = (res: http.ServerResponse, head: boolean, body: string, out: Outcome) => {
  const bytes = Buffer.from(body)
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": bytes.length, "cache-control": "no-cache" })
  if (head) return void res.end()
  out.bytes += bytes.length
  res.end(bytes)
}

const text = (res: http.ServerResponse, head: boolean, status: number, message: string, out: Outcome, extra: http.OutgoingHttpHeaders = {}) => {
  const bytes = Buffer.from(`${message}\n`)
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": bytes.length, ...extra })
  if (head) return void res.end()
  out.bytes += bytes.length
  res.end(bytes)
}

/**
 * The first User-Agent (as node:http keeps it), from the raw list: `req.headers` is an object built on first use,
 * which a hot hit otherwise never needs.
 */
const userAgentOf = (raw: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === "user-agent") return raw[i + 1]
  return undefined
}

/** Serves until the scope closes. */
export const serve = (options: ServeOptions = {}): Effect.Effect<RunningServer, ServeError, Scope.Scope | Services> =>
  Effect.gen(function* () {
    const storage = yield* Storage
    const catalog = yield* Catalog
    const repositories = yield* Repositories
    const runtime = yield* Effect.runtime<Services>()
    const run = Runtime.runPromiseExit(runtime)
    const fetchScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(fetchScope, Exit.void))
    const leases = options.leaseDir === undefined ? undefined : yield* makeFileLeases(options.leaseDir)
    const onDemand = yield* makeOnDemandFetches(fetchScope, { ...defaultOnDemandSettings, ...options.onDemand, leases })
    const ctx: ArtifactContext = {
      storage,
      onDemand,
      runtime: runtime as Runtime.Runtime<never>,
      verifyBeforeSendBytes: options.verifyBeforeSendBytes ?? 1024 * 1024,
      cache: makeContentCache({ maxBytes: options.cacheBytes ?? 64 * 1024 * 1024, maxEntryBytes: 256 * 1024 })
    }
    const resolver = makeResolveCache(repositories)
    const maxConcurrent = Math.max(1, options.maxConcurrent ?? 256)
    const log: AccessLog = makeAccessLog(options.accessLog ?? ((line) => void process.stderr.write(line)))
    // lines still gathered when the process ends some other way than the graceful close below (the sink is
    // synchronous: stderr to a file or a pipe)
    process.on("exit", log.flush)
    yield* Effect.addFinalizer(() => Effect.sync(() => process.off("exit", log.flush)))
    let active = 0
    let closing = false
    // a route depends on the request target alone: the same targets come again and again (a mirror's hot files),
    // so their parse (decoding, checks for path tricks) is kept, bounded, emptied when full
    const routes = new Map<string, Route>()
    const routeOf = (target: string): Route => {
      let route = routes.get(target)
      if (route === undefined) {
        route = parseTarget(target)
        if (routes.size >= 10_000) routes.clear()
        routes.set(target, route)
      }
      return route
    }

    /** A catalog failure is the server's problem, not the client's: 503, details in the log, none in the answer. */
    const failed = (res: http.ServerResponse, head: boolean, out: Outcome, error: CatalogError) => {
      process.stderr.write(`cargohold serve: ${error.message}\n`)
      text(res, head, 503, "the catalog is not available", out, { "retry-after": "5" })
    }

    const answer = async (route: Route, req: http.IncomingMessage, res: http.ServerResponse, out: Outcome) => {
      const head = req.method === "HEAD"
      switch (route._tag) {
        case "Refused":
          return text(res, head, route.status, route.reason, out)
        case "Redirect":
          res.writeHead(301, { location: route.location, "content-length": 0 })
          return void res.end()
        case "Index": {
          const exit = await run(repositories.list())
          if (Exit.isFailure(exit)) return failed(res, head, out, catalogFailure(exit))
          const entries = exit.value.map((r) => ({ name: r.name, folder: true }))
          return html(res, head, listingHtml("/", entries, false), out)
        }
        case "Address":
          // the catalog is asked for size and digests only when the store does not have it (see `describe`)
          return sendArtifact(req, res, ctx, {
            target: { sha256: route.sha256, size: undefined, digests: undefined },
            contentType: octetStream,
            immutable: true,
            describe: async () => {
              const exit = await run(catalog.lookup(route.sha256))
              const entry = Exit.isSuccess(exit) ? Option.getOrUndefined(exit.value) : undefined
              return { sha256: route.sha256, size: entry?.artifact.size, digests: entry?.artifact.digests }
            }
          }, out)
        case "Folder": {
          const exit = await run(repositories.listUnder(route.name, route.version, route.folder))
          if (Exit.isFailure(exit)) return repositoryFailure(res, head, out, exit, route.name)
          const children = childrenOf(route.folder, exit.value)
          if (route.folder !== "" && children.length === 0) return text(res, head, 404, "no such folder", out)
          const title = `${route.base}${route.folder === "" ? "" : `${route.folder}/`}`
          return html(res, head, listingHtml(title, children, true), out)
        }
        case "Unit": {
          let resolution = resolver.cached(route.name, route.version, route.path)
          if (resolution === undefined) {
            const exit = await run(resolver.resolve(route.name, route.version, route.path))
            if (Exit.isFailure(exit)) return repositoryFailure(res, head, out, exit, route.name)
            resolution = exit.value
          }
          const { unit } = resolution
          if (Option.isNone(unit)) {
            const under = await run(repositories.listUnder(route.name, route.version, route.path))
            if (Exit.isSuccess(under) && under.value.length > 0) {
              res.writeHead(301, { location: `${route.base}${encodePath(route.path)}/`, "content-length": 0 })
              return void res.end()
            }
            return text(res, head, 404, `no unit at ${route.path}`, out)
          }
          return sendArtifact(req, res, ctx, {
            target: { sha256: unit.value.sha256, size: unit.value.size, digests: unit.value.digests },
            contentType: contentTypeOf(unit.value.path),
            immutable: route.version !== ("latest" satisfies VersionSelector)
          }, out)
        }
      }
    }

    /** A stored hit answered synchronously, without a promise or the catalog: false when it is not one. */
    const hot = (route: Route, req: http.IncomingMessage, res: http.ServerResponse, out: Outcome): boolean => {
      if (route._tag === "Address") return sendHot(req, res, ctx, route.sha256, undefined, octetStream, true, out)
      if (route._tag !== "Unit") return false
      const unit = resolver.cached(route.name, route.version, route.path)?.unit
      if (unit === undefined || Option.isNone(unit)) return false
      return sendHot(req, res, ctx, unit.value.sha256, unit.value.size, contentTypeOf(unit.value.path), route.version !== ("latest" satisfies VersionSelector), out)
    }

    const catalogFailure = (exit: Exit.Exit<unknown, CatalogError>): CatalogError =>
      Exit.isFailure(exit) && exit.cause._tag === "Fail"
        ? exit.cause.error
        : new CoreCatalogError({ operation: "serve", reason: "Interrupted", detail: "the catalog call was interrupted or died" })

    const repositoryFailure = (
      res: http.ServerResponse,
      head: boolean,
      out: Outcome,
      exit: Exit.Exit<unknown, { readonly _tag: string; readonly message: string }>,
      name: RepositoryName
    ) => {
      const cause = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      if (cause?._tag === "RepositoryNotFound") return text(res, head, 404, `no repository named '${name}'`, out)
      if (cause?._tag === "VersionNotFound") return text(res, head, 404, cause.message, out)
      return failed(res, head, out, (cause as CatalogError | undefined) ?? catalogFailure(Exit.void))
    }

    const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const started = performance.now()
      const out: Outcome = { bytes: 0, cut: false }
      const remote = req.socket.remoteAddress ?? "-"
      res.on("close", () => {
        active -= 1
        log.write({
          remote,
          method: req.method ?? "-",
          target: req.url ?? "-",
          httpVersion: req.httpVersion,
          status: res.statusCode,
          bytes: out.bytes,
          userAgent: userAgentOf(req.rawHeaders),
          ms: performance.now() - started,
          end: out.cut ? "cut" : res.writableFinished ? "ok" : "aborted"
        })
        if (closing) server.closeIdleConnections()
      })
      active += 1
      const head = req.method === "HEAD"
      if (closing) res.setHeader("connection", "close")
      if (req.method !== "GET" && !head) return text(res, false, 405, "only GET and HEAD", out, { allow: "GET, HEAD" })
      if (active > maxConcurrent) return text(res, head, 503, "busy, try again", out, { "retry-after": "1" })
      const route = routeOf(req.url ?? "/")
      if (hot(route, req, res, out)) return
      answer(route, req, res, out).catch((error: unknown) => {
        process.stderr.write(`cargohold serve: ${req.method} ${JSON.stringify(req.url)}: ${error instanceof Error ? error.message : String(error)}\n`)
        if (!res.headersSent) text(res, head, 500, "the server failed to answer", out)
        else {
          out.cut = true
          res.destroy()
        }
      })
    }

    const server = http.createServer({ keepAlive: true }, handle)
    const address = yield* Effect.async<AddressInfo, ServeError>((resume) => {
      const onError = (error: Error) => resume(Effect.fail(new ServeError({ reason: error.message })))
      server.once("error", onError)
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        server.off("error", onError)
        resume(Effect.succeed(server.address() as AddressInfo))
      })
    })
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        closing = true
        const timer = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 30_000)
        server.close(() => {
          clearTimeout(timer)
          log.flush()
          resume(Effect.void)
        })
        server.closeIdleConnections()
      })
    )
    const host = address.address.includes(":") ? `[${address.address}]` : address.address
    return {
      host: address.address,
      port: address.port,
      origin: `http://${host}:${address.port}`,
      active: () => active,
      fetching: () => onDemand.inFlight()
    }
  })
