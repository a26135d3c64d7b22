/**
 * `fetch -o FILE` (one artifact) and `fetch --output-dir DIR` (any number): a copy of each stored artifact at the
 * target, through the same verified export as `cargohold export` (core's `exportTo` into `fileTarget`): bytes from
 * a healthy stored copy, re-hashed on the way, into a temp file beside the target that is fsynced and renamed over
 * it only once they verified — so the target is either the whole right file or untouched.
 *
 * Not a hard link, although it would cost nothing: it would share the store object's inode, so a user editing or
 * truncating "their" file would corrupt the store (and get its read-only 0444 mode).
 */
import { exportTo, type Sha256 } from "@cargohold/core"
import type { NodeServices } from "@cargohold/node"
import { Effect, Option, Schema } from "effect"
import { mkdirSync, statSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
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
    try {
      mkdirSync(dir, { recursive: true })
    } catch (error) {
      return usage(`--output-dir: cannot create ${dir}: ${error instanceof Error ? error.message : String(error)}`)
    }
    return Effect.succeed((index: number) => files[index])
  })

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** Writes the stored artifact to `file`, verified; the file appears only whole. */
export const saveCopy = (sha256: Sha256, file: string): Effect.Effect<string, OutputError, NodeServices> =>
  exportTo(sha256, fileTarget(file)).pipe(
    Effect.as(file),
    Effect.mapError((error) => new OutputError({ message: `stored, but not saved as ${file}: ${error.message}` }))
  )
