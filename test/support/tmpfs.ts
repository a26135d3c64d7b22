/**
 * A small real filesystem that fills up: a tmpfs mounted for the test (needs root; CI runs as root), and a filler
 * file that leaves exactly as much free space as a case wants.
 */
import { execFileSync } from "node:child_process"
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** True when this process may mount a tmpfs. */
export const canMount = typeof process.getuid === "function" && process.getuid() === 0

/** Why tmpfs cases are skipped, for the test name. */
export const needsRoot = canMount ? "" : " (skipped: mounting a tmpfs needs root)"

export interface Tmpfs {
  readonly path: string
  /** Bytes free now. */
  readonly free: () => number
  /** Writes a filler file so that about `leave` bytes stay free; returns a function that removes it again. */
  readonly fillTo: (leave: number) => () => void
  readonly unmount: () => void
}

export const mountTmpfs = (bytes: number): Tmpfs => {
  const path = mkdtempSync(join(tmpdir(), "cargohold-tmpfs-"))
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes},mode=0755`, "tmpfs", path])
  const free = () => {
    const info = statfsSync(path)
    return info.bavail * info.bsize
  }
  let fillers = 0
  return {
    path,
    free,
    fillTo: (leave) => {
      const filler = join(path, `.filler-${++fillers}`)
      const fd = openSync(filler, "w")
      const block = Buffer.alloc(64 * 1024, 0x5a)
      try {
        // bounded: at most the size of the filesystem, one block at a time
        for (let i = 0; i < Math.ceil(bytes / block.length) + 1 && free() > leave; i++) {
          writeSync(fd, block, 0, Math.min(block.length, Math.max(4096, free() - leave)))
        }
      } catch {
        // full: that is what was asked for
      } finally {
        closeSync(fd)
      }
      return () => rmSync(filler, { force: true })
    },
    unmount: () => {
      execFileSync("umount", ["-l", path])
      rmSync(path, { recursive: true, force: true })
    }
  }
}
