/**
 * `parseManifest`: reads a whole manifest and validates every request in it before anything is downloaded.
 * Either all requests come back, or a `ManifestError` listing every bad line or element with its line number.
 */
import { Effect } from "effect"
import { ManifestError, type ManifestProblem } from "../domain/errors.js"
import type { DownloadRequestInput } from "../domain/request.js"
import { requestedCandidates } from "../pipeline/sources.js"
import { parseJsonl } from "./jsonl.js"
import { parseLines } from "./lines.js"
import { parseMetalink } from "./metalink.js"
import { type ManifestFormat, printable, type RawManifest } from "./types.js"

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

/** The format a file name suggests, if any (`.meta4`/`.metalink`, `.jsonl`/`.ndjson`). */
export const formatFromName = (name: string): ManifestFormat | undefined => {
  const lower = name.toLowerCase()
  if (lower.endsWith(".meta4") || lower.endsWith(".metalink")) return "metalink"
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl"
  return undefined
}

const readRaw = (text: string, format: ManifestFormat): RawManifest => {
  switch (format) {
    case "lines":
      return parseLines(text)
    case "jsonl":
      return parseJsonl(text)
    case "metalink":
      return parseMetalink(text)
  }
}

/** Parses and validates a manifest (`format` omitted or "auto": detected). */
export const parseManifest = (
  text: string,
  format: ManifestFormat | "auto" = "auto"
): Effect.Effect<ParsedManifest, ManifestError> =>
  Effect.gen(function* () {
    const body = text.replace(/^\uFEFF/, "")
    const chosen = format === "auto" ? detectFormat(body) : format
    const raw = readRaw(body, chosen)
    const problems = [...raw.problems]
    const requests: Array<DownloadRequestInput> = []
    const lines: Array<number> = []
    const names: Array<string | undefined> = []
    let totalBytes = 0
    let allSized = true
    for (const entry of raw.entries) {
      const checked = yield* Effect.either(requestedCandidates(entry.request))
      if (checked._tag === "Left") {
        problems.push({ line: entry.line, message: checked.left.message })
        continue
      }
      requests.push(entry.request)
      lines.push(entry.line)
      names.push(entry.name)
      if (entry.request.size === undefined) allSized = false
      else totalBytes += entry.request.size
    }
    if (problems.length > 0) {
      problems.sort((a, b) => a.line - b.line)
      const shown = problems.map((p) => ({ line: p.line, message: printable(p.message) }))
      return yield* new ManifestError({ format: chosen, problems: shown })
    }
    if (requests.length === 0 && chosen === "metalink") {
      return yield* new ManifestError({ format: chosen, problems: [{ line: 1, message: "no <file> to fetch" }] })
    }
    const warnings = raw.warnings.map((w) => ({ line: w.line, message: printable(w.message) }))
    return { format: chosen, requests, lines, names, warnings, totalBytes, allSized }
  })
