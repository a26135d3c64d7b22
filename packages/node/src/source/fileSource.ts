/**
 * `file://` sources on the local filesystem, confined to allowed roots.
 *
 * The URL is resolved with `fileURLToPath` and `realpath`, so `..` segments and symlinks are followed before the
 * root check: a path that ends up outside every root is refused, as is anything that is not a regular file.
 * `open` only inspects the file; the descriptor is opened by the body stream and closed with it, so a body that
 * is never consumed leaks nothing.
 */
import type { Stats } from "node:fs"
import { realpath, stat } from "node:fs/promises"
import { isAbsolute, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { FileSource, type FileSourceService, InvalidRequest, type OpenedFile, TransferError } from "@cargohold/core"
import { Effect, Layer } from "effect"
import { describe, errorCode, readFileStream } from "../fs/readStream.js"

export interface FileSourceOptions {
  /** Directories files may be read from, or `"any"` for no restriction (regular files only, still). */
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

/** Builds a FileSource; the roots are resolved (realpath) once, here. */
export const makeFileSource = (options: FileSourceOptions): Effect.Effect<FileSourceService> =>
  Effect.gen(function* () {
    const roots =
      options.roots === "any"
        ? "any"
        : yield* Effect.forEach(options.roots, (root) =>
            Effect.promise(() => realpath(resolve(root)).catch(() => resolve(root)))
          )
    const allowed = (path: string) => roots === "any" || roots.some((root) => inside(root, path))
    const open = (url: string, offset: number): Effect.Effect<OpenedFile, InvalidRequest> =>
      Effect.gen(function* () {
        const path = toPath(url)
        if (typeof path !== "string") return yield* path
        const real = yield* Effect.tryPromise({ try: () => realpath(path), catch: (cause) => openFailure(url, cause) })
        if (!allowed(real)) {
          return yield* new InvalidRequest({
            url,
            reason: real === path ? "outside the allowed roots" : "resolves (through .. or a symlink) outside the allowed roots"
          })
        }
        const stats = yield* Effect.tryPromise({ try: () => stat(real), catch: (cause) => openFailure(url, cause) })
        if (!stats.isFile()) return yield* new InvalidRequest({ url, reason: `${kind(stats)}, not a regular file` })
        if (!(Number.isSafeInteger(offset) && offset >= 0 && offset <= stats.size)) {
          return yield* new InvalidRequest({ url, reason: `offset ${offset} is outside the file (${stats.size} bytes)` })
        }
        const body = readFileStream<TransferError>(real, {
          offset,
          chunkBytes: options.chunkBytes,
          onError: (cause, streamed) => new TransferError({ url, received: streamed, reason: describe(cause) }),
          check: (opened) =>
            opened.isFile() && opened.ino === stats.ino && opened.dev === stats.dev
              ? undefined
              : new TransferError({ url, received: 0, reason: "the file was replaced while being opened" })
        })
        return { size: stats.size, version: `${stats.size}-${stats.mtimeMs}`, body }
      })
    return { open }
  })

/** Provides `FileSource` reading from `roots` (or anywhere with `"any"`). */
export const layerFileSource = (options: FileSourceOptions): Layer.Layer<FileSource> =>
  Layer.effect(FileSource, makeFileSource(options))
