/**
 * `cargohold … --help`: one page per command, built from what the commands declare to @effect/cli
 * (`Command.withDescription`, `Options.withDescription`, `Args.withDescription`, pseudo names) through the library's
 * public `Command.getHelp` / `Command.getUsage`, laid out compactly: usage lines that say `cargohold …` and wrap at
 * the terminal's width (80 columns off a terminal), one line per option, the command's own notes (exit codes,
 * manifest formats), and colour only on a terminal without NO_COLOR.
 */
import { CliConfig, Command, type HelpDoc, Usage } from "@effect/cli"
import { authored, blocksOf, bold, definitionRows, fill, paragraphs, type Style, spanText, usageTokens, wrap } from "./text.js"

/** A titled block of the page: rows (`term  text`) or paragraphs. */
export interface HelpNote {
  readonly title: string
  readonly rows?: ReadonlyArray<readonly [string, string]>
  readonly text?: ReadonlyArray<string>
}

/** One command of the tree, with what its page adds to the library's description of it. */
export interface HelpNode {
  readonly name: string
  readonly help: () => HelpDoc.HelpDoc
  readonly usage: () => ReadonlyArray<string>
  readonly children: ReadonlyArray<HelpNode>
  readonly notes: ReadonlyArray<HelpNote>
}

/** The library's own help without its built-ins (--wizard, --completions, --log-level): the page lists its own. */
const config: CliConfig.CliConfig = { ...CliConfig.defaultConfig, showBuiltIns: false }

export const helpNode = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  options: { readonly children?: ReadonlyArray<HelpNode>; readonly notes?: ReadonlyArray<HelpNote> } = {}
): HelpNode => {
  const usage = () => Usage.enumerate(Command.getUsage(command), config).map(spanText)
  return {
    name: usageTokens(usage()[0] ?? "")[0] ?? "",
    help: () => Command.getHelp(command, config),
    usage,
    children: options.children ?? [],
    notes: options.notes ?? []
  }
}

/** The sections of a command's HelpDoc by header: DESCRIPTION, ARGUMENTS, OPTIONS (COMMANDS is laid out here). */
const sections = (doc: HelpDoc.HelpDoc): Map<string, Array<HelpDoc.HelpDoc>> => {
  const out = new Map<string, Array<HelpDoc.HelpDoc>>()
  let current: Array<HelpDoc.HelpDoc> | undefined
  for (const block of blocksOf(doc)) {
    if (block._tag === "Header") {
      current = []
      out.set(spanText(block.value).trim().toUpperCase(), current)
    } else current?.push(block)
  }
  return out
}

/** `term → description` for each entry of the description lists of a section. */
const definitions = (blocks: ReadonlyArray<HelpDoc.HelpDoc>): Array<readonly [string, string]> =>
  blocks.flatMap((block) =>
    block._tag === "DescriptionList"
      ? block.definitions.map(([term, entry]) => [spanText(term).replace(/^\((.*)\)$/, "$1"), authored(entry).join(" ")] as const)
      : []
  )

/** The description a command gave itself. */
export const describe = (node: HelpNode): string => textOf(sections(node.help()).get("DESCRIPTION")).join(" ")

const textOf = (blocks: ReadonlyArray<HelpDoc.HelpDoc> | undefined): Array<string> => (blocks ?? []).flatMap(paragraphs)

/** Every option and argument of `node` with what it says about itself (for tests: none may be empty). */
export const described = (node: HelpNode): Array<readonly [string, string]> => {
  const parts = sections(node.help())
  return [...definitions(parts.get("ARGUMENTS") ?? []), ...definitions(parts.get("OPTIONS") ?? [])]
}

const heading = (title: string, style: Style) => bold(`${title}:`, style)

/** The help page of the command at `path` (root first). */
export const renderPage = (path: ReadonlyArray<HelpNode>, style: Style): string => {
  const node = path[path.length - 1]!
  const prefix = path.slice(0, -1).map((n) => n.name)
  const parts = sections(node.help())
  const out: Array<string> = []
  const lead = "Usage: "
  const usages =
    node.children.length > 0 ? [`${[...prefix, node.name].join(" ")} COMMAND [options] [arguments]`] : node.usage().map((u) => [...prefix, u].join(" "))
  usages.forEach((usage, i) => {
    const [first, ...rest] = fill(usageTokens(usage), style.width - lead.length, [...prefix, node.name].join(" ").length + 1)
    out.push(`${i === 0 ? heading("Usage", style) : " ".repeat(lead.length - 1)} ${first ?? ""}`)
    for (const line of rest) out.push(`${" ".repeat(lead.length)}${line}`)
  })
  const description = textOf(parts.get("DESCRIPTION"))
  if (description.length > 0) out.push("", ...description.flatMap((p) => wrap(p, style.width)))
  const args = definitions(parts.get("ARGUMENTS") ?? [])
  if (args.length > 0) out.push("", heading("Arguments", style), ...definitionRows(args, style))
  const options: Array<readonly [string, string]> = [
    ...definitions(parts.get("OPTIONS") ?? []),
    ["-h, --help", "show this help and exit"],
    ...(path.length === 1 ? [["--version", "print the version and exit"] as const] : [])
  ]
  out.push("", heading("Options", style), ...definitionRows(options, style))
  if (node.children.length > 0) {
    out.push("", heading("Commands", style), ...definitionRows(node.children.map((child) => [child.name, describe(child)] as const), style, 14))
  }
  for (const note of node.notes) {
    out.push("", heading(note.title, style))
    if (note.rows !== undefined) out.push(...definitionRows(note.rows, style, 14))
    for (const text of note.text ?? []) out.push(...wrap(text, style.width - 2).map((line) => `  ${line}`))
  }
  if (node.children.length > 0) out.push("", `Run '${[...prefix, node.name, "COMMAND"].join(" ")} --help' for the options of one command.`)
  return `${out.join("\n")}\n`
}

/**
 * The path of commands a `--help` request names: the leading arguments that are command names, from the root.
 * Undefined when there is no `-h`/`--help` (and arguments were given: a bare `cargohold` gets the root page).
 */
export const helpPath = (root: HelpNode, args: ReadonlyArray<string>): ReadonlyArray<HelpNode> | undefined => {
  if (args.length > 0 && !args.some((arg) => arg === "--help" || arg === "-h")) return undefined
  const path = [root]
  for (const arg of args) {
    const next = path[path.length - 1]!.children.find((child) => child.name === arg)
    if (next === undefined) break
    path.push(next)
  }
  return path
}

/** Colour on a terminal unless NO_COLOR is set to anything (https://no-color.org); width from the terminal. */
export const styleFor = (stream: { readonly isTTY?: boolean; readonly columns?: number }, env: NodeJS.ProcessEnv): Style => {
  const tty = stream.isTTY === true
  const width = tty && stream.columns !== undefined && stream.columns > 0 ? stream.columns : 80
  return { color: tty && (env.NO_COLOR ?? "") === "", width: Math.max(40, Math.min(100, width)) }
}
