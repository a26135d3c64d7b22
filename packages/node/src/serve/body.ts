/**
 * Writing bytes to a response with backpressure, and reading stored artifacts: a local file (the file store) by
 * descriptor, any other store through its `read` stream.
 */
import type { Sha256, StorageService } from "@cargohold/core"
import { Effect, type Runtime, Stream } from "effect"
import { createReadStream } from "node:fs"
import { readFile } from "node:fs/promises"
import type * as http from "node:http"

/** The response is gone (client closed or the server cut it). */
export const gone = (res: http.ServerResponse): boolean => res.destroyed || res.writableEnded

/** Writes `chunk`; resolves when the socket can take more (or the response is gone). Counts body bytes. */
export const write = (res: http.ServerResponse, chunk: Uint8Array, counter: { bytes: number }): Promise<void> => {
  if (gone(res)) return Promise.resolve()
  counter.bytes += chunk.length
  if (res.write(chunk)) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done)
      res.off("close", done)
      resolve()
    }
    res.on("drain", done)
    res.on("close", done)
  })
}

/** Bytes [start, end] (inclusive) of a stored artifact, written to `res` (not ended). */
export const writeStored = async (
  res: http.ServerResponse,
  storage: StorageService,
  runtime: Runtime.Runtime<never>,
  sha256: Sha256,
  localPath: string | undefined,
  start: number,
  end: number,
  counter: { bytes: number }
): Promise<void> => {
  if (end < start) return
  if (localPath !== undefined) {
    const stream = createReadStream(localPath, { start, end, highWaterMark: 256 * 1024 })
    try {
      for await (const chunk of stream) {
        if (gone(res)) break
        await write(res, chunk as Buffer, counter)
      }
    } finally {
      stream.destroy()
    }
    return
  }
  // another store: its stream from the start, the range cut out of it
  let offset = 0
  await Effect.runPromise(
    storage.read(sha256).pipe(
      Stream.takeWhile(() => offset <= end && !gone(res)),
      Stream.runForEach((chunk) =>
        Effect.promise(async () => {
          const from = Math.max(start - offset, 0)
          const to = Math.min(end + 1 - offset, chunk.length)
          offset += chunk.length
          if (to > from) await write(res, chunk.subarray(from, to), counter)
        })
      ),
      Effect.provide(runtime)
    )
  )
}

/** A whole small local file in one read (fewer syscalls than a stream for the common small artifact). */
export const readSmall = (path: string): Promise<Buffer> => readFile(path)
