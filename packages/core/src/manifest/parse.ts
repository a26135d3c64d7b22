/**
 * `parseManifest`: reads a whole manifest and validates every request in it before anything is downloaded.
 * Either all requests come back, or a `ManifestError` listing every bad line or element with its line number.
 * `scanManifest` and `manifestEntries`: the same check keeping nothing, then the requests read again lazily —
 * from the text, or from a way to read it again in chunks (`ManifestText`), so not even the text is held.
 */
import { Effect } from "effect"
import { ManifestError, type ManifestProblem } from "../domain/errors.js"
import type { DownloadRequestInput } from "../domain/request.js"
import { requestedCandidates } from "../pipeline/sources.js"
import { jsonlItems } from "./jsonl.js"
import { linesItems } from "./lines.js"
import { parseMetalink } from "./metalink.js"
import {
  contentLines,
  itemsOf,
  type ManifestEntry,
  type ManifestFormat,
  type ManifestItem,
  type ManifestText,
  printable,
  wholeText
} from "./types.js"

export interface ParsedManifest {
  readonly format: ManifestFormat
  readonly requests: ReadonlyArray<DownloadRequestInput>
  /** Line of each request, same order. */
  readonly lines: ReadonlyArray<number>
  /** The name the manifest gives each request's file (Metalink's `name`), same order. */
  readonly names: ReadonlyArray<string | undefined>
  /** Things ignored on purpose (Metalink `<metaurl>`, unknown hash types). */
  readonly warnings: ReadonlyArray<ManifestProblem>
  /** Sum of the sizes given (requests without a size count 0). */
  readonly totalBytes: number
  /** True when every request gave its size. */
  readonly allSized: boolean
}

/** Guesses the format from the first meaningful character: `<` Metalink, `{` JSON Lines, else plain lines. */
export const detectFormat = (text: string): ManifestFormat => {
  const match = /^(?:\s*(?:#[^\n]*)?\n)*\s*(\S)/.exec(text.replace(/^\uFEFF/, ""))
  const first = match?.[1]
  return first === "<" ? "metalink" : first === "{" ? "jsonl" : "lines"
}

/** `detectFormat` for a text read in chunks: reads only up to its first line with content. */
const detectFormatIn = (text: ManifestText): ManifestFormat => {
  for (const { content } of contentLines(text)) return content.startsWith("<") ? "metalink" : content.startsWith("{") ? "jsonl" : "lines"
  return "lines"
}

/** The format a file name suggests, if any (`.meta4`/`.metalink`, `.jsonl`/`.ndjson`). */
export const formatFromName = (name: string): ManifestFormat | undefined => {
  const lower = name.toLowerCase()
  if (lower.endsWith(".meta4") || lower.endsWith(".metalink")) return "metalink"
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl"
  return undefined
}

/** A parser's items, read as they are pulled (Metalink is one XML document: parsed whole, then handed out). */
const readItems = (text: ManifestText, format: ManifestFormat): Iterable<ManifestItem> => {
  switch (format) {
    case "lines":
      return linesItems(text)
    case "jsonl":
      return jsonlItems(text)
    case "metalink":
      return itemsOf(parseMetalink(wholeText(text).replace(/^\uFEFF/, "")))
  }
}

/** What a validated manifest amounts to, without its requests. */
export interface ManifestScan {
  readonly format: ManifestFormat
  /** Requests in the manifest (every one valid). */
  readonly count: number
  readonly warnings: ReadonlyArray<ManifestProblem>
  /** Sum of the sizes given (requests without a size count 0). */
  readonly totalBytes: number
  /** True when every request gave its size. */
  readonly allSized: boolean
}

/**
 * Reads `text` once, validating every request; hands each valid entry to `keep`. Fails with every problem when
 * there is any (after reading everything); `keep` may then have seen some entries.
 */
const validateEach = (
  text: ManifestText,
  format: ManifestFormat | "auto",
  keep: (entry: ManifestEntry) => void
): Effect.Effect<ManifestScan, ManifestError> =>
  Effect.gen(function* () {
    const chosen = format !== "auto" ? format : typeof text === "string" ? detectFormat(text) : detectFormatIn(text)
    const problems: Array<ManifestProblem> = []
    const warnings: Array<ManifestProblem> = []
    let count = 0
    let totalBytes = 0
    let allSized = true
    for (const item of readItems(text, chosen)) {
      if (item._tag === "problem") problems.push(item.problem)
      else if (item._tag === "warning") warnings.push({ line: item.warning.line, message: printable(item.warning.message) })
      else {
        const { entry } = item
        const checked = yield* Effect.either(requestedCandidates(entry.request))
        if (checked._tag === "Left") {
          problems.push({ line: entry.line, message: checked.left.message })
          continue
        }
        count += 1
        if (entry.request.size === undefined) allSized = false
        else totalBytes += entry.request.size
        if (problems.length === 0) keep(entry)
      }
    }
    if (problems.length > 0) {
      problems.sort((a, b) => a.line - b.line)
      const shown = problems.map((p) => ({ line: p.line, message: printable(p.message) }))
      return yield* new ManifestError({ format: chosen, problems: shown })
    }
    if (count === 0 && chosen === "metalink") {
      return yield* new ManifestError({ format: chosen, problems: [{ line: 1, message: "no <file> to fetch" }] })
    }
    return { format: chosen, count, warnings, totalBytes, allSized }
  })

/** Parses and validates a manifest (`format` omitted or "auto": detected). */
export const parseManifest = (
  text: string,
  format: ManifestFormat | "auto" = "auto"
): Effect.Effect<ParsedManifest, ManifestError> =>
  Effect.suspend(() => {
    const requests: Array<DownloadRequestInput> = []
    const lines: Array<number> = []
    const names: Array<string | undefined> = []
    return Effect.map(
      validateEach(text, format, (entry) => {
        requests.push(entry.request)
        lines.push(entry.line)
        names.push(entry.name)
      }),
      ({ format, warnings, totalBytes, allSized }) => ({ format, requests, lines, names, warnings, totalBytes, allSized })
    )
  })

/**
 * Validates a whole manifest like `parseManifest`, but keeps none of its requests: for a caller that then reads
 * them again with `manifestEntries` as it needs them (memory stays flat however long the manifest).
 */
export const scanManifest = (text: ManifestText, format: ManifestFormat | "auto" = "auto"): Effect.Effect<ManifestScan, ManifestError> =>
  validateEach(text, format, () => undefined)

/**
 * The entries of a manifest `scanManifest` found valid, read again lazily as they are pulled (`format`: the one
 * the scan chose). Line-oriented formats keep nothing; Metalink is parsed whole.
 */
export function* manifestEntries(text: ManifestText, format: ManifestFormat): Generator<ManifestEntry> {
  for (const item of readItems(text, format)) if (item._tag === "entry") yield item.entry
}
