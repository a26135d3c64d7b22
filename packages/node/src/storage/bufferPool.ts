/**
 * A small free list of write buffers, so a store running many downloads does not allocate one per file.
 */
export interface BufferPool {
  readonly take: () => Buffer
  readonly give: (buffer: Buffer) => void
}

export const makeBufferPool = (bytes: number, keep: number): BufferPool => {
  const free: Array<Buffer> = []
  return {
    take: () => free.pop() ?? Buffer.allocUnsafe(bytes),
    give: (buffer) => {
      if (buffer.length === bytes && free.length < keep) free.push(buffer)
    }
  }
}
