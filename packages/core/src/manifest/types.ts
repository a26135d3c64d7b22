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
 * A manifest's text: the whole string, or a way to read it again in chunks (a file read from its start at each
 * call, so a long manifest need not be held while its batch runs). Chunks split anywhere, lines included.
 */
export type ManifestText = string | (() => Iterable<string>)

/** The text in one string (Metalink is one XML document, parsed whole). */
export const wholeText = (text: ManifestText): string => (typeof text === "string" ? text : Array.from(text()).join(""))

/**
 * The lines of a line-oriented manifest that carry content, with their 1-based numbers (blank and `#` lines
 * skipped). Read as they are pulled: no array of every line (a long manifest is read more than once, see
 * parse.ts). A leading byte-order mark is whitespace to `trim`.
 */
export function* contentLines(text: ManifestText): Generator<{ readonly line: number; readonly content: string }> {
  let line = 0
  let carry = ""
  for (const chunk of typeof text === "string" ? [text] : text()) {
    let start = 0
    for (let end = chunk.indexOf("\n"); end !== -1; end = chunk.indexOf("\n", start)) {
      line += 1
      const content = (carry + chunk.slice(start, end)).trim()
      carry = ""
      if (content !== "" && !content.startsWith("#")) yield { line, content }
      start = end + 1
    }
    carry += chunk.slice(start)
  }
  // the last line, with or without its newline (a text ending in one has an empty last line, as before)
  line += 1
  const content = carry.trim()
  if (content !== "" && !content.startsWith("#")) yield { line, content }
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
