/**
 * Fetch leases as files (see FetchLeases in @cargohold/core): `<dir>/<sha256>.lease`, created exclusively
 * (O_EXCL), holding its owner's identity (the temp-file owner name of tempOwners.ts: scope, pid, start time).
 * The owner touches its leases every `heartbeatMs`. Another process takes a lease over when its owner is dead
 * (same machine: the pid is gone or reused) or, for an owner it cannot judge (another host on a shared folder),
 * when the lease has not been touched for `staleMs`.
 * Two processes that take one dead lease over at the same instant may both own it: the artifact is then fetched
 * twice, and stored once (commits are atomic and keep the first copy). A folder that cannot be used makes every
 * claim owned: each process fetches for itself, as with no leases.
 */
import type { FetchLeases, LeaseClaim } from "@cargohold/core/internal/serve/index"
import { Effect, type Scope } from "effect"
import { mkdir, open, readFile, stat, unlink, utimes } from "node:fs/promises"
import { join } from "node:path"
import { ownedName, ownerOf } from "../storage/tempOwners.js"
import { ServeError } from "./errors.js"

export interface FileLeaseOptions {
  readonly heartbeatMs?: number | undefined
  readonly staleMs?: number | undefined
}

const code = (cause: unknown): string | undefined => (cause as NodeJS.ErrnoException | undefined)?.code

export const makeFileLeases = (dir: string, options: FileLeaseOptions = {}): Effect.Effect<FetchLeases, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* Effect.tryPromise({
      try: () => mkdir(dir, { recursive: true }),
      catch: (cause) => new ServeError({ reason: `cannot use the lease folder ${dir}: ${code(cause) ?? String(cause)}` })
    })
    const heartbeatMs = options.heartbeatMs ?? 2000
    const staleMs = options.staleMs ?? 15_000
    const me = ownedName("lease")
    const owned = new Set<string>()
    const timer = setInterval(() => {
      const now = new Date()
      for (const path of owned) utimes(path, now, now).catch(() => {})
    }, heartbeatMs)
    timer.unref()
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        clearInterval(timer)
        await Promise.all([...owned].map((path) => unlink(path).catch(() => {})))
        owned.clear()
      })
    )

    const release = (path: string) =>
      Effect.promise(async () => {
        if (!owned.delete(path)) return
        // only ours: a lease taken over meanwhile (we were judged dead) belongs to its new owner
        const holder = await readFile(path, "utf8").catch(() => "")
        if (holder === me) await unlink(path).catch(() => {})
      })

    /** Whether a lease found in place may be taken over. */
    const abandoned = async (path: string): Promise<boolean> => {
      const holder = await readFile(path, "utf8").catch(() => undefined)
      if (holder === undefined) return false // gone meanwhile: the next try creates it
      const judged = holder === "" ? "unknown" : ownerOf(holder)
      if (judged === "dead") return true
      if (judged === "alive") return false
      const info = await stat(path).catch(() => undefined)
      return info !== undefined && Date.now() - info.mtimeMs > staleMs
    }

    const claim = async (sha256: string): Promise<LeaseClaim> => {
      const path = join(dir, `${sha256}.lease`)
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const handle = await open(path, "wx")
          try {
            await handle.writeFile(me)
          } finally {
            await handle.close()
          }
          owned.add(path)
          return { _tag: "Owned", release: release(path) }
        } catch (cause) {
          if (code(cause) !== "EEXIST") return { _tag: "Owned", release: Effect.void }
        }
        if (!(await abandoned(path))) return { _tag: "Held" }
        await unlink(path).catch(() => {})
      }
      return { _tag: "Held" }
    }

    return { claim: (sha256) => Effect.promise(() => claim(sha256)) }
  })
