/**
 * The Promise facade, for code that does not use Effect:
 *
 *     const { sha256, path } = await fetchArtifact(url, { sha256: "…", size: 1234 })
 *
 * Failures reject with the very error instances the Effect API fails with (`err instanceof DigestMismatch`).
 * One runtime per configuration (home, catalog, store) is built on first use and reused by later calls, so the
 * HTTP connection pool, the catalog connection and the limits are shared; `close()` releases them all.
 */
import { type ComputedDigests, download, type Sha256, Storage } from "@cargohold/core"
import { Cause, Effect, Exit, ManagedRuntime, Option, Runtime } from "effect"
import { homePath } from "./home.js"
import { layerNode, type NodeLayerError, type NodeServices } from "./layer.js"

export interface FetchOptions {
  readonly sha256?: string | undefined
  readonly size?: number | undefined
  /** Expected digests by algorithm (sha256, sha384, sha512, sha1, md5). */
  readonly digests?: Readonly<Record<string, string | undefined>> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly home?: string | undefined
  /** Catalog URL (default `sqlite://<home>/catalog.db`). */
  readonly catalog?: string | undefined
  /** Store URL (default `file://<home>/store`). */
  readonly store?: string | undefined
}

export interface FetchedArtifact {
  readonly sha256: Sha256
  readonly size: number
  readonly digests: ComputedDigests
  /** The stored file, when the store is on the local filesystem. */
  readonly path?: string
  /** True when it was already stored and no request was made. */
  readonly cached: boolean
  readonly store: string
  readonly key: string
}

type NodeRuntime = ManagedRuntime.ManagedRuntime<NodeServices, NodeLayerError>

const runtimes = new Map<string, NodeRuntime>()

const runtimeFor = async (options: FetchOptions): Promise<NodeRuntime> => {
  const config = { home: homePath({ home: options.home }), catalog: options.catalog, store: options.store }
  const key = JSON.stringify(config)
  let runtime = runtimes.get(key)
  if (runtime === undefined) {
    runtime = ManagedRuntime.make(layerNode(config))
    runtimes.set(key, runtime)
  }
  try {
    await runtime.runtime()
  } catch (error) {
    // a layer that failed to build is not kept: the next call tries again (the database may be back)
    if (runtimes.get(key) === runtime) runtimes.delete(key)
    await runtime.dispose().catch(() => undefined)
    throw unwrap(error)
  }
  return runtime
}

/** The typed error inside a FiberFailure (the first failure, else the squashed cause), or the value itself. */
const unwrap = (error: unknown): unknown =>
  Runtime.isFiberFailure(error) ? firstFailure(error[Runtime.FiberFailureCauseId]) : error

const firstFailure = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause))

/** Downloads (or finds already stored) one artifact, verified; rejects with the typed error on failure. */
export const fetchArtifact = async (url: string | URL, options: FetchOptions = {}): Promise<FetchedArtifact> => {
  const runtime = await runtimeFor(options)
  const exit = await runtime.runPromiseExit(
    Effect.gen(function* () {
      const artifact = yield* download({
        url,
        sha256: options.sha256,
        size: options.size,
        digests: options.digests,
        headers: options.headers
      })
      const storage = yield* Storage
      const path = storage.localPath(artifact.sha256)
      const result: FetchedArtifact = {
        sha256: artifact.sha256,
        size: artifact.size,
        digests: artifact.digests,
        cached: artifact.cached,
        store: artifact.location.store,
        key: artifact.location.key,
        ...(Option.isSome(path) ? { path: path.value } : {})
      }
      return result
    })
  )
  if (Exit.isSuccess(exit)) return exit.value
  throw firstFailure(exit.cause)
}

/** Releases every runtime the facade built (connections, catalog handles, temp stores). */
export const close = async (): Promise<void> => {
  const all = [...runtimes.values()]
  runtimes.clear()
  await Promise.all(all.map((runtime) => runtime.dispose()))
}
