/**
 * The code cache file next to the bundle (`cargohold.cjs.cache`): a header line, a JSON line describing what the
 * cache was made for, then V8's cache bytes.
 *
 * V8 checks a cache only loosely before using it: its own version, a hash of the flags, the *length* of the source
 * and, in release builds, no checksum of the payload. A cache whose bytes were damaged (a truncated copy, a disk
 * error) can crash Node 20 while it is deserialized, and a cache made for another bundle of the same length would be
 * used for the wrong code. So the loader checks, before V8 sees the bytes: the payload's sha256 and length, the
 * bundle's sha256, and the Node/V8 version, platform and command-line flags the cache was made under. Anything that
 * does not match is ignored, and the CLI compiles the bundle as if there were no cache.
 */
import { createHash } from "node:crypto"
import { readFileSync, renameSync, writeFileSync } from "node:fs"

/** The first line of a cache file; the number is the layout's version. */
const magic = "cargohold-code-cache 1\n"

/** What a cache was made for; a cache is used only where all of it is the same. */
export interface CacheOrigin {
  readonly node: string
  readonly v8: string
  readonly platform: string
  readonly arch: string
  /** The node command-line flags (`process.execArgv`) and NODE_OPTIONS: both can set V8 flags. */
  readonly execArgv: ReadonlyArray<string>
  readonly nodeOptions: string
  /** sha256 of the bundle's source the cache was made from */
  readonly bundleSha256: string
}

interface Header extends CacheOrigin {
  readonly cacheSha256: string
  readonly cacheBytes: number
}

export const sha256Hex = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")

/** The cache file of a bundle. */
export const codeCachePath = (bundlePath: string): string => `${bundlePath}.cache`

/** This process's origin, for a bundle whose source has the sha256 `bundleSha256`. */
export const currentOrigin = (bundleSha256: string): CacheOrigin => ({
  node: process.version,
  v8: process.versions.v8,
  platform: process.platform,
  arch: process.arch,
  execArgv: [...process.execArgv],
  nodeOptions: process.env.NODE_OPTIONS ?? "",
  bundleSha256
})

/** The first field of `expected` that `actual` differs in, or undefined when they are the same. */
const mismatch = (expected: CacheOrigin, actual: CacheOrigin): string | undefined => {
  if (actual.bundleSha256 !== expected.bundleSha256) return "made for another bundle"
  if (actual.node !== expected.node || actual.v8 !== expected.v8) return `made by node ${actual.node} (V8 ${actual.v8})`
  if (actual.platform !== expected.platform || actual.arch !== expected.arch) return `made on ${actual.platform}-${actual.arch}`
  if (actual.execArgv.join("\0") !== expected.execArgv.join("\0") || actual.nodeOptions !== expected.nodeOptions) {
    return "made under other node flags"
  }
  return undefined
}

const isHeader = (value: unknown): value is Header => {
  if (typeof value !== "object" || value === null) return false
  const v = value as Record<string, unknown>
  const strings = ["node", "v8", "platform", "arch", "nodeOptions", "bundleSha256", "cacheSha256"] as const
  return (
    strings.every((key) => typeof v[key] === "string") &&
    typeof v.cacheBytes === "number" &&
    Array.isArray(v.execArgv) &&
    v.execArgv.every((flag) => typeof flag === "string")
  )
}

/** The outcome of reading a cache file: V8's bytes, or why there are none to use. */
export type CacheRead = { readonly _tag: "Found"; readonly data: Buffer } | { readonly _tag: "Ignored"; readonly why: string }

/** Reads and checks the cache at `path` for a process whose origin is `expected`; never throws. */
export const readCodeCache = (path: string, expected: CacheOrigin): CacheRead => {
  let file: Buffer
  try {
    file = readFileSync(path)
  } catch {
    return { _tag: "Ignored", why: "no cache file" }
  }
  try {
    if (file.subarray(0, magic.length).toString("latin1") !== magic) return { _tag: "Ignored", why: "not a cache file" }
    const end = file.indexOf(0x0a, magic.length)
    if (end < 0) return { _tag: "Ignored", why: "damaged header" }
    const header: unknown = JSON.parse(file.subarray(magic.length, end).toString("utf8"))
    if (!isHeader(header)) return { _tag: "Ignored", why: "damaged header" }
    const differs = mismatch(expected, header)
    if (differs !== undefined) return { _tag: "Ignored", why: differs }
    const data = file.subarray(end + 1)
    if (data.length !== header.cacheBytes || sha256Hex(data) !== header.cacheSha256) {
      return { _tag: "Ignored", why: "damaged (its sha256 does not match)" }
    }
    return { _tag: "Found", data }
  } catch {
    return { _tag: "Ignored", why: "damaged header" }
  }
}

/** Writes V8's cache bytes with their header to `path`, whole or not at all (a temporary file, then a rename). */
export const writeCodeCache = (path: string, data: Uint8Array, origin: CacheOrigin): void => {
  const header: Header = { ...origin, cacheSha256: sha256Hex(data), cacheBytes: data.length }
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, Buffer.concat([Buffer.from(`${magic}${JSON.stringify(header)}\n`, "utf8"), data]))
  renameSync(temporary, path)
}
