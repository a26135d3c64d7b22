/**
 * `serve --workers N`: N server processes (node:cluster) sharing one listen socket. The primary only forks,
 * watches and stops the workers; each worker runs the whole server with its own catalog connection and store
 * handle (see server.ts), and artifacts fetched on demand are shared across them through the fetch leases
 * (lease.ts). A worker that dies on its own is replaced; closing the primary's scope (SIGTERM/SIGINT in the CLI)
 * sends SIGTERM to every worker and waits for each to finish its requests in flight and exit.
 */
import { Deferred, Effect, type Scope } from "effect"
import cluster, { type Worker } from "node:cluster"
import { ServeError } from "./errors.js"

/** The message a worker sends its primary once it listens. */
interface Listening {
  readonly cargohold: "listening"
  readonly origin: string
}

const isListening = (message: unknown): message is Listening =>
  typeof message === "object" && message !== null && (message as Listening).cargohold === "listening"

/** This process is a worker forked by `serveWorkers`. */
export const isServeWorker = (): boolean => cluster.isWorker

/** In a worker: tells the primary the server listens (a no-op in a process of its own). */
export const announceListening = (origin: string): void => {
  if (cluster.isWorker) process.send?.({ cargohold: "listening", origin } satisfies Listening)
}

export interface WorkersOptions {
  readonly count: number
  /** How long a worker may take to stop at shutdown before it is killed (default 35 s: its own timeout is 30 s). */
  readonly stopTimeoutMs?: number | undefined
  /** Where the primary says what happens to its workers (default stderr). */
  readonly say?: ((line: string) => void) | undefined
}

/**
 * Forks `count` workers running this same command line and waits until every one listens; returns the origin they
 * share. Fails with `ServeError` when a worker exits before it listens (its own error went to stderr).
 */
export const serveWorkers = (options: WorkersOptions): Effect.Effect<string, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const say = options.say ?? ((line: string) => void process.stderr.write(`${line}\n`))
    const ready = yield* Deferred.make<string, ServeError>()
    const live = new Set<Worker>()
    const listening = new Set<Worker>()
    let stopping = false
    let lastSpawn = 0

    const spawn = () => {
      lastSpawn = Date.now()
      const worker = cluster.fork()
      live.add(worker)
      worker.on("message", (message: unknown) => {
        if (!isListening(message)) return
        listening.add(worker)
        if (listening.size === options.count) Deferred.unsafeDone(ready, Effect.succeed(message.origin))
      })
      worker.on("exit", (code, signal) => {
        live.delete(worker)
        const wasListening = listening.delete(worker)
        if (stopping) return
        if (!wasListening) {
          Deferred.unsafeDone(ready, Effect.fail(new ServeError({ reason: `a worker exited before it listened (${signal ?? `exit ${code}`})` })))
          return
        }
        // replaced, but not faster than once a second (a worker that dies at once would spin otherwise)
        say(`cargohold serve: worker ${worker.process.pid} ended (${signal ?? `exit ${code}`}); starting another`)
        setTimeout(() => stopping || spawn(), Math.max(0, 1000 - (Date.now() - lastSpawn)))
      })
    }

    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        stopping = true
        if (live.size === 0) return resume(Effect.void)
        const timer = setTimeout(() => {
          for (const worker of live) worker.process.kill("SIGKILL")
        }, options.stopTimeoutMs ?? 35_000)
        for (const worker of live) {
          worker.on("exit", () => {
            if (live.size === 0) {
              clearTimeout(timer)
              resume(Effect.void)
            }
          })
          worker.process.kill("SIGTERM")
        }
      })
    )
    for (let i = 0; i < options.count; i++) spawn()
    return yield* Deferred.await(ready)
  })
