import { execFileSync } from "node:child_process"
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { InvalidRequest } from "@cargohold/core"
import { makeFileSource } from "@cargohold/node"
import { Chunk, Effect, Exit, Fiber, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytes, fdsUnder, tempDir } from "./helpers.js"

const dir = tempDir()
const root = join(dir.path, "root")
const outside = join(dir.path, "outside")
const big = bytes(3 * 1024 * 1024 + 123, 3)

beforeAll(() => {
  mkdirSync(join(root, "sub"), { recursive: true })
  mkdirSync(outside)
  writeFileSync(join(root, "sub", "a.bin"), big)
  writeFileSync(join(outside, "secret.txt"), "secret")
  symlinkSync(join(outside, "secret.txt"), join(root, "escape.txt"))
  symlinkSync(join(root, "sub", "a.bin"), join(root, "inside-link.bin"))
  execFileSync("mkfifo", [join(root, "fifo")])
})
afterAll(() => dir.remove())

const url = (path: string) => pathToFileURL(path).href

const readAll = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Stream.runCollect(stream).pipe(Effect.map((chunks) => Chunk.toReadonlyArray(chunks)))

const concat = (chunks: ReadonlyArray<Uint8Array>) => Buffer.concat(chunks.map((c) => Buffer.from(c)))

const refusal = async (source: Effect.Effect<unknown, InvalidRequest>) => {
  const exit = await Effect.runPromiseExit(source)
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a failure, got ${String(exit)}`)
  expect(exit.cause.error).toBeInstanceOf(InvalidRequest)
  return exit.cause.error.reason
}

describe("file:// FileSource", () => {
  it("streams a file in large chunks, from an offset", async () => {
    const source = await Effect.runPromise(makeFileSource({ roots: [root] }))
    const opened = await Effect.runPromise(source.open(url(join(root, "sub", "a.bin")), 0))
    expect(opened.size).toBe(big.length)
    const chunks = await Effect.runPromise(readAll(opened.body))
    expect(concat(chunks).equals(Buffer.from(big))).toBe(true)
    expect(chunks.slice(0, -1).every((c) => c.length >= 256 * 1024)).toBe(true)
    const tail = await Effect.runPromise(source.open(url(join(root, "sub", "a.bin")), 1_000_000))
    expect(concat(await Effect.runPromise(readAll(tail.body))).equals(Buffer.from(big.subarray(1_000_000)))).toBe(true)
  })

  it("follows a symlink that stays inside a root", async () => {
    const source = await Effect.runPromise(makeFileSource({ roots: [root] }))
    const opened = await Effect.runPromise(source.open(url(join(root, "inside-link.bin")), 0))
    expect(opened.size).toBe(big.length)
  })

  it("refuses .. and symlinks that leave the roots, non-regular files, missing files", async () => {
    const source = await Effect.runPromise(makeFileSource({ roots: [root] }))
    const dotdot = `${url(root)}/sub/../../outside/secret.txt`
    expect(await refusal(source.open(dotdot, 0))).toMatch(/outside the allowed roots/)
    expect(await refusal(source.open(`${url(root)}/%2E%2E/outside/secret.txt`, 0))).toMatch(/outside the allowed roots/)
    expect(await refusal(source.open(url(join(root, "escape.txt")), 0))).toMatch(/symlink\) outside the allowed roots/)
    expect(await refusal(source.open(url(join(root, "sub")), 0))).toMatch(/directory, not a regular file/)
    expect(await refusal(source.open(url(join(root, "fifo")), 0))).toMatch(/named pipe/)
    expect(await refusal(source.open(url(join(root, "missing.bin")), 0))).toMatch(/no such file/)
    expect(await refusal(source.open(`${url(root)}/a%2Fb`, 0))).toMatch(/not a local file URL/)
    expect(await refusal(source.open("file://otherhost/etc/passwd", 0))).toMatch(/not a local file URL/)
  })

  it('with roots "any": any regular file, still no devices or pipes', async () => {
    const source = await Effect.runPromise(makeFileSource({ roots: "any" }))
    const opened = await Effect.runPromise(source.open(url(join(root, "escape.txt")), 0))
    expect(Buffer.from(concat(await Effect.runPromise(readAll(opened.body)))).toString()).toBe("secret")
    expect(await refusal(source.open("file:///dev/zero", 0))).toMatch(/device/)
    expect(await refusal(source.open(url(join(root, "fifo")), 0))).toMatch(/named pipe/)
  })

  it("closes the descriptor when the body is dropped, fails early or is interrupted", async () => {
    const source = await Effect.runPromise(makeFileSource({ roots: [root], chunkBytes: 256 * 1024 }))
    const opened = await Effect.runPromise(source.open(url(join(root, "sub", "a.bin")), 0))
    // never consumed: nothing was opened
    expect(fdsUnder(root)).toEqual([])
    // partly consumed
    await Effect.runPromise(Stream.runDrain(Stream.take(opened.body, 1)))
    expect(fdsUnder(root)).toEqual([])
    // failed mid-stream
    const failed = await Effect.runPromiseExit(
      opened.body.pipe(
        Stream.zipWithIndex,
        Stream.mapEffect(([, i]) => (i === 2 ? Effect.fail("boom") : Effect.void)),
        Stream.runDrain
      )
    )
    expect(Exit.isFailure(failed)).toBe(true)
    expect(fdsUnder(root)).toEqual([])
    // interrupted while reading slowly
    const fiber = Effect.runFork(opened.body.pipe(Stream.tap(() => Effect.sleep(50)), Stream.runDrain))
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect(fdsUnder(root).length).toBe(1)
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(fdsUnder(root)).toEqual([])
  })
})
