/**
 * How `fetch` reports each artifact on stdout: one tab-separated line (`status sha256 size path url`, then where the
 * bytes came from when that is another URL, or the error) or, with `--json`, one object per line.
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
  /** Where the stored copy is: a local path, or the store's URL and key. */
  readonly path?: string
  /** The URL that served the bytes (a mirror, or after redirects), when it is not `url`. */
  readonly servedBy?: string
  readonly error?: { readonly _tag: string; readonly message: string }
}

/** A local path for a stored object, else `store/key`. */
export const storedPath = (storage: StorageService, result: BatchResult & { readonly _tag: "Ok" }): string =>
  Option.getOrElse(storage.localPath(result.artifact.sha256), () => {
    const { store, key } = result.artifact.location
    return `${store.replace(/\/+$/, "")}/${key}`
  })

export const resultJson = (result: BatchResult, line: number | undefined, path: string | undefined): FetchResultJson => {
  const url = redactUrl(result.request.url)
  const where = line === undefined ? {} : { line }
  if (result._tag === "Failed") {
    return { url, ...where, status: "failed", error: { _tag: result.error._tag, message: result.error.message } }
  }
  const { artifact } = result
  return {
    url,
    ...where,
    status: "ok",
    sha256: artifact.sha256,
    size: artifact.size,
    cached: artifact.cached,
    ...(path === undefined ? {} : { path }),
    ...(servedBy(result) === undefined ? {} : { servedBy: servedBy(result) })
  }
}

/** The URL that served the bytes, when it is not the one asked for. */
const servedBy = (result: BatchResult & { readonly _tag: "Ok" }): string | undefined =>
  result.artifact.cached || result.artifact.finalUrl === result.artifact.url ? undefined : result.artifact.finalUrl

/** `fetched|stored|failed  sha256  size  path  url  [from URL | Tag: message]`, tab-separated. */
export const resultLine = (result: BatchResult, path: string | undefined): string => {
  const url = redactUrl(result.request.url)
  if (result._tag === "Failed") return ["failed", "-", "-", "-", url, `${result.error._tag}: ${result.error.message}`].join("\t")
  const { artifact } = result
  const fields = [artifact.cached ? "stored" : "fetched", artifact.sha256, String(artifact.size), path ?? "-", url]
  const from = servedBy(result)
  if (from !== undefined) fields.push(`from ${from}`)
  return fields.join("\t")
}
