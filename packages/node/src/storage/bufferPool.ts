/**
 * Free lists of write buffers in a few size classes, so a store running many downloads neither allocates a
 * buffer per file nor holds a large one for a small file.
 */
export interface BufferPool {
  /** A buffer of at least `bytes` (the smallest class that fits; classes are fixed at creation). */
  readonly take: (bytes: number) => Buffer
  readonly give: (buffer: Buffer) => void
}

export const makeBufferPool = (classes: ReadonlyArray<{ readonly bytes: number; readonly keep: number }>): BufferPool => {
  const sorted = [...classes].sort((a, b) => a.bytes - b.bytes)
  const free = new Map<number, Array<Buffer>>(sorted.map((c) => [c.bytes, []]))
  const keep = new Map<number, number>(sorted.map((c) => [c.bytes, c.keep]))
  return {
    take: (bytes) => {
      const size = sorted.find((c) => c.bytes >= bytes)?.bytes ?? bytes
      return free.get(size)?.pop() ?? Buffer.allocUnsafe(size)
    },
    give: (buffer) => {
      const list = free.get(buffer.length)
      if (list !== undefined && list.length < keep.get(buffer.length)!) list.push(buffer)
    }
  }
}
