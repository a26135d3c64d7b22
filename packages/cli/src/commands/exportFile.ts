/**
 * A local file as the target of `exportTo`: bytes go to a temp file beside the destination, which is fsynced and
 * renamed over it only once the library has verified them; an abandoned attempt removes its temp file.
 */
import type { ExportTarget } from "@cargohold/core"
import { Effect, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import { open, rename, rm } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { UsageError } from "../errors.js"

const fail = (what: string, error: unknown) =>
  new UsageError({ message: `${what}: ${error instanceof Error ? error.message : String(error)}` })

export const fileTarget = (destination: string): Effect.Effect<ExportTarget<UsageError>, UsageError, Scope.Scope> =>
  Effect.gen(function* () {
    const temp = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.part`)
    let committed = false
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => open(temp, "wx", 0o644), catch: (e) => fail(`cannot create ${temp}`, e) }),
      (handle) =>
        Effect.promise(async () => {
          await handle.close().catch(() => undefined)
          if (!committed) await rm(temp, { force: true })
        })
    )
    return {
      write: (chunks) =>
        Effect.tryPromise({
          try: async () => {
            for (const chunk of chunks) await handle.write(chunk)
          },
          catch: (e) => fail(`cannot write ${temp}`, e)
        }),
      commit: Effect.tryPromise({
        try: async () => {
          await handle.sync()
          await rename(temp, destination)
          committed = true
        },
        catch: (e) => fail(`cannot write ${destination}`, e)
      })
    }
  })
