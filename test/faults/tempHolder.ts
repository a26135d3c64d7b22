/**
 * A process that holds a temp file of a filesystem store open and then waits (to be killed, or to exit on stdin's
 * end). Usage: node --import tsx test/faults/tempHolder.ts <store-root>. Prints the temp file's name once written.
 */
import { basename } from "node:path"
import { makeFileStorage } from "@cargohold/node"
import { Effect } from "effect"

const [root] = process.argv.slice(2) as [string]

const program = Effect.scoped(
  Effect.gen(function* () {
    const storage = yield* makeFileStorage({ root, minFreeBytes: 0 })
    const temp = yield* storage.begin
    // past one write buffer, so the bytes are on disk
    yield* temp.write([new Uint8Array(2 * 1024 * 1024)])
    const names = yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.readdir(storage.tmpDir)))
    process.stdout.write(`${names.map((name) => basename(name)).join(",")}\n`)
    yield* Effect.async<void>((resume) => {
      process.stdin.on("end", () => resume(Effect.void))
      process.stdin.resume()
    })
  })
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
