/**
 * `file://` sources on the local filesystem, confined as `FileAccess` says (see @cargohold/core's FileSource).
 *
 * The URL is resolved with `fileURLToPath` and `realpath`, so `..` segments and symlinks are followed before any
 * check: a path that ends up outside every root it may use is refused, as is anything under /proc, /sys or /dev
 * and anything that is not a regular file. The check is made again on the opened descriptor (its path in
 * /proc/self/fd, or a fresh realpath where there is no procfs, and the same inode as the one checked), so a folder
 * swapped for a symlink between the check and the open is caught. `open` only inspects the file; the descriptor is
 * opened by the body stream and closed with it, so a body that is never consumed leaks nothing.
 */
import { readlinkSync, realpathSync, type Stats } from "node:fs"
import { realpath, stat } from "node:fs/promises"
import { isAbsolute, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import {
  type FileAccess,
  FileSource,
  type FileSourceService,
  InvalidRequest,
  type OpenedFile,
  TransferError
} from "@cargohold/core"
import { fileRootHint, fromData, systemTreeOf } from "@cargohold/core/internal/source/FileSource"
import { Effect, Layer } from "effect"
import { describe, errorCode, readFileStream } from "../fs/readStream.js"

export interface FileSourceOptions {
  /**
   * Folders `file://` URLs from data (manifests, catalog sources, remotes) may be read from, or `"any"`: every
   * URL without a remote is trusted like a typed one. URLs the user typed reach any regular file either way, and
   * nothing under /proc, /sys or /dev is read ever.
   */
  readonly roots: ReadonlyArray<string> | "any"
  /** Bytes per read (default 1 MiB). */
  readonly chunkBytes?: number
}

const kind = (stats: Stats): string =>
  stats.isDirectory()
    ? "a directory"
    : stats.isFIFO()
      ? "a named pipe"
      : stats.isSocket()
        ? "a socket"
        : stats.isCharacterDevice() || stats.isBlockDevice()
          ? "a device"
          : "not a regular file"

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path)
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel))
}

const openFailure = (url: string, cause: unknown): InvalidRequest => {
  switch (errorCode(cause)) {
    case "ENOENT":
    case "ENOTDIR":
      return new InvalidRequest({ url, reason: "no such file" })
    case "EACCES":
    case "EPERM":
      return new InvalidRequest({ url, reason: "permission denied" })
    case "ELOOP":
      return new InvalidRequest({ url, reason: "too many levels of symbolic links" })
    default:
      return new InvalidRequest({ url, reason: `cannot open: ${describe(cause)}` })
  }
}

/** The local path a `file://` URL names, or the reason it names none. */
const toPath = (url: string): string | InvalidRequest => {
  try {
    const parsed = new URL(url)
    if (parsed.protocol !== "file:") return new InvalidRequest({ url, reason: "not a file:// URL" })
    return fileURLToPath(parsed)
  } catch (cause) {
    return new InvalidRequest({ url, reason: `not a local file URL: ${describe(cause)}` })
  }
}

/** A root as compared: its realpath when it exists (a symlinked root allows what it points to). */
const resolveRoot = (root: string): string => {
  try {
    return realpathSync(resolve(root))
  } catch {
    return resolve(root)
  }
}

/**
 * The real path of an open descriptor: its /proc/self/fd link on Linux; elsewhere a fresh realpath of `path`
 * (the caller also compares inodes, so a file swapped in between is caught either way).
 */
const openedPath = (fd: number, path: string): string | undefined => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    try {
      return realpathSync(path)
    } catch {
      return undefined
    }
  }
}

/** Builds a FileSource; the layer's roots are resolved (realpath) once, here; a remote's on first use. */
export const makeFileSource = (options: FileSourceOptions): Effect.Effect<FileSourceService> =>
  Effect.sync(() => {
    const roots = options.roots === "any" ? "any" : options.roots.map(resolveRoot)
    const remoteRoots = new Map<string, string>()
    const resolvedRemoteRoot = (root: string) => {
      let resolved = remoteRoots.get(root)
      if (resolved === undefined) {
        resolved = resolveRoot(root)
        remoteRoots.set(root, resolved)
      }
      return resolved
    }

    /** Why `access` may not read the file at `real` (resolved from `path`), or undefined when it may. */
    const refusal = (real: string, path: string, access: FileAccess): string | undefined => {
      const linked = real !== path
      const tree = systemTreeOf(real)
      if (tree !== undefined) {
        return `${linked ? `resolves (through .. or a symlink) to ${real}, ` : ""}under ${tree}, which cargohold never reads`
      }
      if (access.chosenByUser) return undefined
      const remote = access.remote
      if (remote === undefined && roots === "any") return undefined
      if (roots !== "any" && roots.some((root) => inside(root, real))) return undefined
      const own = remote?.fileRoots ?? []
      if (own.some((root) => inside(resolvedRemoteRoot(root), real))) return undefined
      const where = linked ? `resolves (through .. or a symlink) outside the allowed roots (to ${real})` : "outside the allowed roots"
      const why =
        remote === undefined
          ? "a file:// URL from a manifest, the catalog or a program's data is read only under an explicit file root"
          : own.length === 0
            ? `remote '${remote.name}' allows no file:// sources (it names no fileRoots) and no file root covers this one`
            : `a file:// URL of remote '${remote.name}' is read only under its fileRoots or an explicit file root`
      return `${where}: ${why}; ${fileRootHint}`
    }

    const open = (url: string, offset: number, access: FileAccess = fromData): Effect.Effect<OpenedFile, InvalidRequest> =>
      Effect.gen(function* () {
        const path = toPath(url)
        if (typeof path !== "string") return yield* path
        const real = yield* Effect.tryPromise({ try: () => realpath(path), catch: (cause) => openFailure(url, cause) })
        const refused = refusal(real, path, access)
        if (refused !== undefined) return yield* new InvalidRequest({ url, reason: refused })
        const stats = yield* Effect.tryPromise({ try: () => stat(real), catch: (cause) => openFailure(url, cause) })
        if (!stats.isFile()) return yield* new InvalidRequest({ url, reason: `${kind(stats)}, not a regular file` })
        if (!(Number.isSafeInteger(offset) && offset >= 0 && offset <= stats.size)) {
          return yield* new InvalidRequest({ url, reason: `offset ${offset} is outside the file (${stats.size} bytes)` })
        }
        const body = readFileStream<TransferError>(real, {
          offset,
          chunkBytes: options.chunkBytes,
          onError: (cause, streamed) => new TransferError({ url, received: streamed, reason: describe(cause) }),
          check: (opened, fd) => {
            if (!(opened.isFile() && opened.ino === stats.ino && opened.dev === stats.dev)) {
              return new TransferError({ url, received: 0, reason: "the file was replaced while being opened" })
            }
            const at = openedPath(fd, real)
            const moved = at === undefined ? "its path cannot be checked" : refusal(at, at, access)
            return moved === undefined
              ? undefined
              : new TransferError({ url, received: 0, reason: `refused once opened: ${moved}` })
          }
        })
        return { size: stats.size, version: `${stats.size}-${stats.mtimeMs}`, body }
      })
    return { open }
  })

/** Provides `FileSource` reading as `options` says. */
export const layerFileSource = (options: FileSourceOptions): Layer.Layer<FileSource> =>
  Layer.effect(FileSource, makeFileSource(options))
