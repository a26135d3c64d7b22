/**
 * Writing to the terminal: results and JSON on stdout, human messages on stderr.
 */
import { Effect } from "effect"

/** A system error's text without the syscall noise: `no space left on device (ENOSPC)`. */
export const describeIoError = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code
  const message = error instanceof Error ? error.message : String(error)
  if (typeof code !== "string") return message
  // node's own text is `CODE: description, syscall [path]`: keep the description, name the code once
  const prefix = `${code}: `
  if (!message.startsWith(prefix)) return `${message} (${code})`
  const description = message.slice(prefix.length)
  const comma = description.lastIndexOf(", ")
  return `${comma > 0 ? description.slice(0, comma) : description} (${code})`
}

let outputFailed = false

/**
 * Standard output failed (a full disk behind `> file`, `/dev/full`, a closed pipe): a reader that went away
 * (EPIPE) ends the command quietly, as other Unix tools do; anything else is said once, in one line, exit 1.
 * Called from the stream's 'error' event and from write callbacks alike; only the first call counts.
 */
export const stdoutFailed = (error: unknown): void => {
  if (outputFailed) return
  outputFailed = true
  if ((error as { code?: unknown } | null)?.code === "EPIPE") process.exit(0)
  try {
    process.stderr.write(`cargohold: cannot write to standard output: ${describeIoError(error)}\n`)
  } finally {
    process.exit(1)
  }
}

/** One line on stdout. */
export const printOut = (line: string): Effect.Effect<void> => Effect.sync(() => void process.stdout.write(`${line}\n`))

/** One line on stderr. */
export const printErr = (line: string): Effect.Effect<void> => Effect.sync(() => void process.stderr.write(`${line}\n`))

/** One JSON object per line on stdout (undefined fields dropped). */
export const printJson = (value: unknown): Effect.Effect<void> => printOut(JSON.stringify(value))

/** Columns padded to their widest cell. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths: Array<number> = []
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  }
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
    .map((line) => line.trimEnd())
    .join("\n")
}
