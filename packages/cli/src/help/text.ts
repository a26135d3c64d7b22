/**
 * Plain text (with optional ANSI styling) from @effect/cli's public help data types — `HelpDoc`, `Span`, `Usage` —
 * wrapped to a width. The library renders them only through @effect/printer-ansi, always with colour and without
 * wrapping usage lines; cargohold's help decides both itself (see page.ts).
 */
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"

export interface Style {
  readonly color: boolean
  readonly width: number
}

const sgr = (code: string, text: string, style: Style) => (style.color && text !== "" ? `\x1b[${code}m${text}\x1b[0m` : text)
export const bold = (text: string, style: Style): string => sgr("1", text, style)
export const dim = (text: string, style: Style): string => sgr("2", text, style)

/** A span's text (styling is applied by the page, to whole terms). */
export const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    case "Highlight":
    case "Strong":
    case "Weak":
      return spanText(span.value)
  }
}

/** The blocks of a doc in reading order (sequences flattened). */
export const blocksOf = (doc: HelpDoc.HelpDoc): Array<HelpDoc.HelpDoc> =>
  doc._tag === "Sequence" ? [...blocksOf(doc.left), ...blocksOf(doc.right)] : doc._tag === "Empty" ? [] : [doc]

/** The paragraphs' text of a doc, one string per paragraph. */
export const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> =>
  blocksOf(doc).flatMap((block) =>
    block._tag === "Paragraph" ? [spanText(block.value)] : block._tag === "Enumeration" ? block.elements.flatMap(paragraphs) : []
  )

/**
 * What the command's author wrote for one option or argument (`Options.withDescription`, `Args.withDescription`).
 * The library builds each entry as `((type ; description) ; note) ; note…`: a generic paragraph about the value's
 * type ("A user-defined piece of text.") first, then the author's description, then one note per modifier
 * ("This setting is optional.", "… may be repeated …") added on the right as the option is wrapped. The usage
 * term already says all of that (`[…]`, `...`), so only the description is kept.
 */
export const authored = (entry: HelpDoc.HelpDoc): Array<string> => {
  let node = entry
  while (node._tag === "Sequence" && node.left._tag === "Sequence") node = node.left
  return node._tag === "Sequence" && node.left._tag === "Paragraph" ? paragraphs(node.right) : []
}

/** Words of `text` in lines of at most `width` columns (a longer word stands on its own line). */
export const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  if (line !== "") lines.push(line)
  return lines
}

/** Splits a usage line at the spaces outside brackets, so `[--size N]` never breaks. */
export const usageTokens = (usage: string): Array<string> => {
  const tokens: Array<string> = []
  let depth = 0
  let current = ""
  for (const char of usage) {
    if (char === "[" || char === "(" || char === "<") depth++
    if (char === "]" || char === ")" || char === ">") depth = Math.max(0, depth - 1)
    if (char === " " && depth === 0) {
      if (current !== "") tokens.push(current)
      current = ""
    } else current += char
  }
  if (current !== "") tokens.push(current)
  return tokens
}

/** Tokens in lines of at most `width` columns; continuation lines indented by `indent`. */
export const fill = (tokens: ReadonlyArray<string>, width: number, indent: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const token of tokens) {
    if (line.trim() !== "" && line.length + 1 + token.length > width) {
      lines.push(line)
      line = `${" ".repeat(indent)}${token}`
    } else line = line === "" ? token : line.trim() === "" ? line + token : `${line} ${token}`
  }
  if (line.trim() !== "") lines.push(line)
  return lines
}

/** `term  description` rows: terms padded to a common column; a long term puts its description on the next line. */
export const definitionRows = (
  rows: ReadonlyArray<readonly [string, string]>,
  style: Style,
  maxTerm = 28
): Array<string> => {
  const column = Math.min(maxTerm, Math.max(0, ...rows.map(([term]) => term.length))) + 4
  const out: Array<string> = []
  for (const [term, description] of rows) {
    const text = wrap(description, Math.max(20, style.width - column))
    const head = `  ${term}`
    if (head.length + 2 <= column && text.length > 0) {
      out.push(`  ${bold(term, style)}${" ".repeat(column - head.length)}${text[0]}`)
      for (const line of text.slice(1)) out.push(`${" ".repeat(column)}${line}`)
    } else {
      out.push(`  ${bold(term, style)}`)
      for (const line of text) out.push(`${" ".repeat(column)}${line}`)
    }
  }
  return out
}
