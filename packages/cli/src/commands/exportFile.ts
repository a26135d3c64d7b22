/**
 * A local file as the target of `exportTo`: bytes go to a temp file beside the destination; every write is checked
 * for all its bytes (a short write is continued, a full disk is an error), and only once the library has verified
 * them is the file checked to hold exactly the bytes counted, fsynced, renamed over the destination, and its folder
 * fsynced — so the file appears whole and durable, or not at all. An abandoned attempt removes its temp file.
 */
import type { ExportTarget } from "@cargohold/core"
import { Effect, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import { type FileHandle, open, rename, rm } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { OutputError } from "../errors.js"
import { describeIoError } from "../output.js"

const fail = (what: string, error: unknown) => new OutputError({ message: `${what}: ${describeIoError(error)}` })

/** Writes all of `chunk` at `position`, however many writes it takes; returns the bytes written. */
const writeAll = async (handle: FileHandle, chunk: Uint8Array, position: number): Promise<number> => {
  let done = 0
  while (done < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done)
    // a write that takes nothing would loop forever: the device refuses the bytes
    if (bytesWritten <= 0) throw Object.assign(new Error("the device took no bytes"), { code: "EIO" })
    done += bytesWritten
  }
  return done
}

/** fsyncs a folder, so a rename in it survives a crash. */
const syncFolder = async (path: string): Promise<void> => {
  const folder = await open(path, "r")
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}

export const fileTarget = (destination: string): Effect.Effect<ExportTarget<OutputError>, OutputError, Scope.Scope> =>
  Effect.gen(function* () {
    const temp = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.part`)
    let committed = false
    /** Bytes the file has taken, counted from the writes' own answers. */
    let written = 0
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
            for (const chunk of chunks) written += await writeAll(handle, chunk, written)
          },
          catch: (e) => fail(`cannot write ${temp}`, e)
        }),
      commit: Effect.tryPromise({
        try: async () => {
          await handle.sync()
          const onDisk = (await handle.stat()).size
          if (onDisk !== written) {
            throw Object.assign(new Error(`the file holds ${onDisk} bytes, ${written} were written`), { code: "EIO" })
          }
          await handle.close()
          await rename(temp, destination)
          committed = true
          await syncFolder(dirname(destination))
        },
        catch: (e) => fail(`cannot write ${destination}`, e)
      })
    }
  })
