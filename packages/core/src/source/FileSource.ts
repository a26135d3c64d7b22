/**
 * Reading `file://` sources. The core cannot touch a filesystem; platform packages provide one.
 *
 * Who may read what: a `file://` URL the person running the program typed (a command-line argument, a request
 * marked `chosenBy: "user"`) may name any regular file of theirs; one that came from data — a manifest, a
 * Metalink, a catalog source, a remote's listing — only a file under an explicit root (the platform layer's
 * roots, e.g. `--file-root DIR`, and its remote's `fileRoots`). Nothing under /proc, /sys or /dev is ever read,
 * whoever asks: those trees hold the process's environment, memory and devices, never an artifact.
 */
import { Context, Effect, type Stream } from "effect"
import { InvalidRequest, type TransferError } from "../domain/errors.js"

export interface OpenedFile {
  readonly size: number
  /** The file's bytes from `offset` on. */
  readonly body: Stream.Stream<Uint8Array, TransferError>
  /** A stable version marker (size and mtime) for resume checks. */
  readonly version: string
}

/** Where a `file://` URL came from, which decides what it may reach. */
export interface FileAccess {
  /** Typed by the person running the program: any regular file outside /proc, /sys and /dev. */
  readonly chosenByUser: boolean
  /** The remote the URL belongs to: its `fileRoots` allow it too (the layer's roots still do). */
  readonly remote?: { readonly name: string; readonly fileRoots?: ReadonlyArray<string> | undefined } | undefined
}

/** The access of a URL nobody vouched for: explicit roots only. */
export const fromData: FileAccess = { chosenByUser: false }

/** Trees never read, whatever the roots or the origin of the URL, and what they hold. */
export const systemTrees: Readonly<Record<string, string>> = {
  "/proc": "process state: environments, memory",
  "/sys": "kernel state",
  "/dev": "devices"
}

/** The system tree an absolute, normalized path lies in, as a phrase for messages; undefined when none. */
export const systemTreeOf = (path: string): string | undefined => {
  for (const [tree, holds] of Object.entries(systemTrees)) {
    if (path === tree || path.startsWith(`${tree}/`)) return `${tree} (${holds})`
  }
  return undefined
}

/** The part of a refusal that says how to allow a folder. */
export const fileRootHint = "pass --file-root DIR (fileRoots in the library) to allow a folder"

export interface FileSourceService {
  /**
   * Opens a local file for reading. Fails with `InvalidRequest` when `access` does not reach the file (see the
   * module comment; default: explicit roots only), or it is missing or not a regular file.
   */
  readonly open: (url: string, offset: number, access?: FileAccess) => Effect.Effect<OpenedFile, InvalidRequest>
}

export const unsupportedFileSource: FileSourceService = {
  open: (url) => Effect.fail(new InvalidRequest({ url, reason: "file:// sources need a platform layer (e.g. @cargohold/node)" }))
}

export class FileSource extends Context.Reference<FileSource>()("@cargohold/core/FileSource", {
  defaultValue: (): FileSourceService => unsupportedFileSource
}) {}
