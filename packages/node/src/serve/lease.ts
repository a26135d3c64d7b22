/**
 * Fetch leases as files (see FetchLeases in @cargohold/core): `<dir>/<sha256>.lease`, created exclusively
 * (O_EXCL), holding its owner's identity (the temp-file owner name of tempOwners.ts: scope, pid, start time).
 * The owner touches its leases every `heartbeatMs`. Another process takes a lease over when its owner is dead
 * (same machine: the pid is gone or reused) or, for an owner it cannot judge (another host on a shared folder),
 * when the lease has not been touched for `staleMs`.
 * Nobody but a lease's owner and the one process taking it over ever removes a lease, so every new lease comes from
 * O_EXCL and has one owner. The taker is chosen by `link(2)`, which fails when its target exists: each process that
 * judges a lease abandoned links it to a name derived from its holder, `<sha256>.lease.<holder hash>.taken`; the one
 * whose link succeeds, and which finds the holder it judged in what it linked, removes the lease (nobody can have
 * replaced it meanwhile), then everybody races on O_EXCL again. A link that reaches a fresh lease instead (the old
 * one was already taken over) removes only its own name. A taker that died leaves its `.taken` name: cleared once
 * older than `staleMs` (by ctime: the link's time, not the lease's last heartbeat). A folder that cannot be used
 * makes every claim owned: each process fetches for itself, as with no leases.
 */
import type { FetchLeases, LeaseClaim } from "@cargohold/core/internal/serve/index"
import { Effect, type Scope } from "effect"
import { createHash } from "node:crypto"
import { link, mkdir, open, readdir, readFile, stat, unlink, utimes } from "node:fs/promises"
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
    // moved-aside leases of takers that died between their rename and their unlink
    yield* Effect.promise(async () => {
      for (const name of await readdir(dir).catch(() => [])) {
        if (!name.endsWith(".taken")) continue
        const info = await stat(join(dir, name)).catch(() => undefined)
        if (info !== undefined && Date.now() - info.ctimeMs > staleMs) await unlink(join(dir, name)).catch(() => {})
      }
    })
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

    /** The holder of a lease found in place when it may be taken over; "gone" when it vanished meanwhile. */
    const abandoned = async (path: string): Promise<{ readonly holder: string } | "held" | "gone"> => {
      const holder = await readFile(path, "utf8").catch(() => undefined)
      if (holder === undefined) return "gone" // the next try creates it
      const judged = holder === "" ? "unknown" : ownerOf(holder)
      if (judged === "dead") return { holder }
      if (judged === "alive") return "held"
      const info = await stat(path).catch(() => undefined)
      return info !== undefined && Date.now() - info.mtimeMs > staleMs ? { holder } : "held"
    }

    /** Removes an abandoned lease if this process is the one that takes it over (see the header). */
    const takeOver = async (path: string, holder: string): Promise<void> => {
      const taker = `${path}.${createHash("sha256").update(holder).digest("hex").slice(0, 16)}.taken`
      try {
        await link(path, taker)
      } catch (cause) {
        // EEXIST: another process takes this lease over now (or died doing so: its name goes once stale)
        const info = code(cause) === "EEXIST" ? await stat(taker).catch(() => undefined) : undefined
        if (info !== undefined && Date.now() - info.ctimeMs > staleMs) await unlink(taker).catch(() => {})
        return
      }
      try {
        if ((await readFile(taker, "utf8").catch(() => undefined)) === holder) await unlink(path).catch(() => {})
      } finally {
        await unlink(taker).catch(() => {})
      }
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
        const found = await abandoned(path)
        if (found === "held") return { _tag: "Held" }
        if (found !== "gone") await takeOver(path, found.holder)
      }
      return { _tag: "Held" }
    }

    return { claim: (sha256) => Effect.promise(() => claim(sha256)) }
  })
