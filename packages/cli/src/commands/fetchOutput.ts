/**
 * `fetch -o FILE` (one artifact) and `fetch --output-dir DIR` (any number): a copy of each stored artifact at the
 * target, through the same verified export as `cargohold export` (core's `exportTo` into `fileTarget`): bytes from
 * a healthy stored copy, re-hashed on the way, into a temp file beside the target that is fsynced and renamed over
 * it only once they verified — so the target is either the whole right file or untouched.
 *
 * From a local store, the copy is first made by the kernel — `copyFile` with COPYFILE_FICLONE: a reflink (shared
 * extents, copy-on-write: no data written) where the filesystem can (btrfs, XFS), else an in-kernel copy — into
 * the temp file, which is then re-hashed, fsynced and renamed; if that fails or does not verify, the streamed
 * export above does the job (and marks a corrupt stored copy as such).
 *
 * Not a hard link, although it would cost nothing: it would share the store object's inode, so a user editing or
 * truncating "their" file would corrupt the store (and get its read-only 0444 mode). A reflink shares no inode.
 */
import { exportTo, type Sha256 } from "@cargohold/core"
import type { NodeServices } from "@cargohold/node"
// Not from the package's root: a static import of it would evaluate all of @cargohold/node (undici, the layers) at
// every start-up of the bundle, `--version` included; the root is loaded when a command needs it (env.ts).
import { makeDirectories } from "@cargohold/node/directories"
import { Effect, Option, Schema } from "effect"
import { randomBytes, createHash } from "node:crypto"
import { constants, createReadStream, statSync } from "node:fs"
import { chmod, copyFile, open, rename, rm } from "node:fs/promises"
import { basename, dirname, join, resolve } from "node:path"
import { UsageError } from "../errors.js"
import { fileTarget } from "./exportFile.js"

/** The copy out of the store could not be written (the artifact itself is stored and catalogued). */
export class OutputError extends Schema.TaggedError<OutputError>()("OutputError", { message: Schema.String }) {}

export interface OutputFlags {
  readonly output: Option.Option<string>
  readonly outputDir: Option.Option<string>
}

/** A file name from a URL's last path segment; undefined when it has none usable. */
export const fileNameOf = (url: string): string | undefined => {
  let segment: string
  try {
    const parsed = new URL(url)
    segment = decodeURIComponent(parsed.pathname.replace(/\/+$/, "").split("/").pop() ?? "")
  } catch {
    return undefined
  }
  return segment === "" || segment === "." || segment === ".." || /[/\\\0]/.test(segment) ? undefined : segment
}

/**
 * Where each request's copy goes (by index), checked before anything is fetched: -o needs exactly one artifact;
 * --output-dir names each file after its URL and refuses two requests that would write the same file.
 */
export const outputTargets = (
  flags: OutputFlags,
  urls: ReadonlyArray<string>
): Effect.Effect<((index: number) => string | undefined) | undefined, UsageError> =>
  Effect.suspend(() => {
    const usage = (message: string) => Effect.fail(new UsageError({ message }))
    if (Option.isSome(flags.output) && Option.isSome(flags.outputDir)) return usage("give -o FILE or --output-dir DIR, not both")
    if (Option.isSome(flags.output)) {
      if (urls.length !== 1) return usage(`-o FILE writes one artifact: give exactly one URL (got ${urls.length}); --output-dir DIR takes many`)
      const file = resolve(flags.output.value)
      if (isDirectory(file)) return usage(`-o ${flags.output.value} is a folder; use --output-dir for a folder`)
      if (!isDirectory(dirname(file))) return usage(`-o ${flags.output.value}: folder ${dirname(file)} does not exist`)
      return Effect.succeed(() => file)
    }
    if (Option.isNone(flags.outputDir)) return Effect.succeed(undefined)
    const dir = resolve(flags.outputDir.value)
    const names = new Map<string, number>()
    const files: Array<string> = []
    for (const [index, url] of urls.entries()) {
      const name = fileNameOf(url)
      if (name === undefined) return usage(`--output-dir: ${url} has no file name to save it under`)
      const first = names.get(name)
      if (first !== undefined) return usage(`--output-dir: ${urls[first]} and ${url} would both be saved as ${name}`)
      names.set(name, index)
      files.push(join(dir, name))
    }
    return Effect.tryPromise({
      try: () => makeDirectories(dir),
      catch: (error) =>
        new UsageError({ message: `--output-dir: cannot create ${dir}: ${error instanceof Error ? error.message : String(error)}` })
    }).pipe(Effect.as((index: number) => files[index]))
  })

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** Clones (or kernel-copies) `source` to a temp file beside `file`, verifies it, fsyncs and renames it; false if not. */
const cloneVerified = async (source: string, file: string, sha256: string, size: number): Promise<boolean> => {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.part`)
  let renamed = false
  try {
    await copyFile(source, temp, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL)
    await chmod(temp, 0o644) // the store's objects are read-only; the user's copy is theirs
    const hash = createHash("sha256")
    let bytes = 0
    for await (const chunk of createReadStream(temp)) {
      hash.update(chunk as Buffer)
      bytes += (chunk as Buffer).length
    }
    if (bytes !== size || hash.digest("hex") !== sha256) return false
    const handle = await open(temp, "r+")
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
    renamed = true
    return true
  } catch {
    return false
  } finally {
    if (!renamed) await rm(temp, { force: true }).catch(() => undefined)
  }
}

/** Writes the stored artifact to `file`, verified; the file appears only whole. */
export const saveCopy = (
  artifact: { readonly sha256: Sha256; readonly size: number },
  localPath: string | undefined,
  file: string
): Effect.Effect<string, OutputError, NodeServices> =>
  Effect.gen(function* () {
    const cloned =
      localPath !== undefined && (yield* Effect.promise(() => cloneVerified(localPath, file, artifact.sha256, artifact.size)))
    if (cloned) return file
    return yield* exportTo(artifact.sha256, fileTarget(file)).pipe(
      Effect.as(file),
      Effect.mapError((error) => new OutputError({ message: `stored, but not saved as ${file}: ${error.message}` }))
    )
  })
