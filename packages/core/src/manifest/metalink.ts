/**
 * Metalink 4 (RFC 5854, `.meta4`): each `<file>` becomes one request with its `<size>`, `<hash>`es and `<url>`s.
 * RFC priorities run from 1 (most preferred) to 999999; cargohold's are higher-is-preferred, so a Metalink priority
 * p becomes 1_000_000 - p, and a `<url>` without one gets 0 (after every ranked one). `<metaurl>` (torrents and
 * the like) is ignored with a warning, as are hash types cargohold does not compute.
 */
import { redactUrl } from "../http/userinfo.js"
import { Either, Schema } from "effect"
import { XMLParser, XMLValidator } from "fast-xml-parser"
import type { ManifestProblem } from "../domain/errors.js"
import { type Algorithm, checkHexLength } from "../domain/digest.js"
import type { PieceDigests, SourceInput } from "../domain/request.js"
import { describeParseError } from "../domain/schemaIssues.js"
import { emptyRaw, type RawManifest, sizeMessage } from "./types.js"

interface XmlNode {
  readonly "#text"?: string
  readonly [key: string]: unknown
}

const arrayElements = new Set(["file", "url", "hash", "metaurl"])
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  alwaysCreateTextNode: true,
  captureMetaData: true,
  isArray: (name) => arrayElements.has(name)
})
const metaSymbol = XMLParser.getMetaDataSymbol() as unknown as symbol

const hashTypes: Readonly<Record<string, string>> = {
  "sha-256": "sha256",
  "sha-384": "sha384",
  "sha-512": "sha512",
  "sha-1": "sha1",
  md5: "md5"
}

const Size = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()).annotations(sizeMessage)
const MetalinkPriority = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 999_999))
const decodeSize = Schema.decodeUnknownEither(Size)
const decodePriority = Schema.decodeUnknownEither(MetalinkPriority)

/** 1-based line of a character offset. */
const lineIndex = (text: string): ((offset: number | undefined) => number) => {
  const starts = [0]
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1)
  return (offset) => {
    if (offset === undefined) return 1
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return lo + 1
  }
}

const asNodes = (value: unknown): ReadonlyArray<XmlNode> =>
  Array.isArray(value) ? (value as Array<XmlNode>) : value === undefined ? [] : [value as XmlNode]

const text = (node: XmlNode | undefined): string => (node?.["#text"] ?? "").trim()

const attribute = (node: XmlNode, name: string): string | undefined => {
  const value = node[`@_${name}`]
  return typeof value === "string" ? value.trim() : undefined
}

const PieceLength = Schema.NumberFromString.pipe(Schema.int(), Schema.positive())
const decodePieceLength = Schema.decodeUnknownEither(PieceLength)

/**
 * `<pieces length="L" type="sha-256"><hash>…</hash>…</pieces>`: one hash per L bytes, checked as each piece of a
 * segmented download completes. A type cargohold does not compute is ignored with a warning; a wrong count (it must
 * be ⌈size / L⌉) or malformed hex is a problem of the file.
 */
const readPieces = (
  file: XmlNode,
  name: string,
  size: number | undefined,
  warnings: Array<ManifestProblem>,
  problem: (node: XmlNode, message: string) => void,
  at: (node: XmlNode) => number
): PieceDigests | undefined => {
  const node = asNodes(file.pieces)[0]
  if (node === undefined) return undefined
  const type = (attribute(node, "type") ?? "").toLowerCase()
  const algorithm = hashTypes[type]
  if (algorithm === undefined) {
    warnings.push({ line: at(node), message: `file ${name}: <pieces type="${type}"> ignored (not computed)` })
    return undefined
  }
  const length = decodePieceLength(attribute(node, "length") ?? "")
  if (Either.isLeft(length)) {
    problem(node, "<pieces length> must be a positive integer")
    return undefined
  }
  const hashes = asNodes(node.hash).map((h) => text(h).toLowerCase())
  if (size === undefined) {
    problem(node, "<pieces> needs the file's <size>")
    return undefined
  }
  const expected = Math.ceil(size / length.right)
  if (hashes.length !== expected) {
    problem(node, `<pieces> has ${hashes.length} hashes; ${size} bytes in pieces of ${length.right} need ${expected}`)
    return undefined
  }
  const bad = hashes.findIndex((h) => !/^[0-9a-f]+$/.test(h) || checkHexLength(algorithm as Algorithm, h) !== undefined)
  if (bad !== -1) {
    problem(node, `<pieces> hash ${bad + 1} is not a ${algorithm} digest`)
    return undefined
  }
  return { algorithm, length: length.right, hashes }
}

/** Metalink priority → cargohold priority (higher is preferred). */
export const fromMetalinkPriority = (priority: number | undefined): number =>
  priority === undefined ? 0 : 1_000_000 - priority

/**
 * A document type declaration, anywhere: Metalink 4 has none, and one is how entity expansion (billion laughs) and
 * external entities get in. Refused before the parser sees the document, which would otherwise throw.
 */
const doctype = /<!(DOCTYPE|ENTITY)\b/i

export const parseMetalink = (input: string): RawManifest => {
  const out = emptyRaw()
  const declared = doctype.exec(input)
  if (declared !== null) {
    out.problems.push({
      line: lineIndex(input)(declared.index),
      message: `<!${declared[1]!.toUpperCase()}> is not allowed: Metalink 4 has no document type, and entities are never expanded`
    })
    return out
  }
  const valid = XMLValidator.validate(input)
  if (valid !== true) {
    out.problems.push({ line: valid.err.line, message: `not well-formed XML: ${valid.err.msg}` })
    return out
  }
  const lineOf = lineIndex(input)
  const at = (node: XmlNode): number => lineOf((node as Record<symbol, { startIndex?: number } | undefined>)[metaSymbol]?.startIndex)
  let document: Record<string, unknown>
  try {
    document = parser.parse(input) as Record<string, unknown>
  } catch (error) {
    // the validator passed it, the parser did not: still a manifest problem, never a crash
    out.problems.push({ line: 1, message: `not well-formed XML: ${error instanceof Error ? error.message : String(error)}` })
    return out
  }
  const root = document.metalink as XmlNode | undefined
  if (root === undefined || typeof root !== "object") {
    out.problems.push({ line: 1, message: "no <metalink> root element (is this a Metalink 4 file?)" })
    return out
  }
  const files = asNodes(root.file)
  if (files.length === 0) out.problems.push({ line: at(root), message: "<metalink> has no <file> element" })
  for (const file of files) {
    const line = at(file)
    const name = attribute(file, "name") ?? "(unnamed)"
    const problems: Array<ManifestProblem> = []
    const problem = (node: XmlNode, message: string) => problems.push({ line: at(node), message: `file ${name}: ${message}` })
    let size: number | undefined
    const sizeNode = asNodes(file.size)[0]
    if (sizeNode !== undefined) {
      const decoded = decodeSize(text(sizeNode))
      if (Either.isLeft(decoded)) problem(sizeNode, describeParseError(decoded.left, { subject: "<size>" }))
      else size = decoded.right
    }
    const digests: Record<string, string> = {}
    for (const hash of asNodes(file.hash)) {
      const type = (attribute(hash, "type") ?? "").toLowerCase()
      const algorithm = hashTypes[type]
      if (algorithm === undefined) {
        out.warnings.push({ line: at(hash), message: `file ${name}: <hash type="${type}"> ignored (not computed)` })
        continue
      }
      if (digests[algorithm] !== undefined && digests[algorithm] !== text(hash).toLowerCase()) {
        problem(hash, `two different ${type} hashes`)
      }
      digests[algorithm] = text(hash)
    }
    const pieces = readPieces(file, name, size, out.warnings, problem, at)
    const sources: Array<SourceInput & { readonly line: number }> = []
    for (const url of asNodes(file.url)) {
      const raw = attribute(url, "priority")
      let priority: number | undefined
      if (raw !== undefined) {
        const decoded = decodePriority(raw)
        if (Either.isLeft(decoded)) problem(url, `<url priority="${raw}"> must be an integer from 1 to 999999`)
        else priority = decoded.right
      }
      if (text(url) === "") problem(url, "empty <url>")
      else sources.push({ url: text(url), priority: fromMetalinkPriority(priority), line: at(url) })
    }
    for (const meta of asNodes(file.metaurl)) {
      out.warnings.push({ line: at(meta), message: `file ${name}: <metaurl> ignored (${redactUrl(text(meta))})` })
    }
    if (asNodes(file.url).length === 0) problem(file, "no <url> element")
    if (problems.length > 0) {
      out.problems.push(...problems)
      continue
    }
    // best first, so `url` is the preferred one (the order of trying is decided by priority anyway)
    sources.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))
    const [first, ...rest] = sources
    out.entries.push({
      line,
      name: attribute(file, "name"),
      request: {
        url: first!.url,
        priority: first!.priority,
        digests,
        size,
        ...(pieces === undefined ? {} : { pieces }),
        sources: rest.length > 0 ? rest.map(({ url, priority }) => ({ url, priority })) : undefined
      }
    })
  }
  return out
}
