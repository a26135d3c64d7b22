/**
 * The plain manifest: one artifact per line, `URL [ALG:HEX]... [SIZE]`; `#` starts a comment line; blank lines
 * are skipped.
 */
import { Either, Schema } from "effect"
import { parseDigestSpec } from "../domain/request.js"
import { contentLines, collectRaw, type ManifestItem, type ManifestText, type RawManifest } from "./types.js"

const Size = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative(), Schema.lessThanOrEqualTo(Number.MAX_SAFE_INTEGER))
const decodeSize = Schema.decodeUnknownEither(Size)

/** The manifest's entries and problems one line at a time, as they are read (nothing kept). */
export function* linesItems(text: ManifestText): Generator<ManifestItem> {
  for (const { line, content } of contentLines(text)) {
    const [url, ...rest] = content.split(/\s+/)
    const digests: Record<string, string> = {}
    let size: number | undefined
    const problems: Array<string> = []
    for (const token of rest) {
      const digest = parseDigestSpec(token)
      if (digest !== undefined) {
        if (digests[digest.algorithm] !== undefined) problems.push(`${digest.algorithm} given twice`)
        digests[digest.algorithm] = digest.hex
        continue
      }
      if (/^\d+$/.test(token)) {
        const decoded = decodeSize(token)
        if (Either.isLeft(decoded)) problems.push(`size ${token} is too large`)
        else if (size !== undefined) problems.push(`size given twice (${size} and ${token})`)
        else size = decoded.right
        continue
      }
      if (/^-\d+$/.test(token)) problems.push(`size must be a non-negative integer (got ${token})`)
      else if (/^[A-Za-z0-9-]+[:=]/.test(token)) problems.push(`'${token}': a digest is ALG:HEX, with hexadecimal digits (e.g. sha256:9f86…)`)
      else problems.push(`'${token}' is neither a digest ALG:HEX (e.g. sha256:…) nor a size in bytes`)
    }
    if (problems.length > 0) {
      for (const message of problems) yield { _tag: "problem", problem: { line, message } }
      continue
    }
    yield { _tag: "entry", entry: { line, request: { url: url!, digests, size } } }
  }
}

export const parseLines = (text: string): RawManifest => collectRaw(linesItems(text))
