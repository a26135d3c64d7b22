/**
 * Group commit for a batch: the store's last durability steps and the catalog writes of many downloads at once.
 *
 * Each finished download still writes its own record before it returns, inside the same uninterruptible
 * commit-then-record step as a single download, and still removes an object it created when the write fails —
 * so the guarantee "never a stored-but-uncatalogued object after a failure" is unchanged. What changes is how
 * the writes reach the store and the catalog: commits that arrive while a group is being written queue up, and
 * the next group takes all of them (up to `maxBatch`). The group first runs the store steps its commits left
 * (`PendingSync`: a filesystem store's folder fsyncs), each distinct one once and all at once; then writes the
 * records of every commit whose steps succeeded in one `recordDownloads` call, one transaction in the SQL
 * backends; only then does any requester in it return. So nothing is reported before its bytes (synced by its
 * commit), its name in the store and its catalog row are durable. A requester whose step failed gets that
 * StorageError (its record is not written); every other requester gets the outcome of the write that holds its
 * record.
 *
 * No extra fiber: the first requester to find no write running becomes the writer; when it finishes it hands
 * the role to the oldest waiting requester, which writes the next group (its own record among them). A requester
 * is writer at most once, for one group. Before writing, the writer lingers a moment (`lingerMs`, default 5 ms)
 * unless the group is already full: a synchronous driver (better-sqlite3) blocks the event loop for the whole
 * transaction, fsync included, so without the linger no other download could finish and join the group, and
 * every artifact would pay its own fsync (measured: ~2.6 ms of blocked event loop per artifact on 2,000 × 16 KiB).
 *
 * The window in which an object is stored but not yet catalogued is the length of one group write; a crash inside
 * it leaves an uncatalogued (but complete, content-addressed) object, exactly as a crash between commit and
 * `recordDownload` does for a single download. The next download of those bytes adopts it (commit is idempotent).
 */
import { Deferred, Effect, Exit, FiberId } from "effect"
import type { CatalogService } from "../catalog/Catalog.js"
import type { CatalogError, StorageError } from "../domain/errors.js"
import type { FinishedCommit, RecordDownload } from "../pipeline/download.js"
import type { PendingSync } from "../storage/Storage.js"

type Signal = "written" | "lead"

interface Pending {
  readonly finished: FinishedCommit
  readonly signal: Deferred.Deferred<Signal, CatalogError | StorageError>
}

/**
 * Runs the distinct store steps of a group at once; the failure of each step that failed, by key. When every step
 * has its promise form (a filesystem store's folder fsyncs), they run in one effect: no fiber per step.
 */
const runSteps = (group: ReadonlyArray<Pending>): Effect.Effect<ReadonlyMap<string, StorageError>> => {
  const steps = new Map<string, PendingSync>()
  for (const p of group) for (const step of p.finished.pending) steps.set(step.key, step)
  if (steps.size === 0) return Effect.succeed(new Map())
  const failures = new Map<string, StorageError>()
  if (every(steps.values(), (step) => step.start !== undefined)) {
    return Effect.promise(() =>
      Promise.all(
        Array.from(steps.values(), (step) =>
          (step.start?.() ?? Promise.resolve(undefined)).then((failure) => {
            if (failure !== undefined) failures.set(step.key, failure)
          })
        )
      ).then(() => failures)
    )
  }
  return Effect.as(
    Effect.forEach(
      steps,
      ([key, step]) => Effect.catchAll(step.run, (error) => Effect.sync(() => void failures.set(key, error))),
      { concurrency: "unbounded", discard: true }
    ),
    failures
  )
}

const every = <A>(items: Iterable<A>, test: (a: A) => boolean): boolean => {
  for (const item of items) if (!test(item)) return false
  return true
}

export interface BatchRecorder {
  readonly record: RecordDownload
  /** Records written so far, and in how many calls (for tests and reports). */
  readonly stats: () => { readonly records: number; readonly writes: number }
}

export const makeBatchRecorder = (
  catalog: CatalogService,
  options?: { readonly maxBatch?: number; readonly lingerMs?: number }
): BatchRecorder => {
  const maxBatch = Math.max(1, options?.maxBatch ?? 500)
  const lingerMs = Math.max(0, options?.lingerMs ?? 5)
  const pending: Array<Pending> = []
  let writing = false
  let records = 0
  let writes = 0

  /** Writes the oldest group (which starts with `self`), settles the others in it, passes the writer role on. */
  const lead = (self: Pending): Effect.Effect<void, CatalogError | StorageError> =>
    Effect.gen(function* () {
      if (lingerMs > 0 && pending.length < maxBatch) yield* Effect.sleep(lingerMs)
      const group = pending.splice(0, maxBatch)
      const failedSteps = yield* runSteps(group)
      const stepFailure = (p: Pending) => {
        for (const step of p.finished.pending) {
          const failure = failedSteps.get(step.key)
          if (failure !== undefined) return failure
        }
        return undefined
      }
      const durable = failedSteps.size === 0 ? group : group.filter((p) => stepFailure(p) === undefined)
      writes += 1
      records += durable.length
      const exit = yield* Effect.exit(
        durable.length === 0 ? Effect.void : catalog.recordDownloads(durable.map((p) => p.finished.record))
      )
      const written: Exit.Exit<Signal, CatalogError> = Exit.as(exit, "written" as const)
      const outcomeOf = (p: Pending): Exit.Exit<Signal, CatalogError | StorageError> => {
        const failure = failedSteps.size === 0 ? undefined : stepFailure(p)
        return failure === undefined ? written : Exit.fail(failure)
      }
      for (const p of group) if (p !== self) yield* Deferred.done(p.signal, outcomeOf(p))
      const next = pending[0]
      if (next === undefined) writing = false
      else yield* Deferred.succeed(next.signal, "lead")
      return yield* outcomeOf(self)
    })

  const record: RecordDownload = (finished) =>
    Effect.suspend(() => {
      // made in place (no fiber id to name it by: that is only what a fiber dump shows a waiter blocked on)
      const self: Pending = { finished, signal: Deferred.unsafeMake<Signal, CatalogError | StorageError>(FiberId.none) }
      pending.push(self)
      if (!writing) {
        writing = true
        return lead(self)
      }
      return Effect.flatMap(Deferred.await(self.signal), (signal) => (signal === "lead" ? lead(self) : Effect.void))
    }).pipe(Effect.uninterruptible)

  return { record, stats: () => ({ records, writes }) }
}
