/**
 * A plain file descriptor for the store's temp files: the callback `node:fs` calls, without a `FileHandle` object
 * per file (which costs an allocation, GC tracking and extra promise hops on every call).
 *
 * The one thing `FileHandle` did for us is kept: `close` waits for calls still in flight (a write that went on
 * after its download was interrupted), so a descriptor number is never closed — and possibly reused by another
 * open — while the kernel may still write through it.
 */
import { close, fchmod, fdatasync, fstat, fsync, ftruncate, open, read, type Stats, write } from "node:fs"

const done =
  <A>(resolve: (a: A) => void, reject: (e: unknown) => void) =>
  (error: NodeJS.ErrnoException | null, value: A) =>
    error === null ? resolve(value) : reject(error)

export const openDescriptor = (path: string, flags: string, mode: number): Promise<Descriptor> =>
  new Promise<number>((resolve, reject) => open(path, flags, mode, done(resolve, reject))).then(
    (fd) => new Descriptor(fd)
  )

export class Descriptor {
  private inflight = 0
  private drained: (() => void) | undefined = undefined
  private closing: Promise<void> | undefined = undefined

  constructor(private readonly fd: number) {}

  private async use<A>(call: (fd: number, callback: (error: NodeJS.ErrnoException | null, value: A) => void) => void): Promise<A> {
    if (this.closing !== undefined) throw new Error("the temporary object is closed")
    this.inflight += 1
    try {
      return await new Promise<A>((resolve, reject) => call(this.fd, done(resolve, reject)))
    } finally {
      this.inflight -= 1
      if (this.inflight === 0 && this.drained !== undefined) this.drained()
    }
  }

  /** Writes all of `buffer` at `position`. */
  async writeAll(buffer: Uint8Array, position: number): Promise<void> {
    let offset = 0
    while (offset < buffer.length) {
      const at = offset
      offset += await this.use<number>((fd, cb) => write(fd, buffer, at, buffer.length - at, position + at, cb))
    }
  }

  /** Reads `length` bytes at `position` (fewer only at the end of the file), into `into` when given. */
  async readExactly(length: number, position: number, into?: Uint8Array): Promise<Uint8Array> {
    const buffer = into !== undefined && into.length >= length ? into : Buffer.allocUnsafe(length)
    let offset = 0
    while (offset < length) {
      const at = offset
      const n = await this.use<number>((fd, cb) => read(fd, buffer, at, length - at, position + at, cb))
      if (n === 0) break
      offset += n
    }
    // `into` may be longer than asked for: the result is exactly the bytes read, never the rest of the buffer
    return offset === buffer.length ? buffer : buffer.subarray(0, offset)
  }

  sync(): Promise<void> {
    return this.use<void>((fd, cb) => fsync(fd, (e) => cb(e, undefined)))
  }

  /** fdatasync: the data written so far (and the size), not other metadata. */
  datasync(): Promise<void> {
    return this.use<void>((fd, cb) => fdatasync(fd, (e) => cb(e, undefined)))
  }

  chmod(mode: number): Promise<void> {
    return this.use<void>((fd, cb) => fchmod(fd, mode, (e) => cb(e, undefined)))
  }

  truncate(length: number): Promise<void> {
    return this.use<void>((fd, cb) => ftruncate(fd, length, (e) => cb(e, undefined)))
  }

  stat(): Promise<Stats> {
    return this.use<Stats>((fd, cb) => fstat(fd, cb))
  }

  /** Closes once every call in flight has returned; later calls fail. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (
      this.inflight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.drained = resolve
          })
    ).then(() => new Promise<void>((resolve, reject) => close(this.fd, (e) => (e === null ? resolve() : reject(e)))))
    return this.closing
  }
}
