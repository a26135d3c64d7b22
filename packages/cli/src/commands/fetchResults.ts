/**
 * How `fetch` reports each artifact on stdout: one tab-separated line (`status sha256 size path url`, then
 * `from URL` when another URL served the bytes, `saved FILE` for -o/--output-dir, or the error) or, with `--json`,
 * one object per line.
 */
import { type BatchResult, redactUrl, type StorageService } from "@cargohold/core"
import { Option } from "effect"

/** One line of `--json` output. */
export interface FetchResultJson {
  /** The URL that was asked for. */
  readonly url: string
  /** The manifest line the request came from (`-i FILE`). */
  readonly line?: number
  readonly status: "ok" | "failed"
  readonly sha256?: string
  readonly size?: number
  readonly cached?: boolean
  /** The source answered 304 Not Modified: the stored artifact is still what the URL serves (no body read). */
  readonly notModified?: boolean
  /** Where the stored copy is: a local path, or the store's URL and key. */
  readonly path?: string
  /** The file written by -o / --output-dir. */
  readonly output?: string
  /** The URL that served the bytes (a mirror, or after redirects), when it is not `url`. */
  readonly servedBy?: string
  readonly error?: { readonly _tag: string; readonly message: string }
}

/** One artifact's outcome as reported. */
export interface Reported {
  readonly result: BatchResult
  /** The manifest line of the request. */
  readonly line?: number | undefined
  /** Where it is stored (when it is). */
  readonly path?: string | undefined
  /** The copy written out (-o / --output-dir), when it was. */
  readonly output?: string | undefined
  /** Why the copy could not be written out (the artifact itself is stored). */
  readonly outputError?: { readonly _tag: string; readonly message: string } | undefined
}

/** A local path for a stored object, else `store/key`. */
export const storedPath = (storage: StorageService, result: BatchResult & { readonly _tag: "Ok" }): string =>
  Option.getOrElse(storage.localPath(result.artifact.sha256), () => {
    const { store, key } = result.artifact.location
    return `${store.replace(/\/+$/, "")}/${key}`
  })

/** The URL that served the bytes, when it is not the one asked for. */
const servedBy = (result: BatchResult & { readonly _tag: "Ok" }): string | undefined =>
  result.artifact.cached || result.artifact.finalUrl === result.artifact.url ? undefined : result.artifact.finalUrl

const errorOf = (reported: Reported) =>
  reported.result._tag === "Failed"
    ? { _tag: reported.result.error._tag, message: reported.result.error.message }
    : reported.outputError

export const resultJson = (reported: Reported): FetchResultJson => {
  const { result } = reported
  const url = redactUrl(result.request.url)
  const where = reported.line === undefined ? {} : { line: reported.line }
  const error = errorOf(reported)
  const artifact =
    result._tag === "Ok"
      ? {
          sha256: result.artifact.sha256,
          size: result.artifact.size,
          cached: result.artifact.cached,
          ...(result.artifact.notModified === true ? { notModified: true } : {}),
          ...(reported.path === undefined ? {} : { path: reported.path }),
          ...(reported.output === undefined ? {} : { output: reported.output }),
          ...(servedBy(result) === undefined ? {} : { servedBy: servedBy(result) })
        }
      : {}
  return error === undefined
    ? { url, ...where, status: "ok", ...artifact }
    : { url, ...where, status: "failed", ...artifact, error }
}

/** `fetched|stored|unchanged|failed  sha256  size  path  url  [from URL] [saved FILE] [Tag: message]`, tab-separated. */
export const resultLine = (reported: Reported): string => {
  const { result } = reported
  const url = redactUrl(result.request.url)
  const error = errorOf(reported)
  if (result._tag === "Failed") return ["failed", "-", "-", "-", url, `${error!._tag}: ${error!.message}`].join("\t")
  const { artifact } = result
  const status = error !== undefined ? "failed" : artifact.notModified === true ? "unchanged" : artifact.cached ? "stored" : "fetched"
  const fields = [status, artifact.sha256, String(artifact.size), reported.path ?? "-", url]
  const from = servedBy(result)
  if (from !== undefined) fields.push(`from ${from}`)
  if (reported.output !== undefined) fields.push(`saved ${reported.output}`)
  if (error !== undefined) fields.push(`${error._tag}: ${error.message}`)
  return fields.join("\t")
}
