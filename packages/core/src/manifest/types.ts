/**
 * What manifest parsers produce, before the common validation.
 */
import type { ParseResult } from "effect"
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

/** What a parser reads from a manifest, one at a time. */
export type ManifestItem =
  | { readonly _tag: "entry"; readonly entry: ManifestEntry }
  | { readonly _tag: "problem"; readonly problem: ManifestProblem }
  | { readonly _tag: "warning"; readonly warning: ManifestProblem }

/**
 * The lines of a line-oriented manifest that carry content, with their 1-based numbers (blank and `#` lines
 * skipped). Read as they are pulled: no array of every line (a long manifest is read more than once, see
 * parse.ts).
 */
export function* contentLines(text: string): Generator<{ readonly line: number; readonly content: string }> {
  let line = 0
  for (let start = 0; start <= text.length; ) {
    const end = text.indexOf("\n", start)
    const stop = end === -1 ? text.length : end
    line += 1
    const content = text.slice(start, stop).trim()
    if (content !== "" && !content.startsWith("#")) yield { line, content }
    if (end === -1) break
    start = end + 1
  }
}

export const emptyRaw = (): RawManifest => ({ entries: [], problems: [], warnings: [] })

/** Every item of a parser, gathered. */
export const collectRaw = (items: Iterable<ManifestItem>): RawManifest => {
  const out = emptyRaw()
  for (const item of items) {
    if (item._tag === "entry") out.entries.push(item.entry)
    else if (item._tag === "problem") out.problems.push(item.problem)
    else out.warnings.push(item.warning)
  }
  return out
}

/** A parser's gathered result, item by item (for parsers that read the whole document at once). */
export function* itemsOf(raw: RawManifest): Generator<ManifestItem> {
  for (const problem of raw.problems) yield { _tag: "problem", problem }
  for (const warning of raw.warnings) yield { _tag: "warning", warning }
  for (const entry of raw.entries) yield { _tag: "entry", entry }
}

/** The most of one problem's text that is kept: a hostile line must not flood the terminal it is reported on. */
const problemChars = 300

/** C0 and C1 controls, DEL, line/paragraph separators and bidirectional overrides. */
const unsafe = (code: number): boolean =>
  code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029 ||
  (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)

/**
 * A problem's text fit for a terminal: clipped to `problemChars`, with control and bidirectional-override
 * characters escaped (a manifest's bytes must not drive the terminal they are reported on).
 */
export const printable = (text: string): string => {
  const kept = text.length <= problemChars ? text : text.slice(0, problemChars)
  let out = ""
  for (const char of kept) {
    const code = char.codePointAt(0)!
    out += unsafe(code) ? `\\u${code.toString(16).padStart(4, "0")}` : char
  }
  return kept === text ? out : `${out}… (${text.length - problemChars} more characters)`
}

/** A byte count's annotation in a manifest: one message whichever of its checks (integer, non-negative) fails. */
export const sizeMessage = {
  message: (issue: ParseResult.ParseIssue) => ({
    message: `must be a non-negative integer (got ${JSON.stringify(issue.actual) ?? String(issue.actual)})`,
    override: true
  })
}
