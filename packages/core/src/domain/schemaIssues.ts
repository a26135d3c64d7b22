/**
 * Schema decoding failures as sentences a user can act on: `size must be a non-negative integer (got -5)`, one per
 * problem, naming the field (`mirrors[0].url`) — instead of Schema's formatter trees (`Struct (Type side) └─ …`)
 * or its per-member union noise (`size: Expected undefined, actual -5`, which every optional field adds).
 */
import { ParseResult } from "effect"

export interface DescribeOptions {
  /** What a problem without a path is about (default "the value"). */
  readonly subject?: string | undefined
}

/** `["mirrors", 0, "url"]` → `mirrors[0].url`. */
export const fieldPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`),
    ""
  )

const shorten = (text: string, max = 60): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/** What Schema says a value should have been, in words (a long type literal becomes "an object"). */
const expectation = (expected: string): string => {
  const trimmed = expected.trim()
  if (trimmed.startsWith("{")) return "an object"
  if (trimmed.startsWith("ReadonlyArray<") || trimmed.startsWith("readonly [")) return "a list"
  if (/^(string|number|boolean|bigint|symbol|object)$/.test(trimmed)) return `${/^[aeiou]/.test(trimmed) ? "an" : "a"} ${trimmed}`
  return shorten(trimmed)
}

const sentence = (issue: ParseResult.ArrayFormatterIssue, subject: string): string | undefined => {
  const field = issue.path.length === 0 ? subject : fieldPath(issue.path)
  const last = issue.path[issue.path.length - 1]
  if (issue._tag === "Missing") {
    return typeof last === "number" && last === 0
      ? `${fieldPath(issue.path.slice(0, -1))} must not be empty`
      : `${field} is required`
  }
  if (issue._tag === "Unexpected") {
    const known = /expected: (.*)$/s.exec(issue.message)?.[1]
    const list = known === undefined ? "" : ` (known: ${known.replace(/"/g, "").split(/\s*\|\s*/).join(", ")})`
    return `${field} is not a known field${list}`
  }
  const expected = /^Expected ([\s\S]*), actual ([\s\S]*)$/.exec(issue.message)
  if (expected !== null) {
    // an optional field also "expected undefined": never what the user meant
    if (expected[1]!.trim() === "undefined") return undefined
    return `${field} must be ${expectation(expected[1]!)} (got ${shorten(expected[2]!, 40)})`
  }
  const undecodable = /^Unable to decode ([\s\S]*) into (an? [\s\S]*)$/.exec(issue.message)
  if (undecodable !== null) return `${field} must be ${undecodable[2]} (got ${shorten(undecodable[1]!, 40)})`
  // a message written for the schema (`must not be empty`, `must not contain a password…`)
  return `${field} ${issue.message}`
}

/** One sentence per problem of `error`, duplicates dropped. */
export const describeIssues = (error: ParseResult.ParseError, options: DescribeOptions = {}): Array<string> => {
  const subject = options.subject ?? "the value"
  const out: Array<string> = []
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const text = sentence(issue, subject)
    if (text !== undefined && !out.includes(text)) out.push(text)
  }
  return out.length > 0 ? out : [`${subject} is not valid`]
}

/** The problems of `error` as one line (`; `-separated). */
export const describeParseError = (error: ParseResult.ParseError, options: DescribeOptions = {}): string =>
  describeIssues(error, options).join("; ")
