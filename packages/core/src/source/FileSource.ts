/**
 * Reading `file://` sources. The core cannot touch a filesystem; platform packages provide one.
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

export interface FileSourceService {
  /**
   * Opens a local file for reading. Fails with `InvalidRequest` when the path is outside the allowed roots,
   * missing or not a regular file.
   */
  readonly open: (url: string, offset: number) => Effect.Effect<OpenedFile, InvalidRequest>
}

export const unsupportedFileSource: FileSourceService = {
  open: (url) => Effect.fail(new InvalidRequest({ url, reason: "file:// sources need a platform layer (e.g. @cargohold/node)" }))
}

export class FileSource extends Context.Reference<FileSource>()("@cargohold/core/FileSource", {
  defaultValue: (): FileSourceService => unsupportedFileSource
}) {}
