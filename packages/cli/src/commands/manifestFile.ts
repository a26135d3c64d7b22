/**
 * A manifest file read again from its start each time the batch needs its requests, in 1 MiB chunks, instead of
 * holding its text for the whole run (100,000 lines are ≈ 12 MB). Every read is checked chunk by chunk against the
 * first one (a sha256 per chunk): what the batch gets is exactly what was validated. A file changed in between
 * ends the read there, and `changed` says so — the caller reports it; nothing read after the change is used.
 */
import { createHash } from "node:crypto"
import { closeSync, openSync, readSync } from "node:fs"
import { StringDecoder } from "node:string_decoder"

const chunkBytes = 1024 * 1024

export class ManifestFile {
  /** sha256 of each chunk as first read; complete once a read reached the end (`chunkCount` known). */
  private readonly digests: Array<string> = []
  private chunkCount: number | undefined = undefined
  private change: string | undefined = undefined

  constructor(readonly path: string) {}

  /** Set once a read found the file not as it was first read. */
  get changed(): string | undefined {
    return this.change
  }

  /**
   * The text from its start, chunk by chunk (UTF-8), each ending on a line's end (the rest goes with the next
   * chunk); ends early, `changed` set, where the file differs — without the line it was in the middle of, which a
   * reader would otherwise take for a whole (truncated) last line.
   */
  readonly chunks = (): Iterable<string> => this.read()

  private *read(): Generator<string> {
    const buffer = Buffer.allocUnsafe(chunkBytes)
    const decoder = new StringDecoder("utf8")
    // the text after the last newline so far: handed out only with its end (or at a clean end of the file)
    let partial = ""
    for (let index = 0; this.change === undefined; index++) {
      // opened for each chunk: no descriptor is held while the batch works on a chunk's requests (a batch that
      // stops early need not close anything)
      const length = readChunk(this.path, buffer, index * chunkBytes)
      if (typeof length === "string") {
        this.change = `it can no longer be read (${length})`
        return
      }
      if (length === 0) {
        if (this.chunkCount === undefined) this.chunkCount = index
        else if (index !== this.chunkCount) this.change = "it is shorter than when it was validated"
        if (this.change !== undefined) return
        const tail = partial + decoder.end()
        if (tail !== "") yield tail
        return
      }
      const digest = createHash("sha256").update(buffer.subarray(0, length)).digest("hex")
      const known = this.digests[index]
      if (known === undefined && this.chunkCount === undefined) this.digests.push(digest)
      else if (known !== digest) {
        this.change = `its bytes from ${index * chunkBytes} on are not those validated`
        return
      }
      const text = partial + decoder.write(buffer.subarray(0, length))
      const end = text.lastIndexOf("\n") + 1
      partial = text.slice(end)
      if (end > 0) yield text.slice(0, end)
    }
  }
}

/** Reads up to `buffer.length` bytes at `position` (fewer only at the end of the file); the error's text if it fails. */
const readChunk = (path: string, buffer: Buffer, position: number): number | string => {
  let fd: number | undefined
  try {
    fd = openSync(path, "r")
    let length = 0
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, position + length)
      if (n === 0) break
      length += n
    }
    return length
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
