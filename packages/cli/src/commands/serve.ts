/**
 * `cargohold serve [--listen HOST:PORT]`: serves repositories (`/NAME/PATH`, `/NAME@VERSION/PATH`) and artifacts
 * by address (`/sha256/HEX`) from the store, fetching on-demand units from their sources on first request.
 * Runs until SIGINT or SIGTERM: then it stops accepting, lets requests in flight finish, and exits (0 after
 * SIGTERM, a service manager's normal stop; 130 after SIGINT). `--workers N` runs N server processes on one
 * listen socket (default: one per core), each with its own catalog connection.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { availableParallelism } from "node:os"
import { join } from "node:path"
import { withRepositories } from "../env.js"
import { UsageError } from "../errors.js"
import { fileRoot, location } from "../options/common.js"
import { printErr } from "../output.js"
import { absorbRepeatedSignals, stopsOnSigterm } from "../signals.js"

const usage = (message: string) => new UsageError({ message })

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback). */
export const parseListen = (raw: string): { readonly host: string; readonly port: number } | undefined => {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw.trim())
  if (match === null) return undefined
  const port = Number(match[3])
  if (port > 65535) return undefined
  const host = match[1] ?? (match[2] === "" ? "127.0.0.1" : match[2]!)
  return { host, port }
}

const count = (name: string, description: string) => Options.integer(name).pipe(Options.withDescription(description), Options.optional)

export const serveCommand = Command.make(
  "serve",
  {
    listen: Options.text("listen").pipe(
      Options.withDescription("address to listen on, HOST:PORT (default 127.0.0.1:8080; port 0 picks a free one)"),
      Options.withDefault("127.0.0.1:8080")
    ),
    workers: count("workers", "server processes sharing the listen socket (default: the number of cores; 1: this process alone)"),
    maxConcurrent: count("max-concurrent", "requests answered at once; more get 503 with Retry-After (default 256)"),
    verifyBefore: count(
      "verify-before-send",
      "on-demand artifacts up to this many bytes are verified before their first byte is sent (default 1048576); larger ones stream, and the connection is cut if their digest fails"
    ),
    fileRoot: fileRoot("file:// sources of on-demand units"),
    ...location
  },
  (flags) =>
    Effect.gen(function* () {
      const listen = parseListen(flags.listen)
      if (listen === undefined) return yield* Effect.fail(usage(`--listen must be HOST:PORT, got '${flags.listen}'`))
      const maxConcurrent = Option.getOrUndefined(flags.maxConcurrent)
      if (maxConcurrent !== undefined && maxConcurrent < 1) return yield* Effect.fail(usage("--max-concurrent must be at least 1"))
      const verifyBefore = Option.getOrUndefined(flags.verifyBefore)
      if (verifyBefore !== undefined && verifyBefore < 0) return yield* Effect.fail(usage("--verify-before-send must be at least 0"))
      const workers = Option.getOrElse(flags.workers, () => availableParallelism())
      if (workers < 1) return yield* Effect.fail(usage("--workers must be at least 1"))
      stopsOnSigterm()
      const { announceListening, isServeWorker, serve, serveWorkers } = yield* Effect.promise(() => import("@cargohold/node/serve"))
      const worker = isServeWorker()
      if (worker) absorbRepeatedSignals()
      else if (workers > 1) {
        // the primary: forks the workers (this same command line) and waits for a signal; no catalog of its own
        return yield* Effect.scoped(
          Effect.gen(function* () {
            const origin = yield* serveWorkers({ count: workers }).pipe(Effect.mapError((error) => usage(error.message)))
            yield* printErr(`cargohold: serving on ${origin} (${workers} workers)`)
            return yield* Effect.never
          })
        )
      }
      // the serve processes on one home (its store) share their on-demand fetches through leases kept beside it
      const { homePath } = yield* Effect.promise(() => import("@cargohold/node"))
      const leaseDir = join(homePath({ home: Option.getOrUndefined(flags.home) }), "leases")
      yield* withRepositories(flags, { fileRoots: flags.fileRoot })(
        Effect.scoped(
          Effect.gen(function* () {
            const server = yield* serve({ host: listen.host, port: listen.port, maxConcurrent, verifyBeforeSendBytes: verifyBefore, leaseDir }).pipe(
              Effect.mapError((error) => usage(error.message))
            )
            if (worker) announceListening(server.origin)
            else yield* printErr(`cargohold: serving on ${server.origin}`)
            return yield* Effect.never
          })
        )
      )
    })
).pipe(Command.withDescription("serve repositories and stored artifacts over HTTP, fetching on-demand units on first request"))
