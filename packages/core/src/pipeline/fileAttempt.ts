/**
 * One attempt at a `file://` source: the platform's `FileSource` opens it under the source's access policy (the
 * roots a data URL may read, see source/FileSource.ts), and its bytes go through the same transfer as a body.
 */
import { Effect, Stream } from "effect"
import { SizeMismatch } from "../domain/errors.js"
import { FileSource } from "../source/FileSource.js"
import type { Candidate } from "./sources.js"
import type { Transfer } from "./transfer.js"

export const readFromFileSource = (transfer: Transfer, source: Candidate) =>
  Effect.gen(function* () {
    const files = yield* FileSource
    const file = yield* files.open(transfer.spec.url, 0, source.fileAccess)
    const expected = transfer.spec.size
    if (expected !== undefined && file.size > expected) {
      return yield* new SizeMismatch({ url: transfer.spec.url, expected, actual: file.size })
    }
    transfer.openedFile(file.size)
    yield* file.body.pipe(Stream.runForEachChunk((chunk) => transfer.accept([...chunk])))
    return yield* transfer.bytesEvent
  })
