/**
 * Request targets to routes, refusing every path trick before anything is looked up: `.` and `..` segments (raw or
 * percent-encoded), encoded slashes and backslashes, NUL and other control characters, empty segments, targets
 * that are not origin-form (`http://…`, `*`), malformed percent-encoding. The check is on the decoded segments,
 * so `%2e%2e`, `%2f`, `%5c` and `%00` meet the same rules as what they stand for.
 */
import { Schema } from "effect"
import { Sha256 } from "../domain/digest.js"
import { RepositoryName, UnitPath, unitPathProblem, VersionNumber, type VersionSelector } from "../repository/schema.js"

export type Route =
  /** `/`: the list of repositories. */
  | { readonly _tag: "Index" }
  /** `/sha256/HEX`. */
  | { readonly _tag: "Address"; readonly sha256: Sha256 }
  /** `/NAME[@VERSION]/PATH`. */
  | { readonly _tag: "Unit"; readonly name: RepositoryName; readonly version: VersionSelector; readonly path: UnitPath; readonly base: string }
  /** `/NAME[@VERSION]/` or `/NAME[@VERSION]/FOLDER/`: a listing. */
  | { readonly _tag: "Folder"; readonly name: RepositoryName; readonly version: VersionSelector; readonly folder: string; readonly base: string }
  /** `/NAME[@VERSION]` without the slash: redirected to the listing. */
  | { readonly _tag: "Redirect"; readonly location: string }
  | { readonly _tag: "Refused"; readonly status: 400 | 404; readonly reason: string }

const refused = (reason: string, status: 400 | 404 = 400): Route => ({ _tag: "Refused", status, reason })
const isName = Schema.is(RepositoryName)

/** The segments of an origin-form path, decoded and checked; a string says why it is refused. */
const segmentsOf = (rawPath: string): ReadonlyArray<string> | string => {
  const out: Array<string> = []
  const raw = rawPath.split("/").slice(1)
  for (let i = 0; i < raw.length; i++) {
    const segment = raw[i]!
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      return "malformed percent-encoding"
    }
    if (decoded.includes("/")) return "an encoded '/' in a path segment"
    if (decoded.includes("\\")) return "a backslash in the path"
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
    if (/[\u0000-\u001f\u007f]/.test(decoded)) return "a control character in the path"
    if (decoded === "." || decoded === "..") return `a '${decoded}' segment`
    if (decoded === "" && i < raw.length - 1) return "an empty path segment"
    out.push(decoded)
  }
  return out
}

/** Percent-encodes each segment of a path for a URL (what listings link to, and redirects send). */
export const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/")

/** The route of a request target (`request.url` as the server received it). */
export const parseTarget = (target: string): Route => {
  if (!target.startsWith("/")) return refused("the request target must be a path (origin-form)")
  if (target.length > 8192) return refused("the request target is too long")
  const cut = target.search(/[?#]/)
  const rawPath = cut === -1 ? target : target.slice(0, cut)
  if (rawPath === "/") return { _tag: "Index" }
  const segments = segmentsOf(rawPath)
  if (typeof segments === "string") return refused(segments)
  const [head, ...rest] = segments as [string, ...Array<string>]
  if (head === "sha256") {
    const hex = rest[0]?.toLowerCase() ?? ""
    return rest.length === 1 && /^[0-9a-f]{64}$/.test(hex) ? { _tag: "Address", sha256: Sha256.make(hex) } : refused("expected /sha256/ and 64 hexadecimal characters", 404)
  }
  const at = head.lastIndexOf("@")
  const name = at === -1 ? head : head.slice(0, at)
  const rawVersion = at === -1 ? undefined : head.slice(at + 1)
  if (!isName(name)) return refused(`no repository named '${name}'`, 404)
  let version: VersionSelector = "latest"
  if (rawVersion !== undefined) {
    if (rawVersion === "latest") version = "latest"
    else if (/^\d{1,15}$/.test(rawVersion)) version = VersionNumber.make(Number(rawVersion))
    else return refused(`'${rawVersion}' is not a version number`, 404)
  }
  const base = `/${encodeURIComponent(head)}/`
  if (rest.length === 0) return { _tag: "Redirect", location: base }
  const last = rest[rest.length - 1]!
  if (last === "") {
    const folder = rest.slice(0, -1).join("/")
    if (folder !== "" && unitPathProblem(folder) !== undefined) return refused(unitPathProblem(folder)!)
    return { _tag: "Folder", name, version, folder, base }
  }
  const path = rest.join("/")
  const problem = unitPathProblem(path)
  if (problem !== undefined) return refused(problem)
  return { _tag: "Unit", name, version, path: UnitPath.make(path), base }
}
