/**
 * Issue 13: a watched stream judged slow is "diverted" (the rest comes in segments, its bytes kept) only when the
 * failure is the watch's own stop and every byte it counts is in the temp object — not when the write of the
 * stopping chunk failed (its bytes hashed, not all written: segments would fill the hole and the commit's size
 * check would pass).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { DownloadSpec } from "../../packages/core/src/domain/request.js"
import { type DownloadError, StorageError } from "../../packages/core/src/domain/errors.js"
import { pureHasher } from "../../packages/core/src/hash/Hasher.js"
import { silent } from "../../packages/core/src/progress/Progress.js"
import type { TempObject } from "../../packages/core/src/storage/Storage.js"
import { Transfer } from "../../packages/core/src/pipeline/transfer.js"
import { firstWindowMs } from "../../packages/core/src/pipeline/segments/watch.js"

const MiB = 1024 * 1024
const head = { total: 256 * MiB, acceptRanges: true, etag: '"e"', lastModified: undefined }

/** A temp object counting what it was given; `refuse` makes the next appends fail like a full disk. */
const countingTemp = () => {
  const state = { written: 0, refuse: false }
  const temp: TempObject = {
    write: (chunks) => Effect.sync(() => void (state.written += chunks.reduce((n, c) => n + c.length, 0))),
    append: (chunk) => {
      if (state.refuse) return Promise.reject(new StorageError({ operation: "write", reason: "DiskFull", detail: "refused" }))
      state.written += chunk.length
      return undefined
    },
    reset: Effect.sync(() => void (state.written = 0)),
    written: () => state.written,
    commit: () => Effect.die("not committed in this test")
  }
  return { temp, state }
}

/** Feeds one 64 KiB chunk through the lean path's sink; the error that stopped it, if any. */
const feed = async (transfer: Transfer): Promise<unknown> => {
  try {
    await transfer.sink(new Uint8Array(64 * 1024))
    return undefined
  } catch (error) {
    return error
  }
}

const watchedTransfer = (temp: TempObject) => {
  const spec = new DownloadSpec({ url: "http://mirror.test/big.iso", scheme: "http:", digests: {}, headers: {} })
  const transfer = new Transfer(1, spec, temp, pureHasher, silent)
  transfer.attemptStarts()
  transfer.watchedFrom(head, 64 * MiB)
  return transfer
}

const pastFirstWindow = () => new Promise((resolve) => setTimeout(resolve, firstWindowMs + 20))

describe("a watched stream stopped as slow", () => {
  it("its stop, every byte written: diverted with those bytes", async () => {
    const { temp } = countingTemp()
    const transfer = watchedTransfer(temp)
    expect(await feed(transfer)).toBeUndefined()
    await pastFirstWindow()
    const stop = await feed(transfer)
    expect(stop).toMatchObject({ _tag: "TransferError" })
    expect(transfer.divertedBy(stop as DownloadError)).toMatchObject({ received: 128 * 1024 })
    expect(temp.written()).toBe(128 * 1024)
  })

  it("the stopping chunk's write failed: not diverted, the storage error stands", async () => {
    const { temp, state } = countingTemp()
    const transfer = watchedTransfer(temp)
    expect(await feed(transfer)).toBeUndefined()
    await pastFirstWindow()
    state.refuse = true
    const error = await feed(transfer)
    expect(error).toMatchObject({ _tag: "StorageError" })
    expect(transfer.divertedBy(error as DownloadError)).toBeUndefined()
    // the hashes took 128 KiB, the temp object 64 KiB: nothing may go on from there
    expect(transfer.received).toBe(128 * 1024)
    expect(temp.written()).toBe(64 * 1024)
  })

  it("a later attempt starts undiverted", async () => {
    const { temp } = countingTemp()
    const transfer = watchedTransfer(temp)
    await feed(transfer)
    await pastFirstWindow()
    const stop = await feed(transfer)
    transfer.attemptStarts()
    expect(transfer.divertedBy(stop as DownloadError)).toBeUndefined()
  })
})
