/**
 * Shared helpers of the @cargohold/node tests: temp folders, descriptor counts, a loopback HTTP server.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sha256, Storage, StorageError } from "@cargohold/core"
import { Chunk, Effect, Stream } from "effect"
import { afterEach } from "vitest"

export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")

/** A fresh temp folder; the returned function removes it. */
export const tempDir = (prefix = "cargohold-node-"): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * A fresh store root per call (`<temp dir>/store`, not yet created), each removed after the test that made it: call
 * once at the top of a test file.
 */
export const freshRoots = (): (() => string) => {
  const dirs: Array<{ remove: () => void }> = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove()
  })
  return () => {
    const dir = tempDir()
    dirs.push(dir)
    return join(dir.path, "store")
  }
}

/** A stored object's bytes, read back through the store. */
export const readBack = (storage: Storage["Type"], sha256: string): Effect.Effect<Buffer, StorageError> =>
  Stream.runCollect(storage.read(sha256 as Sha256)).pipe(
    Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks).map((c) => Buffer.from(c))))
  )

/** Descriptors this process has open, sockets excepted (an HTTP pool closes idle sockets on its own clock). */
export const openFds = (): number => {
  let count = 0
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) count++
    } catch {
      // the readdir's own descriptor, closed meanwhile
    }
  }
  return count
}

/** Descriptors open on files under `dir`. */
export const fdsUnder = (dir: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      if (target.startsWith(dir)) found.push(target)
    } catch {
      // closed meanwhile (the readdir's own descriptor)
    }
  }
  return found
}

/**
 * Every file below `dir` (relative paths), folders excluded, and so is a store's layout file (`.layout`: it says
 * how the store shards its objects and is not one of them).
 */
export const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name !== ".layout")
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort()

/** Deterministic pseudo-random bytes. */
export const bytes = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export interface TestServer {
  readonly url: (path: string) => string
  readonly requests: Array<string>
  readonly close: () => Promise<void>
}

/** A node:http server on 127.0.0.1, port 0. */
export const startServer = async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> => {
  const requests: Array<string> = []
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "")
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
