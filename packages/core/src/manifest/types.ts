/**
 * What manifest parsers produce, before the common validation.
 */
import { ParseResult } from "effect"
import type { ManifestProblem } from "../domain/errors.js"
import type { DownloadRequestInput } from "../domain/request.js"

export type ManifestFormat = "lines" | "jsonl" | "metalink"

/** One request read from a manifest, with the line it starts on. */
export interface ManifestEntry {
  readonly line: number
  readonly request: DownloadRequestInput
  /** The name the manifest gives the file (Metalink's `name`), when it gives one. */
  readonly name?: string | undefined
}

export interface RawManifest {
  readonly entries: Array<ManifestEntry>
  readonly problems: Array<ManifestProblem>
  readonly warnings: Array<ManifestProblem>
}

/** The lines of a line-oriented manifest that carry content, with their 1-based numbers (blank and `#` lines skipped). */
export function* contentLines(text: string): Generator<{ readonly line: number; readonly content: string }> {
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const content = lines[i]!.trim()
    if (content !== "" && !content.startsWith("#")) yield { line: i + 1, content }
  }
}

export const emptyRaw = (): RawManifest => ({ entries: [], problems: [], warnings: [] })

/** Schema issues as short `path: message` strings. */
export const describeParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`))
    .join("; ")
