/**
 * Streaming a local file in large chunks through a `FileHandle` whose lifetime is the stream's scope:
 * the descriptor is closed when the stream ends, fails or is interrupted (and `FileHandle.close` waits
 * for a read still in flight, so a closed descriptor number is never read from).
 */
import { constants, type Stats } from "node:fs"
import { type FileHandle, open } from "node:fs/promises"
import { Effect, Option, Stream } from "effect"

/** Default read size: large, so the per-chunk Effect machinery is paid rarely. */
export const readChunkBytes = 1024 * 1024

/** Read size once the announced size is passed (a file that grew while being read). */
const probeBytes = 16 * 1024

/** Flags for opening a source read-only: no blocking on FIFOs, no following a last-moment symlink. */
export const readFlags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW

/** The `code` of a Node system error, if it has one. */
export const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** A short, path-free-of-noise description of a filesystem error. */
export const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

export interface ReadStreamOptions<E> {
  /** First byte to read. */
  readonly offset: number
  readonly chunkBytes?: number
  /** Maps an I/O failure (with the bytes streamed so far) to the stream's error. */
  readonly onError: (cause: unknown, streamed: number) => E
  /**
   * Checks the opened file (e.g. still a regular file, still the same inode, still where it may be read: `fd` is
   * the open descriptor); an error stops the stream before any byte is read.
   */
  readonly check?: (stats: Stats, fd: number) => E | undefined
}

/** Closes a handle, ignoring errors: used only as a finalizer. */
export const closeQuietly = (handle: FileHandle): Effect.Effect<void> =>
  Effect.promise(() => handle.close().catch(() => undefined))

/** Streams `path` from `offset` to its end, one chunk per read. */
export const readFileStream = <E>(path: string, options: ReadStreamOptions<E>): Stream.Stream<Uint8Array, E> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const { onError, check, offset } = options
      const chunkBytes = options.chunkBytes ?? readChunkBytes
      const handle = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => open(path, readFlags), catch: (cause) => onError(cause, 0) }),
        closeQuietly
      )
      const stats = yield* Effect.tryPromise({ try: () => handle.stat(), catch: (cause) => onError(cause, 0) })
      const problem = check?.(stats, handle.fd)
      if (problem !== undefined) return yield* Effect.fail(problem)
      let position = offset
      let atEnd = false
      const readNext: Effect.Effect<Uint8Array, Option.Option<E>> = Effect.suspend(() => {
        if (atEnd) return Effect.fail(Option.none())
        // one byte more than announced: a short read then proves the end, with no extra read to find it
        const remaining = stats.size - position
        const length = remaining >= 0 ? Math.min(chunkBytes, remaining + 1) : probeBytes
        const buffer = Buffer.allocUnsafe(length)
        return Effect.tryPromise({
          try: () => handle.read(buffer, 0, length, position),
          catch: (cause) => Option.some(onError(cause, position - offset))
        }).pipe(
          Effect.flatMap(({ bytesRead }) => {
            if (bytesRead === 0) return Effect.fail(Option.none())
            position += bytesRead
            if (bytesRead < length) {
              atEnd = true
              return Effect.succeed(buffer.subarray(0, bytesRead))
            }
            return Effect.succeed(buffer)
          })
        )
      })
      return Stream.repeatEffectOption(readNext)
    })
  )
